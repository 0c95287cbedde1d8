/** Output helpers shared by the loader's commands (the commands themselves are tensor-core defineCommand ones). */
import type { CliIO } from '@hiedit/tensor-core';

/** Writes a value as one line of JSON (non-finite numbers become null, as JSON has no NaN). */
export function writeJson(io: CliIO, value: unknown): void {
  io.out(JSON.stringify(value) + '\n');
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
