/** Builds registry commands (tensor-core's CliCommand) from a flag spec and a typed action. */
import { CliUsageError, parseFlags, type CliCommand, type CliIO, type FlagSpec, type ParsedFlags } from '@hiedit/tensor-core';

export interface CommandDefinition<S extends FlagSpec> {
  name: string;
  summary: string;
  /** Synopsis after `hiedit `, e.g. `info --model DIR [--json]`. */
  synopsis: string;
  /** One line per flag, shown by `hiedit help NAME`. */
  flagHelp: readonly string[];
  flags: S;
  /** Resolves to the exit code; throws CliUsageError for bad usage (exit 2), Error for failures (exit 1). */
  action(flags: ParsedFlags<S>, io: CliIO): Promise<number>;
}

/** A CliCommand that parses its flags strictly (no positional arguments) before running `action`. */
export function defineCommand<S extends FlagSpec>(def: CommandDefinition<S>): CliCommand {
  const usage = [`Usage: hiedit ${def.synopsis}`, '', def.summary, '', 'Flags:', ...def.flagHelp.map((l) => `  ${l}`)].join('\n');
  return {
    name: def.name,
    summary: def.summary,
    usage,
    async run(argv: string[], io: CliIO): Promise<number> {
      const { flags, positional } = parseFlags(argv, def.flags);
      if (positional.length > 0) throw new CliUsageError(`unexpected argument "${positional[0]}"`);
      return def.action(flags, io);
    },
  };
}

/** Writes a value as one line of JSON (non-finite numbers become null, as JSON has no NaN). */
export function writeJson(io: CliIO, value: unknown): void {
  io.out(JSON.stringify(value) + '\n');
}

/** A flag that must be a whole number >= min. */
export function wholeNumber(value: number | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min) throw new CliUsageError(`--${flag} must be a whole number >= ${min}, got ${value}`);
  return value;
}

/** A measured timing: the median wall time of `repeat` runs. */
export interface Timing {
  repeat: number;
  ms: number;
}

/**
 * Prints a command's result: `json` as one JSON line under --json, else the text `lines`. A timing, when
 * measured, is added to either form (`ms_median` / a last line), so every command reports it alike.
 */
export function printResult(io: CliIO, asJson: boolean | undefined, json: object, lines: () => string[], timing?: Timing): void {
  if (asJson) {
    writeJson(io, timing ? { ...json, ms_median: timing.ms } : json);
    return;
  }
  const text = lines();
  if (timing) text.push(`median of ${timing.repeat} runs: ${timing.ms.toFixed(3)} ms`);
  io.out(text.join('\n') + '\n');
}
