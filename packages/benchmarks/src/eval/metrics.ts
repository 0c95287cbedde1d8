/**
 * Lifelong-editing metrics (spec §6) over a model, measured in batches. Per-request scores are computed
 * by one batched teacher-forced pass over every tuple of every request, plus batched greedy generation
 * for the WILD metrics.
 */
import { contestScore, teacherForcedStats, tokenAccuracy, type BatchOptions } from './batch';
import { generationSuccess } from './generation';
import type { CaseScores, EvalCase, EvalModel, LocalityBaseline, MetricStyle, MetricSummary, TokenizedTuple, TupleStats } from './types';

/** Options of {@link measureCases}. */
export interface MeasureOptions extends BatchOptions {
  /** ES/GS scoring (spec §6). */
  style: MetricStyle;
  /** Also run greedy generation for WILD_ES / WILD_GS (default true). */
  wild?: boolean;
  /** Turns ids into text for the WILD comparison; token comparison when absent. */
  decode?: (ids: number[]) => string;
}

/**
 * Records the unedited model's argmax at every locality answer position. Must run before the first edit:
 * LS is the fraction of these predictions that survive the stream.
 */
export function recordLocalityBaseline(model: EvalModel, cases: readonly EvalCase[], opts: BatchOptions = {}): LocalityBaseline {
  const tuples: TokenizedTuple[] = [];
  const owner: string[] = [];
  for (const c of cases) {
    for (const t of c.locality) {
      tuples.push(t);
      owner.push(c.id);
    }
  }
  const stats = teacherForcedStats(model, tuples, undefined, opts);
  const byCase = new Map<string, Int32Array[]>();
  for (const c of cases) byCase.set(c.id, []);
  stats.forEach((s, i) => byCase.get(owner[i])!.push(s.pred));
  return { byCase };
}

/** A baseline as plain JSON (for the run's resume state). */
export function baselineToJSON(b: LocalityBaseline): Record<string, number[][]> {
  const o: Record<string, number[][]> = {};
  for (const [id, preds] of b.byCase) o[id] = preds.map((p) => Array.from(p));
  return o;
}

/** Inverse of {@link baselineToJSON}; validates the shape. */
export function baselineFromJSON(o: unknown, where = 'baseline'): LocalityBaseline {
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error(`${where}: expected an object of case id -> predictions`);
  const byCase = new Map<string, Int32Array[]>();
  for (const [id, v] of Object.entries(o as Record<string, unknown>)) {
    if (!Array.isArray(v) || !v.every((r) => Array.isArray(r) && r.every((x) => Number.isInteger(x)))) {
      throw new Error(`${where}: case "${id}" must hold arrays of integer token ids`);
    }
    byCase.set(id, (v as number[][]).map((r) => Int32Array.from(r)));
  }
  return { byCase };
}

function mean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

function agreement(pred: Int32Array, base: Int32Array): { same: number; n: number } {
  if (pred.length !== base.length) throw new Error(`locality baseline has ${base.length} positions, the tuple ${pred.length}`);
  let same = 0;
  for (let j = 0; j < pred.length; j++) if (pred[j] === base[j]) same++;
  return { same, n: pred.length };
}

/**
 * Scores every case on the current model. `baseline` (from {@link recordLocalityBaseline} on the unedited
 * model) is required for LS; without it LS is null.
 */
export function measureCases(
  model: EvalModel,
  cases: readonly EvalCase[],
  baseline: LocalityBaseline | undefined,
  opts: MeasureOptions,
): CaseScores[] {
  // One flat list of tuples so the whole measurement shares batches.
  const tuples: TokenizedTuple[] = [];
  const compare: (readonly number[] | undefined)[] = [];
  const slots = cases.map((c) => {
    const old = opts.style === 'counterfact' ? c.oldAnswer : undefined;
    const edit = tuples.length;
    tuples.push(c.edit);
    compare.push(old);
    const para = c.paraphrases.map((p) => {
      tuples.push(p);
      compare.push(old);
      return tuples.length - 1;
    });
    const loc = c.locality.map((l) => {
      tuples.push(l);
      compare.push(undefined);
      return tuples.length - 1;
    });
    return { edit, para, loc };
  });
  const useCompare = opts.style === 'counterfact';
  const stats = teacherForcedStats(model, tuples, useCompare ? compare : undefined, opts);
  const score = (s: TupleStats) => (opts.style === 'counterfact' ? contestScore(s) : tokenAccuracy(s));

  let wildEdit: number[] | undefined;
  let wildPara: number[] | undefined;
  if (opts.wild !== false) {
    const genTuples = [...cases.map((c) => c.edit), ...cases.flatMap((c) => c.paraphrases)];
    const ok = generationSuccess(model, genTuples, opts.decode, opts);
    wildEdit = ok.slice(0, cases.length);
    wildPara = ok.slice(cases.length);
  }

  let paraCursor = 0;
  return cases.map((c, i) => {
    const slot = slots[i];
    const gs = mean(slot.para.map((k) => score(stats[k])));
    let ls: number | null = null;
    const base = baseline?.byCase.get(c.id);
    if (baseline && c.locality.length > 0) {
      if (!base || base.length !== c.locality.length) throw new Error(`measureCases: no locality baseline for request "${c.id}"`);
      let same = 0;
      let n = 0;
      slot.loc.forEach((k, j) => {
        const a = agreement(stats[k].pred, base[j]);
        same += a.same;
        n += a.n;
      });
      ls = n === 0 ? null : same / n;
    }
    const lsGold = mean(slot.loc.map((k) => tokenAccuracy(stats[k])));
    let wildGs: number | null = null;
    if (wildPara) {
      wildGs = mean(wildPara.slice(paraCursor, paraCursor + c.paraphrases.length));
      paraCursor += c.paraphrases.length;
    }
    return {
      id: c.id,
      ES: score(stats[slot.edit]),
      GS: gs,
      LS: ls,
      LS_gold: lsGold,
      WILD_ES: wildEdit ? wildEdit[i] : null,
      WILD_GS: wildGs,
    };
  });
}

/** Mean of each metric over the requests that have it. */
export function summarize(scores: readonly CaseScores[]): MetricSummary {
  const pick = (k: keyof Omit<CaseScores, 'id'>) =>
    mean(scores.map((s) => s[k]).filter((v): v is number => typeof v === 'number'));
  return {
    ES: pick('ES') ?? 0,
    GS: pick('GS'),
    LS: pick('LS'),
    LS_gold: pick('LS_gold'),
    WILD_ES: pick('WILD_ES'),
    WILD_GS: pick('WILD_GS'),
  };
}

/** Argmax per answer position of held-out facts, recorded on the unedited model. */
export type RetentionBaseline = Int32Array[];

/** Records which held-out facts' answer tokens the unedited model predicts. */
export function recordRetentionBaseline(model: EvalModel, facts: readonly TokenizedTuple[], opts: BatchOptions = {}): RetentionBaseline {
  return teacherForcedStats(model, facts, undefined, opts).map((s) => s.pred);
}

/** Retention of general knowledge on facts no request touched. */
export interface RetentionResult {
  /** Teacher-forced token accuracy of the held-out facts before the stream. */
  before: number;
  /** The same after the stream. */
  after: number;
  /**
   * Of the answer tokens the unedited model got right, the fraction still right after the stream
   * (1 = nothing forgotten). Null when the model knew none of them.
   */
  retention: number | null;
}

/** Compares held-out fact accuracy after the stream with the baseline. */
export function measureRetention(
  model: EvalModel,
  facts: readonly TokenizedTuple[],
  baseline: RetentionBaseline,
  opts: BatchOptions = {},
): RetentionResult {
  if (baseline.length !== facts.length) throw new Error(`measureRetention: baseline has ${baseline.length} facts, got ${facts.length}`);
  const stats = teacherForcedStats(model, facts, undefined, opts);
  let n = 0;
  let before = 0;
  let after = 0;
  let kept = 0;
  stats.forEach((s, i) => {
    const b = baseline[i];
    if (b.length !== s.targets.length) throw new Error(`measureRetention: fact ${i} changed length`);
    for (let j = 0; j < s.targets.length; j++) {
      n++;
      const wasRight = b[j] === s.targets[j];
      const isRight = s.pred[j] === s.targets[j];
      if (wasRight) before++;
      if (isRight) after++;
      if (wasRight && isRight) kept++;
    }
  });
  return { before: n ? before / n : 0, after: n ? after / n : 0, retention: before ? kept / before : null };
}
