/**
 * The one edit objective both training modes share (spec §4.3): time-decayed generalization and locality
 * losses over the back-tracking window, plus the shift regularizer.
 */
import { tf, klDivergence } from '@hiedit/tensor-core';
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

/**
 * Generalization + locality losses of the window under W + shifts. `shifts` may be functions of policy
 * parameters (hiedit mode: gradients flow through them) or constants (reference mode: the caller
 * differentiates with respect to them to get dL/dW).
 */
export function windowLoss(
  model: EditableModel,
  window: readonly WindowItem[],
  shifts: ReadonlyMap<string, tf.Tensor2D>,
  w: ObjectiveWeights,
): ObjectiveTerms {
  let gen: tf.Scalar = tf.scalar(0);
  let loc: tf.Scalar = tf.scalar(0);
  for (const item of window) {
    const ce = model.lossUnderShifts(generalizationTuples(item.request, w.genOn), shifts);
    gen = tf.add(gen, tf.mul(ce, item.weight));
    if (item.pBefore && w.locCoef !== 0) {
      const after = model.logProbsUnderShifts(item.request.locality, shifts);
      loc = tf.add(loc, tf.mul(klDivergence(item.pBefore, after), item.weight));
    }
  }
  return { gen, loc, modelLoss: tf.add(gen, tf.mul(loc, w.locCoef)) };
}

/** reg_coef * sum_m ||mask_m dW_m||^2 over already-masked shifts. */
export function shiftRegularizer(maskedShifts: readonly tf.Tensor[], regCoef: number): tf.Scalar {
  let sum: tf.Scalar = tf.scalar(0);
  for (const s of maskedShifts) sum = tf.add(sum, tf.sum(tf.mul(s, s)));
  return tf.mul(sum, regCoef);
}
