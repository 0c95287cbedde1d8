/**
 * The one edit objective both training modes share (spec §4.3): time-decayed generalization and locality
 * losses over the back-tracking window, plus the shift regularizer.
 */
import { tf, IGNORE_INDEX } from '@hiedit/tensor-core';
import type { EditableModel, TokenizedEditRequest, TokenizedTuple } from '@hiedit/tensor-core';

/** Which tuples the generalization term is measured on. */
export type GeneralizationTuples = 'paraphrases' | 'edit' | 'both';

/** One request of the back-tracking window with its decay weight gamma^(t-j). */
export interface WindowItem {
  readonly request: TokenizedEditRequest;
  readonly weight: number;
  /**
   * Log-probabilities of the request's locality tuples under the model before this step's shift
   * (null when it has no locality tuples). Owned by the caller.
   */
  readonly pBefore: tf.Tensor2D | null;
}

/** Coefficients of the objective. */
export interface ObjectiveWeights {
  readonly locCoef: number;
  readonly regCoef: number;
  readonly genOn: GeneralizationTuples;
}

/** Terms of the objective as scalars (inside whatever tidy/gradient scope the caller runs). */
export interface ObjectiveTerms {
  /** sum_j gamma^(t-j) CE_j. */
  gen: tf.Scalar;
  /** sum_j gamma^(t-j) KL_j (not yet multiplied by locCoef). */
  loc: tf.Scalar;
  /** gen + locCoef * loc. */
  modelLoss: tf.Scalar;
}

/** Tuples of `r` the generalization term uses; falls back to the edit tuple when there are no paraphrases. */
export function generalizationTuples(r: TokenizedEditRequest, genOn: GeneralizationTuples): TokenizedTuple[] {
  if (genOn === 'edit' || r.paraphrases.length === 0) return [r.edit];
  if (genOn === 'both') return [r.edit, ...r.paraphrases];
  return [...r.paraphrases];
}

/** Build the window over `history` (oldest first, current request last) with weights gamma^(t-j). */
export function windowWeights(length: number, gamma: number): number[] {
  return Array.from({ length }, (_, i) => Math.pow(gamma, length - 1 - i));
}

/**
 * Log-probabilities at the locality answer positions under the current (unshifted) model, per window
 * request; the caller disposes them.
 */
export function localityReference(model: EditableModel, requests: readonly TokenizedEditRequest[]): (tf.Tensor2D | null)[] {
  return requests.map((r) => (r.locality.length ? model.logProbsUnderShifts(r.locality) : null));
}

/** Label ids at the label positions of `tuples`, in tuple order then position order. */
function labelRows(tuples: readonly TokenizedTuple[]): number[] {
  const out: number[] = [];
  for (const t of tuples) for (const l of t.labels) if (l !== IGNORE_INDEX) out.push(l);
  return out;
}

/**
 * Generalization + locality losses of the window under W + shifts. `shifts` may be functions of policy
 * parameters (hiedit mode: gradients flow through them) or constants (reference mode: the caller
 * differentiates with respect to them to get dL/dW).
 *
 * The whole window goes through the model as one batch per term (one forward for the paraphrases, one for
 * the locality prompts); per-row weights gamma^(t-j) / (label positions of request j) make the result equal
 * to sum_j gamma^(t-j) * (mean CE_j) and sum_j gamma^(t-j) * (mean KL_j). Call inside tf.tidy or a gradient
 * function: intermediate tensors are not disposed here.
 */
export function windowLoss(
  model: EditableModel,
  window: readonly WindowItem[],
  shifts: ReadonlyMap<string, tf.Tensor2D>,
  w: ObjectiveWeights,
): ObjectiveTerms {
  const genTuples: TokenizedTuple[] = [];
  const genLabels: number[] = [];
  const genWeights: number[] = [];
  for (const item of window) {
    const tuples = generalizationTuples(item.request, w.genOn);
    const labels = labelRows(tuples);
    if (labels.length === 0) throw new Error(`request ${item.request.id}: generalization tuples have no label positions`);
    genTuples.push(...tuples);
    genLabels.push(...labels);
    for (let i = 0; i < labels.length; i++) genWeights.push(item.weight / labels.length);
  }
  const logp = model.logProbsUnderShifts(genTuples, shifts);
  if (logp.shape[0] !== genLabels.length) {
    throw new Error(`windowLoss: the model returned ${logp.shape[0]} label rows for ${genLabels.length} label positions`);
  }
  const vocab = logp.shape[1];
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(genLabels, 'int32'), vocab)), 1);
  const gen = tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(genWeights)))) as tf.Scalar;

  let loc: tf.Scalar = tf.scalar(0);
  const withLoc = w.locCoef !== 0 ? window.filter((item) => item.pBefore && item.pBefore.shape[0] > 0) : [];
  if (withLoc.length) {
    const locTuples = withLoc.flatMap((item) => item.request.locality);
    const before = tf.concat(withLoc.map((item) => item.pBefore!), 0);
    const rowWeights = withLoc.flatMap((item) => new Array<number>(item.pBefore!.shape[0]).fill(item.weight / item.pBefore!.shape[0]));
    const after = model.logProbsUnderShifts(locTuples, shifts);
    if (after.shape[0] !== before.shape[0]) {
      throw new Error(`windowLoss: locality tuples gave ${after.shape[0]} label rows, p_before has ${before.shape[0]}`);
    }
    // KL(p_before || p_after) per row; entries with p_before = 0 contribute nothing (avoid 0 * -inf)
    const p = tf.exp(before);
    const positive = tf.greater(p, 0);
    const safeBefore = tf.where(positive, before, tf.zerosLike(before));
    const terms = tf.where(positive, tf.mul(p, tf.sub(safeBefore, after)), tf.zerosLike(p));
    loc = tf.sum(tf.mul(tf.sum(terms, 1), tf.tensor1d(rowWeights))) as tf.Scalar;
  }
  return { gen, loc, modelLoss: tf.add(gen, tf.mul(loc, w.locCoef)) };
}

/** reg_coef * sum_m ||mask_m dW_m||^2 over already-masked shifts. */
export function shiftRegularizer(maskedShifts: readonly tf.Tensor[], regCoef: number): tf.Scalar {
  let sum: tf.Scalar = tf.scalar(0);
  for (const s of maskedShifts) sum = tf.add(sum, tf.sum(tf.mul(s, s)));
  return tf.mul(sum, regCoef);
}
