/**
 * How good one module set's shift is on one request, judged on the request's own prompts: the share of answer tokens
 * of the edit tuple and its paraphrases that are the argmax under teacher forcing, and the share of locality tokens
 * whose argmax the shift leaves unchanged; the mean of the three (those the request has). fixed-k ranks modules with
 * it on the training split; the benchmark's oracle-k uses it on evaluation requests (an upper bound, never an editor).
 */
import { IGNORE_INDEX, ParameterShift, shiftToDense, tf, TokenizedEditRequest, TokenizedTuple } from '@hiedit/tensor-core';
import { calibrateScale, CalibrationSettings } from '@hiedit/rl-hierarchy';
import type { EditableModel } from '@hiedit/tensor-core';

/** Argmax token of every label position of `tuples` (tuple order, then position order) under W + shifts. */
function argmaxAtLabels(model: EditableModel, tuples: readonly TokenizedTuple[], shifts: ReadonlyMap<string, tf.Tensor2D>): Int32Array {
  const t = tf.tidy(() => tf.argMax(model.logProbsUnderShifts(tuples, shifts), 1));
  const out = t.dataSync() as Int32Array;
  t.dispose();
  return out;
}

function labelsOf(tuples: readonly TokenizedTuple[]): number[] {
  return tuples.flatMap((t) => t.labels.filter((l) => l !== IGNORE_INDEX));
}

function share(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let hit = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) hit++;
  return a.length === 0 ? 0 : hit / a.length;
}

/**
 * The merit (0..1) of applying `shifts` at `scale` for `request` on the model's current weights; the weights are not
 * changed. An empty set (or scale 0) is judged as the unedited model.
 */
export function shiftMerit(model: EditableModel, request: TokenizedEditRequest, shifts: ReadonlyMap<string, ParameterShift>, scale: number): number {
  const dense = new Map<string, tf.Tensor2D>();
  try {
    if (scale > 0) for (const [n, s] of shifts) dense.set(n, tf.tidy(() => tf.mul(shiftToDense(s), scale) as tf.Tensor2D));
    const parts: number[] = [];
    parts.push(share(argmaxAtLabels(model, [request.edit], dense), labelsOf([request.edit])));
    if (request.paraphrases.length) parts.push(share(argmaxAtLabels(model, request.paraphrases, dense), labelsOf(request.paraphrases)));
    if (request.locality.length) {
      const before = argmaxAtLabels(model, request.locality, new Map());
      parts.push(share(argmaxAtLabels(model, request.locality, dense), before));
    }
    return parts.reduce((a, b) => a + b, 0) / parts.length;
  } finally {
    for (const d of dense.values()) d.dispose();
  }
}

/** The strength a set's shift is judged at: calibrated on the edit tuple when calibration is on, else 1. */
export function meritScale(model: EditableModel, request: TokenizedEditRequest, shifts: ReadonlyMap<string, ParameterShift>,
  calibration: CalibrationSettings | null): number {
  return calibration ? calibrateScale(model, request.edit, shifts, calibration).scale : 1;
}
