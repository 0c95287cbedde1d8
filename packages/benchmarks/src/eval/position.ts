/**
 * Metrics of the final model by the edit's position in the stream. Pre_* compares the first num_pre edits with all
 * of them; this shows the whole shape: whether early edits were worn down by the ones after them (their bucket is
 * lower than later ones although they were applied as often) or whether late edits failed to land on a model
 * already changed by many (a low `applied` share at the end).
 */
import type { CaseScores } from './types';
import { summarize } from './metrics';

/** One contiguous group of stream positions, measured on the final model. */
export interface PositionBucket {
  /** First and last edit of the group, 1-based positions in the stream (inclusive). */
  readonly from: number;
  readonly to: number;
  readonly ES: number;
  readonly GS: number | null;
  readonly LS: number | null;
  /** Share of the group's edits that shifted at least one module (calibrated editors skip edits they cannot make hold). */
  readonly applied: number;
}

/**
 * Splits the stream into `buckets` contiguous groups of near-equal size (fewer when there are fewer edits) and
 * summarizes each. `scores[i]` and `applied[i]` belong to the i-th edit of the stream.
 */
export function byStreamPosition(scores: readonly CaseScores[], applied: readonly boolean[], buckets = 10): PositionBucket[] {
  if (applied.length !== scores.length) {
    throw new Error(`byStreamPosition: ${scores.length} scored edits but ${applied.length} applied flags; they must pair up`);
  }
  if (!Number.isInteger(buckets) || buckets < 1) throw new Error(`byStreamPosition: buckets must be an integer >= 1, got ${buckets}`);
  const n = scores.length;
  const k = Math.min(buckets, n);
  const out: PositionBucket[] = [];
  for (let b = 0; b < k; b++) {
    // floor(b * n / k) spreads the remainder over the groups, so sizes differ by at most one
    const start = Math.floor((b * n) / k);
    const end = Math.floor(((b + 1) * n) / k);
    const s = summarize(scores.slice(start, end));
    const landed = applied.slice(start, end).filter(Boolean).length;
    out.push({ from: start + 1, to: end, ES: s.ES, GS: s.GS, LS: s.LS, applied: landed / (end - start) });
  }
  return out;
}
