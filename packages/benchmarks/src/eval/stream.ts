/**
 * The evaluation stream: edit requests one at a time with a frozen editor, timing each edit, recording
 * which modules it shifted, and measuring ES/GS/LS on the requests edited so far at checkpoints
 * (the curves of spec §6).
 */
import { measureCases, summarize, type MeasureOptions } from './metrics';
import type { EvalCase, EvalModel, LocalityBaseline } from './types';
import type { Progress } from '../progress';

/** What an editor reports about one applied edit. */
export interface AppliedEdit {
  /** Names of the modules whose weights the edit shifted. */
  readonly modules: readonly string[];
  /** Whether the edit landed on modules other than the editor's first choice (a gate's fallback). */
  readonly movedOn?: boolean;
}

/** The editing side of the stream: apply one request to the model in place. */
export type EditFn = (req: EvalCase, index: number) => AppliedEdit | Promise<AppliedEdit>;

/** One point of a curve: metrics over the first `edits` requests after `edits` edits. */
export interface CurvePoint {
  edits: number;
  ES: number;
  GS: number | null;
  LS: number | null;
}

/** What the stream recorded. */
export interface StreamRecord {
  /** Curve points in increasing `edits`. */
  curve: CurvePoint[];
  /** Modules shifted by each edit, in stream order. */
  modulesPerEdit: string[][];
  /** Wall-clock milliseconds of each edit call. */
  msPerEdit: number[];
  /** Edits that landed on modules other than the editor's first choice. */
  movedOnEdits: number;
}

/**
 * Checkpoints along a stream of n edits: 10, 20, 50, 100, 200, 500, ... below n, then n itself.
 * Short streams get every point up to n so a curve never has a single point.
 */
export function curveCheckpoints(n: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`curveCheckpoints: n must be a non-negative integer, got ${n}`);
  if (n === 0) return [];
  const out: number[] = [];
  if (n < 10) {
    for (let k = 1; k <= n; k++) out.push(k);
    return out;
  }
  for (let decade = 10; decade < n; decade *= 10) {
    for (const m of [1, 2, 5]) if (decade * m < n) out.push(decade * m);
  }
  out.push(n);
  return out;
}

/** Options of {@link runEvalStream}. */
export interface StreamOptions {
  measure: MeasureOptions;
  /** Unedited locality predictions (recorded before the stream). */
  baseline: LocalityBaseline;
  /** Edit counts at which to measure; default {@link curveCheckpoints}. */
  checkpoints?: number[];
  /** Advanced once per edit. */
  progress?: Progress;
  /** Clock in milliseconds (injectable for tests). */
  now?: () => number;
}

/** Runs the stream on `model` (already reset by the caller) and returns what it recorded. */
export async function runEvalStream(
  model: EvalModel,
  cases: readonly EvalCase[],
  edit: EditFn,
  opts: StreamOptions,
): Promise<StreamRecord> {
  const checkpoints = new Set(opts.checkpoints ?? curveCheckpoints(cases.length));
  const now = opts.now ?? (() => performance.now());
  const rec: StreamRecord = { curve: [], modulesPerEdit: [], msPerEdit: [], movedOnEdits: 0 };
  for (let i = 0; i < cases.length; i++) {
    const t0 = now();
    const applied = await edit(cases[i], i);
    rec.msPerEdit.push(now() - t0);
    rec.modulesPerEdit.push([...new Set(applied.modules)]);
    if (applied.movedOn) rec.movedOnEdits += 1;
    const done = i + 1;
    if (checkpoints.has(done)) {
      // Curves skip generation: they track the teacher-forced metrics cheaply along the way.
      const s = summarize(measureCases(model, cases.slice(0, done), opts.baseline, { ...opts.measure, wild: false }));
      rec.curve.push({ edits: done, ES: s.ES, GS: s.GS, LS: s.LS });
    }
    opts.progress?.tick(1, `ms/edit ${Math.round(rec.msPerEdit[i])}`);
  }
  return rec;
}

/**
 * Heat map of module use along the stream: rows = modules, columns = consecutive buckets of edits,
 * value = fraction of the bucket's edits that shifted the module.
 */
export function moduleHeatmap(
  modulesPerEdit: readonly (readonly string[])[],
  moduleNames: readonly string[],
  buckets = 20,
): { modules: string[]; edges: number[]; values: number[][] } {
  const n = modulesPerEdit.length;
  const nb = Math.max(1, Math.min(buckets, n));
  const edges: number[] = [];
  for (let b = 0; b <= nb; b++) edges.push(Math.round((b * n) / nb));
  const known = new Set(moduleNames);
  // Modules the editor shifted but the model did not list still get a row.
  const extra = [...new Set(modulesPerEdit.flat())].filter((m) => !known.has(m)).sort();
  const modules = [...moduleNames, ...extra];
  const index = new Map(modules.map((m, i) => [m, i]));
  const values = modules.map(() => new Array<number>(nb).fill(0));
  for (let b = 0; b < nb; b++) {
    const size = edges[b + 1] - edges[b];
    if (size === 0) continue;
    for (let e = edges[b]; e < edges[b + 1]; e++) for (const m of modulesPerEdit[e]) values[index.get(m)!][b] += 1 / size;
  }
  return { modules, edges, values };
}
