/**
 * Teacher-forced accuracy of answers (spec §6, zsRE style): per tuple, the fraction of answer tokens
 * whose argmax equals the label; averaged over tuples. Batched with right padding.
 */
import { tf, IGNORE_INDEX, type TokenizedTuple } from '@hiedit/tensor-core';

/** The forward the measurements need (llm-loader's CausalLM has it). */
export interface ForwardModel {
  forward(ids: number[][], attentionMask?: number[][]): tf.Tensor3D;
}

/** Accuracy over a set of tuples. */
export interface AccuracyResult {
  /** Mean over tuples of the fraction of correct answer tokens. */
  readonly tokenAccuracy: number;
  /** Fraction of tuples whose every answer token is correct. */
  readonly exactMatch: number;
  readonly count: number;
}

/** Right-pads a batch of tuples with `padId`; labels with -100, mask 0. */
export function padBatch(tuples: readonly TokenizedTuple[], padId: number): { ids: number[][]; labels: number[][]; mask: number[][] } {
  const T = Math.max(...tuples.map((t) => t.ids.length));
  const ids: number[][] = [];
  const labels: number[][] = [];
  const mask: number[][] = [];
  for (const t of tuples) {
    const n = t.ids.length;
    if (t.labels.length !== n) throw new Error(`padBatch: tuple has ${n} ids but ${t.labels.length} labels`);
    const pad = T - n;
    ids.push([...t.ids, ...new Array<number>(pad).fill(padId)]);
    labels.push([...t.labels, ...new Array<number>(pad).fill(IGNORE_INDEX)]);
    mask.push([...new Array<number>(n).fill(1), ...new Array<number>(pad).fill(0)]);
  }
  return { ids, labels, mask };
}

/** Argmax predictions (B, T) of one padded batch, read back once. */
export function argmaxBatch(model: ForwardModel, ids: number[][], mask: number[][]): Int32Array {
  const pred = tf.tidy(() => tf.argMax(model.forward(ids, mask), -1).toInt());
  try {
    return pred.dataSync() as Int32Array;
  } finally {
    pred.dispose();
  }
}

/** Teacher-forced accuracy of `tuples` under `model`; leaves the tensor count unchanged. */
export function teacherForcedAccuracy(
  model: ForwardModel,
  tuples: readonly TokenizedTuple[],
  opts: { batchSize?: number; padId?: number } = {},
): AccuracyResult {
  if (tuples.length === 0) return { tokenAccuracy: NaN, exactMatch: NaN, count: 0 };
  const bs = opts.batchSize ?? 64;
  let tokSum = 0;
  let exact = 0;
  // Sorting by length keeps padding (wasted compute) small; the result does not depend on order.
  const order = tuples.map((_, i) => i).sort((a, b) => tuples[a].ids.length - tuples[b].ids.length);
  for (let s = 0; s < order.length; s += bs) {
    const batch = order.slice(s, s + bs).map((i) => tuples[i]);
    const { ids, labels, mask } = padBatch(batch, opts.padId ?? 0);
    const T = ids[0].length;
    const pred = argmaxBatch(model, ids, mask);
    for (let b = 0; b < batch.length; b++) {
      let n = 0;
      let ok = 0;
      for (let t = 0; t < T; t++) {
        const y = labels[b][t];
        if (y === IGNORE_INDEX) continue;
        n++;
        if (pred[b * T + t] === y) ok++;
      }
      if (n === 0) throw new Error('teacherForcedAccuracy: a tuple has no answer label');
      tokSum += ok / n;
      if (ok === n) exact++;
    }
  }
  return { tokenAccuracy: tokSum / tuples.length, exactMatch: exact / tuples.length, count: tuples.length };
}
