/**
 * Flag parsing and command plumbing for the editor's commands: `--name value`, `--name=value`,
 * boolean `--name`. Kept local so the commands do not depend on another package's CLI internals.
 */

/** Where a command writes (structurally the registry's CliIO). */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}

/** One subcommand (structurally the registry's CliCommand). */
export interface EditorCommand {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[], io: CommandIO): Promise<number>;
}

/** Bad flags or arguments: exit code 2 with the usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagKind = 'string' | 'int' | 'bool';
export type Flags = Record<string, string | number | boolean | undefined>;

/** Parses argv against a spec; unknown, repeated or valueless flags and positionals are usage errors. */
export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, FlagKind>>): Flags {
  const out: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const kind = spec[name];
    if (kind === undefined) throw new UsageError(`unknown flag --${name}`);
    if (name in out) throw new UsageError(`--${name} is given twice`);
    if (kind === 'bool') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      value = argv[++i];
    }
    if (kind === 'int') {
      if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${name} must be a non-negative integer, got "${value}"`);
      out[name] = Number(value);
    } else out[name] = value;
  }
  return out;
}

/** A required string flag. */
export function need(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${name} is required`);
  return v;
}

/** An optional string flag. */
export function optional(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Builds a command with --help, usage errors (exit 2) and failures (exit 1, message on stderr). */
export function command(def: { name: string; summary: string; usage: string; flags: Record<string, FlagKind>;
  action(flags: Flags, io: CommandIO): Promise<number> }): EditorCommand {
  const usage = `usage: hiedit ${def.usage}`;
  return {
    name: def.name, summary: def.summary, usage,
    async run(argv, io) {
      if (argv.includes('--help') || argv.includes('-h')) {
        io.out(`${def.summary}\n${usage}\n`);
        return 0;
      }
      try {
        return await def.action(parseArgs(argv, def.flags), io);
      } catch (e) {
        io.err(`hiedit ${def.name}: ${e instanceof Error ? e.message : String(e)}\n`);
        if (e instanceof UsageError) {
          io.err(`${usage}\n`);
          return 2;
        }
        return 1;
      }
    },
  };
}
