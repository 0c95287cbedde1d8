/** Wall-clock timing of repeated runs, shared by the CLIs' --repeat and the benchmarks. */
import { performance } from 'perf_hooks';

/** Median of a non-empty list (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median: empty list');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Median wall time in ms of `n` runs of `fn`, after one untimed warm-up run (the first run pays for
 * compilation and allocation, which is not what a repeat measures).
 */
export function medianMs(n: number, fn: () => void): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`medianMs: the number of runs must be a whole number >= 1, got ${n}`);
  fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}
