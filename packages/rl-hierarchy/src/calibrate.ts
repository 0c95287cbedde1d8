/**
 * Edit-strength calibration: a proposed shift is applied at the smallest strength that makes its edit hold on its own
 * prompt.
 *
 * A meta-trained policy proposes a direction and a magnitude. On small models the magnitude it learns is a compromise
 * over its training stream: some edits do not change the answer at all (the edit is lost and only its damage stays),
 * others overshoot (locality pays for nothing). Calibration keeps the direction and searches the strength. Only the
 * edit tuple the editor is given (prompt + new answer) is read, never the request's paraphrases or locality prompts.
 *
 * Strengths are multiples of the policy's own proposal, searched within a bounded range around it (1/16..16 by
 * default): the learned step size sets where the search starts, and the bound keeps an edit that needs far more than
 * the policy proposes from being forced through.
 */
import { EditableModel, IGNORE_INDEX, ParameterShift, tf, TokenizedTuple } from '@hiedit/tensor-core';
import { shiftToDense } from '@hiedit/tensor-core';
import type { PolicyEdit } from './policy';

/** Settings of the calibration. Strengths are multiples of the policy's proposed shift. */
export interface CalibrationSettings {
  /** Smallest strength tried (> 0, at most 1). */
  readonly minStrength: number;
  /** Largest strength tried (at least 1). */
  readonly maxStrength: number;
  /**
   * Required log-probability margin of every answer token over its best competitor, under teacher forcing on the
   * edit tuple. 0: the answer just has to be the argmax; a margin leaves room for later edits to erode it.
   */
  readonly margin: number;
  /** Precision: the search stops when its bracket is narrower than this many octaves (log2 units). */
  readonly tolerance: number;
  /**
   * When no strength up to maxStrength makes the edit hold: 'skip' applies nothing (a failed edit costs no
   * locality), 'max' applies maxStrength, 'next' tries the gate's next-ranked modules (calibrateSelection) and skips
   * when none hold. 'next' is an inference rule: without a gate, and in the trainer (whose gradient step needs the
   * gate's own selection), it acts as 'skip'.
   */
  readonly onMiss: 'skip' | 'max' | 'next';
}

/**
 * Defaults (`calibration: true`), tuned for HiEdit on tuning data only (docs/tuning.md, sessions 4-5): a margin of 0.5
 * nats, strengths within 16x of the proposal either way (wider ranges let the few edits that need 16-256x wreck
 * locality), and an edit that does not hold at 16x on the gate's modules moves to the gate's next choice, then is
 * skipped. Applying a miss at 16x instead scored 0.03 higher on the tuning worlds but wrecked the model on
 * zsre-train.json (0.014 against 0.529) and counterfact-train.json (0.337 against 0.427), whose multi-token answers
 * often do not hold; moving to the next choice instead of skipping scored higher in 9 of 12 tuning runs (2 equal).
 * The search costs 4-7 forwards of the edit tuple per module set tried.
 */
export const DEFAULT_CALIBRATION: CalibrationSettings = { minStrength: 1 / 16, maxStrength: 16, margin: 0.5, tolerance: 0.25, onMiss: 'next' };

const ON_MISS: readonly CalibrationSettings['onMiss'][] = ['skip', 'max', 'next'];

/** Validates and fills user settings (`true` = the defaults; null, false or absent = off). */
export function resolveCalibration(input: unknown, where = 'trainer options'): CalibrationSettings | null {
  if (input === undefined || input === null || input === false) return null;
  if (input === true) return DEFAULT_CALIBRATION;
  if (typeof input !== 'object' || Array.isArray(input)) throw new Error(`${where}: calibration must be true, false, null or an object`);
  const known = Object.keys(DEFAULT_CALIBRATION);
  const o = input as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`${where}: unknown calibration field(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const c = { ...DEFAULT_CALIBRATION, ...o } as CalibrationSettings;
  for (const k of ['minStrength', 'maxStrength', 'tolerance'] as const) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`${where}: calibration.${k} must be a finite number > 0, got ${JSON.stringify(v)}`);
  }
  if (!(c.minStrength <= 1 && 1 <= c.maxStrength)) {
    throw new Error(`${where}: calibration needs minStrength <= 1 <= maxStrength (got ${c.minStrength}, ${c.maxStrength})`);
  }
  if (typeof c.margin !== 'number' || !Number.isFinite(c.margin) || c.margin < 0) throw new Error(`${where}: calibration.margin must be a finite number >= 0, got ${JSON.stringify(c.margin)}`);
  if (!ON_MISS.includes(c.onMiss)) throw new Error(`${where}: calibration.onMiss must be one of ${ON_MISS.map((x) => `"${x}"`).join(', ')}, got ${JSON.stringify(c.onMiss)}`);
  return c;
}

/** Outcome of one calibration. */
export interface CalibrationResult {
  /** The factor to multiply the proposed shifts by (0 for a skipped edit). */
  readonly scale: number;
  /** Whether the edit holds on its prompt at that scale. */
  readonly holds: boolean;
  /** Forward passes of the edit tuple spent. */
  readonly forwards: number;
}

/**
 * Smallest log-probability margin of the answer tokens (`labels`, the tuple's non-ignored labels) of `tuple` over their
 * best competitor under W + scale * shift.
 */
function answerMargin(model: EditableModel, tuple: TokenizedTuple, labels: readonly number[], shifts: ReadonlyMap<string, tf.Tensor2D>, scale: number): number {
  const m = tf.tidy(() => {
    const scaled = new Map<string, tf.Tensor2D>();
    for (const [n, d] of shifts) scaled.set(n, tf.mul(d, scale) as tf.Tensor2D);
    const lp = model.logProbsUnderShifts([tuple], scaled);
    const onehot = tf.oneHot(tf.tensor1d(labels as number[], 'int32'), lp.shape[1]).toFloat();
    const target = tf.sum(tf.mul(lp, onehot), 1);
    const best = tf.max(tf.sub(lp, tf.mul(onehot, 1e30)), 1);
    return tf.min(tf.sub(target, best));
  });
  const v = m.dataSync()[0];
  m.dispose();
  return v;
}

/**
 * Finds (to `tolerance` octaves) the smallest strength in [minStrength, maxStrength] at which every answer token of the
 * edit tuple wins by `margin`: a galloping search in log2 strength from the policy's own strength 1 (steps of 1, 2, 4,
 * 8, ... octaves), then bisection of the bracket. It assumes that holding is monotone in the strength, true near the
 * answer's flip for a descent direction; where it is not, the strength returned was still checked to hold.
 */
export function calibrateScale(model: EditableModel, tuple: TokenizedTuple, shifts: ReadonlyMap<string, ParameterShift>, c: CalibrationSettings): CalibrationResult {
  const denseShifts = new Map([...shifts].map(([n, s]) => [n, shiftToDense(s)] as const));
  const labels = tuple.labels.filter((l) => l !== IGNORE_INDEX);
  let forwards = 0;
  try {
    if (denseShifts.size === 0) return { scale: 0, holds: false, forwards };
    const holdsAt = (e: number): boolean => {
      forwards++;
      return answerMargin(model, tuple, labels, denseShifts, 2 ** e) >= c.margin;
    };
    const minE = Math.log2(c.minStrength);
    const maxE = Math.log2(c.maxStrength);
    let lo: number; // a failing exponent
    let hi: number; // a holding exponent
    if (holdsAt(0)) {
      hi = 0;
      lo = Number.NaN;
      for (let step = 1; hi > minE; step *= 2) {
        const e = Math.max(-step, minE);
        if (holdsAt(e)) hi = e;
        else { lo = e; break; }
      }
      if (Number.isNaN(lo)) return { scale: 2 ** hi, holds: true, forwards };
    } else {
      lo = 0;
      hi = Number.NaN;
      for (let step = 1; lo < maxE; step *= 2) {
        const e = Math.min(step, maxE);
        if (holdsAt(e)) { hi = e; break; }
        lo = e;
      }
      if (Number.isNaN(hi)) return { scale: c.onMiss === 'max' ? c.maxStrength : 0, holds: false, forwards };
    }
    while (hi - lo > c.tolerance) {
      const mid = (lo + hi) / 2;
      if (holdsAt(mid)) hi = mid;
      else lo = mid;
    }
    return { scale: 2 ** hi, holds: true, forwards };
  } finally {
    for (const t of denseShifts.values()) t.dispose();
  }
}

/** Outcome of calibrating a policy's edit together with its choice of modules. */
export interface SelectionCalibration extends CalibrationResult {
  /** The modules to shift, in policy order; empty for a skipped edit. */
  readonly selected: readonly string[];
  /** Module sets calibrated (1 unless onMiss is 'next' and the gate's own choice missed). */
  readonly tries: number;
}

/**
 * Calibrates the gate's selection of `edit` (calibrateScale). With `onMiss: 'next'`, a selection that does not hold
 * within maxStrength is replaced by the next modules in gate-score order, as many as the gate selected (the budget
 * stays k), until one set holds or the modules run out; then the edit is skipped. The gate still decides where the
 * edit goes first; the fallback only spends the ranking it already produced on edits that would otherwise be lost.
 * Costs one more calibration per set tried, only for edits whose first choice misses.
 */
export function calibrateSelection(model: EditableModel, tuple: TokenizedTuple, edit: PolicyEdit, c: CalibrationSettings): SelectionCalibration {
  const { modules, scores, selected } = edit.mask;
  const first = modules.filter((_, i) => selected[i]);
  const sets = [first];
  if (c.onMiss === 'next' && first.length > 0) {
    // the rest in descending score; ties keep policy order (Array.prototype.sort is stable)
    const rest = modules.map((n, i) => ({ n, s: scores[i], sel: selected[i] })).filter((x) => !x.sel).sort((a, b) => b.s - a.s).map((x) => x.n);
    for (let i = 0; i < rest.length; i += first.length) sets.push(rest.slice(i, i + first.length));
  }
  let forwards = 0;
  for (let t = 0; t < sets.length; t++) {
    const names = new Set(sets[t]);
    const shifts = new Map(modules.filter((n) => names.has(n)).map((n) => {
      const s = edit.shifts.get(n);
      if (!s) throw new Error(`calibrateSelection: module ${n} has no shift`);
      return [n, s] as const;
    }));
    const r = calibrateScale(model, tuple, shifts, c);
    forwards += r.forwards;
    if (r.scale > 0) return { scale: r.scale, holds: r.holds, forwards, selected: modules.filter((n) => names.has(n)), tries: t + 1 };
  }
  return { scale: 0, holds: false, forwards, selected: [], tries: sets.length };
}
