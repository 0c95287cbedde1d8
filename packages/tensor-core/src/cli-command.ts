/**
 * Declarative commands for the registry in ./cli: a flag spec, help lines and a typed action. Every command of
 * `hiedit` and `hiedit-bench` is built here, so they all parse flags alike and print the same usage layout.
 */
import { asksForHelp, CliUsageError, parseFlags, type CliCommand, type CliIO, type FlagSpec, type ParsedFlags } from './cli';

/** What {@link defineCommand} needs to build a command. */
export interface CommandDefinition<S extends FlagSpec> {
  /** The program, e.g. `hiedit`; starts the usage line. */
  program: string;
  name: string;
  /** One line for the command list (and the usage text when there is no `description`). */
  summary: string;
  /** Synopsis after the program name, e.g. `info --model DIR [--json]`. */
  synopsis: string;
  /** Longer text for the usage (paragraphs, may span lines); the summary is shown when absent. */
  description?: string;
  /** One line per flag (continuation lines allowed), shown under "Flags:" by `PROGRAM help NAME`. */
  flagHelp: readonly string[];
  flags: S;
  /**
   * Whether arguments that are not flags are accepted; they are passed to `action` (which checks their
   * number). Without it any such argument is a usage error.
   */
  positional?: boolean;
  /** Resolves to the exit code; throws CliUsageError for bad usage (exit 2), Error for failures (exit 1). */
  action(flags: ParsedFlags<S>, io: CliIO, positional: string[]): Promise<number>;
}

/** A command whose flag spec is known, so tests can check that the usage documents every flag. */
export interface DefinedCommand extends CliCommand {
  readonly flags: FlagSpec;
}

/** The usage text: synopsis, description (or summary), then the flag lines. */
function usageText(def: CommandDefinition<FlagSpec>): string {
  const lines = [`Usage: ${def.program} ${def.synopsis}`, '', def.description ?? def.summary];
  if (def.flagHelp.length > 0) lines.push('', 'Flags:', ...def.flagHelp.map((l) => `  ${l}`));
  return lines.join('\n');
}

/**
 * A CliCommand that parses its flags with {@link parseFlags} before running `action`. `--help` prints the usage
 * (also when the command is run without runCli); runCli maps errors to exit codes.
 */
export function defineCommand<S extends FlagSpec>(def: CommandDefinition<S>): DefinedCommand {
  return {
    name: def.name,
    summary: def.summary,
    usage: usageText(def as unknown as CommandDefinition<FlagSpec>),
    flags: def.flags,
    async run(argv: string[], io: CliIO): Promise<number> {
      // runCli answers --help before calling run; this serves callers that run a command directly.
      if (asksForHelp(argv)) {
        io.out(`${this.usage}\n`);
        return 0;
      }
      const { flags, positional } = parseFlags(argv, def.flags);
      if (!def.positional && positional.length > 0) throw new CliUsageError(`unexpected argument "${positional[0]}"`);
      return def.action(flags, io, positional);
    },
  };
}

/**
 * The flags of `command` that its usage text does not mention (as `--name`, or `--no-name` for a switch
 * that defaults to on): what a test of a command list asserts to be empty.
 */
export function undocumentedFlags(command: DefinedCommand): string[] {
  return Object.entries(command.flags)
    .filter(([name, kind]) => {
      const documented = new RegExp(`--${name}(?![\\w-])`).test(command.usage);
      return !documented && !(kind === 'boolean' && new RegExp(`--no-${name}(?![\\w-])`).test(command.usage));
    })
    .map(([name]) => name);
}
