/**
 * The command registry shared by `hiedit` and `hiedit-bench`, and a small strict flag parser.
 * Commands write through CliIO so tests can capture output; they return an exit code.
 */

/** Where a command writes. `out` is for results (e.g. JSON), `err` for diagnostics. */
export interface CliIO {
  out(s: string): void;
  err(s: string): void;
}

/** One subcommand. */
export interface CliCommand {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full usage text shown by `PROGRAM help NAME` and `PROGRAM NAME --help`. */
  usage: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

/**
 * Kinds of flag values the parser understands. `int` is a non-negative whole number written in decimal
 * digits (see {@link IntFlag} for other bounds); `number` is any finite decimal number (exponent allowed).
 */
export type FlagKind = 'string' | 'boolean' | 'number' | 'int' | 'int-list';

/**
 * An integer flag with bounds: `{ kind: 'int', min: 1 }`, `{ kind: 'int', min: 20, max: 5000 }`.
 * `min` defaults to 0. Values must be decimal digits (an optional leading `-`), so `0x10`, `1e3`, `1.5`
 * and `16 tokens` are refused rather than read as something else.
 */
export interface IntFlag {
  kind: 'int';
  min?: number;
  max?: number;
}

/** Flag name (without dashes) -> kind. */
export type FlagSpec = Record<string, FlagKind | IntFlag>;

/** The value type of each kind. */
type FlagValue<K> = K extends 'string'
  ? string
  : K extends 'boolean'
    ? boolean
    : K extends 'number' | 'int' | IntFlag
      ? number
      : number[];

/** Parsed flags: each present flag has its typed value; absent ones are undefined. */
export type ParsedFlags<S extends FlagSpec> = { [F in keyof S]?: FlagValue<S[F]> };

/** Thrown for bad command lines; runCli prints it with the usage and exits 2. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

// Decimal notation only: Number() would also take "0x10", "0b1", "" and " ", none of which a user means as a count.
const DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** What an int flag accepts, for its error message: "a non-negative integer", "an integer in 20..5000". */
function intRange(min: number, max: number | undefined): string {
  if (max !== undefined) return `an integer in ${min}..${max}`;
  return min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
}

function parseInt10(flag: string, spec: IntFlag, raw: string): number {
  const min = spec.min ?? 0;
  const text = raw.trim();
  const v = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(v) || v < min || (spec.max !== undefined && v > spec.max)) {
    // Digits are shown as typed; anything else quoted, so `got "0x10"` reads as the text that was refused.
    const shown = /^-?\d+$/.test(text) ? text : JSON.stringify(raw);
    throw new CliUsageError(`--${flag} must be ${intRange(min, spec.max)}, got ${shown}`);
  }
  return v;
}

function parseValue(flag: string, kind: FlagKind | IntFlag, raw: string): string | number | number[] {
  if (typeof kind === 'object') return parseInt10(flag, kind, raw);
  switch (kind) {
    case 'string':
      return raw;
    case 'int':
      return parseInt10(flag, { kind: 'int' }, raw);
    case 'number': {
      const v = DECIMAL.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isFinite(v)) throw new CliUsageError(`--${flag} expects a number, got ${JSON.stringify(raw)}`);
      return v;
    }
    case 'int-list': {
      const parts = raw.split(',').map((p) => p.trim());
      if (raw.trim() === '' || parts.some((p) => !/^-?\d+$/.test(p))) {
        throw new CliUsageError(`--${flag} expects comma-separated integers like 1,2,3, got ${JSON.stringify(raw)}`);
      }
      const out = parts.map(Number);
      const badInt = out.find((v) => !Number.isSafeInteger(v));
      if (badInt !== undefined) throw new CliUsageError(`--${flag}: ${badInt} is not a safe integer`);
      return out;
    }
    default:
      throw new CliUsageError(`--${flag}: unsupported flag kind ${String(kind)}`);
  }
}

/**
 * Parses `--name value`, `--name=value` and boolean `--name` / `--name=true|false` / `--no-name`.
 * Anything not starting with `--` is a positional argument; `--` ends flag parsing. Unknown flags,
 * missing values and repeated flags throw CliUsageError naming the flag.
 */
export function parseFlags<S extends FlagSpec>(argv: string[], spec: S): { flags: ParsedFlags<S>; positional: string[] } {
  const flags: Record<string, unknown> = {};
  const positional: string[] = [];
  const known = (name: string): boolean => Object.prototype.hasOwnProperty.call(spec, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg.length === 2) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (!known(name) && name.startsWith('no-') && spec[name.slice(3)] === 'boolean' && inline === undefined) {
      name = name.slice(3);
      inline = 'false';
    }
    if (!known(name)) {
      const list = Object.keys(spec).map((k) => `--${k}`).join(', ');
      throw new CliUsageError(`unknown flag --${name}${list ? ` (known: ${list})` : ''}`);
    }
    if (Object.prototype.hasOwnProperty.call(flags, name)) throw new CliUsageError(`--${name} given more than once`);
    const kind = spec[name];
    if (kind === 'boolean') {
      if (inline === undefined || inline === 'true') flags[name] = true;
      else if (inline === 'false') flags[name] = false;
      else throw new CliUsageError(`--${name} is a switch: use --${name} or --${name}=true|false, not ${JSON.stringify(inline)}`);
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      // A following flag is not a value (negative numbers like -3 still are).
      if (next === undefined || next.startsWith('--')) throw new CliUsageError(`--${name} needs a value`);
      raw = next;
      i++;
    }
    flags[name] = parseValue(name, kind, raw);
  }
  return { flags: flags as ParsedFlags<S>, positional };
}

/** Returns the flag's value or throws a CliUsageError saying it is required. */
export function requireFlag<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new CliUsageError(`--${flag} is required`);
  return value;
}

/** Whether a command's arguments ask for its usage: `--help` or `-h` before any `--`. */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const flags = end >= 0 ? argv.slice(0, end) : argv;
  return flags.includes('--help') || flags.includes('-h');
}

function commandList(programName: string, commands: readonly CliCommand[]): string {
  const width = Math.max(4, ...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    `Usage: ${programName} <command> [flags]`,
    '',
    'Commands:',
    ...lines,
    `  ${'help'.padEnd(width)}  Show help for a command: ${programName} help <command>`,
    '',
  ].join('\n');
}

/**
 * Dispatches argv (without node and script) to a command. `--help`/`-h`/no arguments print the command
 * list (exit 0, or 2 when no arguments); `help CMD` and `CMD --help` print CMD's usage; an unknown command
 * exits 2 with a message. CliUsageError from a command prints the message and usage and exits 2; any other
 * error prints its message and exits 1.
 */
export async function runCli(programName: string, commands: readonly CliCommand[], argv: string[], io: CliIO): Promise<number> {
  const byName = new Map(commands.map((c) => [c.name, c]));
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(commandList(programName, commands));
    return 2;
  }
  if (first === '--help' || first === '-h') {
    io.out(commandList(programName, commands));
    return 0;
  }
  if (first === 'help') {
    if (rest.length === 0) {
      io.out(commandList(programName, commands));
      return 0;
    }
    const cmd = byName.get(rest[0]);
    if (!cmd) {
      io.err(`${programName}: unknown command "${rest[0]}"\n\n${commandList(programName, commands)}`);
      return 2;
    }
    io.out(`${cmd.usage}\n`);
    return 0;
  }
  const cmd = byName.get(first);
  if (!cmd) {
    io.err(`${programName}: unknown command "${first}"\n\n${commandList(programName, commands)}`);
    return 2;
  }
  if (asksForHelp(rest)) {
    io.out(`${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    // By name too: a command bundled with its own copy of this module throws a different class object.
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof CliUsageError || (err as Error)?.name === 'CliUsageError') {
      io.err(`${programName} ${cmd.name}: ${message}\n\n${cmd.usage}\n`);
      return 2;
    }
    io.err(`${programName} ${cmd.name}: ${message}\n`);
    return 1;
  }
}
