/**
 * Batched teacher-forced scoring: many tuples per forward pass (right padding + attention mask), and
 * only the answer positions' results are read back, once per batch.
 */
import { tf, IGNORE_INDEX } from '@hiedit/tensor-core';
import type { EvalModel, TokenizedTuple, TupleStats } from './types';

/** Options of the batched evaluations. */
export interface BatchOptions {
  /**
   * Upper bound on B * T * V logits held at once (default 2^23 floats, 32 MB), so large vocabularies get
   * smaller batches instead of running out of memory.
   */
  maxLogits?: number;
  /** Upper bound on the batch size (default 64). */
  maxBatch?: number;
  /** Vocabulary size if known (to size batches before the first forward). */
  vocabSize?: number;
}

/** Answer positions of a tuple: indices i with labels[i] != -100. */
export function answerPositions(t: TokenizedTuple): number[] {
  const out: number[] = [];
  for (let i = 0; i < t.labels.length; i++) if (t.labels[i] !== IGNORE_INDEX) out.push(i);
  return out;
}

/** Validates a tuple's shape so a broken request fails with its id instead of a shape error deep in tfjs. */
export function checkTuple(t: TokenizedTuple, where: string): void {
  if (!t || !Array.isArray(t.ids) || !Array.isArray(t.labels)) throw new Error(`${where}: tuple needs ids and labels arrays`);
  if (t.ids.length === 0) throw new Error(`${where}: tuple has no tokens`);
  if (t.ids.length !== t.labels.length) {
    throw new Error(`${where}: ids (${t.ids.length}) and labels (${t.labels.length}) differ in length`);
  }
  if (!t.labels.some((l) => l !== IGNORE_INDEX)) throw new Error(`${where}: tuple has no answer (all labels are -100)`);
}

/** Splits item indices into batches whose padded logits stay under the budget. */
export function planBatches(lengths: readonly number[], vocab: number, opts: BatchOptions = {}): number[][] {
  const maxLogits = opts.maxLogits ?? 1 << 23;
  const maxBatch = Math.max(1, opts.maxBatch ?? 64);
  // Sorting by length keeps padding small; the caller maps results back by index.
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const batches: number[][] = [];
  let cur: number[] = [];
  let curMax = 0;
  for (const i of order) {
    const len = lengths[i];
    const nextMax = Math.max(curMax, len);
    if (cur.length > 0 && (cur.length + 1 > maxBatch || (cur.length + 1) * nextMax * vocab > maxLogits)) {
      batches.push(cur);
      cur = [];
      curMax = 0;
    }
    cur.push(i);
    curMax = Math.max(curMax, len);
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}

/** Right-pads id rows with `pad` and returns the matching attention mask. */
export function padBatch(rows: readonly (readonly number[])[], pad = 0): { ids: number[][]; mask: number[][] } {
  const T = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const ids: number[][] = [];
  const mask: number[][] = [];
  for (const r of rows) {
    const idRow = new Array<number>(T).fill(pad);
    const maskRow = new Array<number>(T).fill(0);
    for (let i = 0; i < r.length; i++) {
      idRow[i] = r[i];
      maskRow[i] = 1;
    }
    ids.push(idRow);
    mask.push(maskRow);
  }
  return { ids, mask };
}

function vocabOf(model: EvalModel, opts: BatchOptions): number {
  if (opts.vocabSize && opts.vocabSize > 0) return opts.vocabSize;
  const cfg = (model as { config?: { vocabSize?: number } }).config;
  return cfg?.vocabSize && cfg.vocabSize > 0 ? cfg.vocabSize : 32000;
}

/**
 * Teacher-forced argmax at every answer position of every tuple, and optionally the logit contest
 * between each answer token and a compared token (`compare[k][j]` against answer token j of tuple k).
 * One forward and two readbacks per batch.
 */
export function teacherForcedStats(
  model: EvalModel,
  tuples: readonly TokenizedTuple[],
  compare?: readonly (readonly number[] | undefined)[],
  opts: BatchOptions = {},
): TupleStats[] {
  if (compare && compare.length !== tuples.length) {
    throw new Error(`teacherForcedStats: compare has ${compare.length} entries for ${tuples.length} tuples`);
  }
  tuples.forEach((t, k) => checkTuple(t, `tuple ${k}`));
  const positions = tuples.map(answerPositions);
  const out = new Array<TupleStats>(tuples.length);
  const batches = planBatches(tuples.map((t) => t.ids.length), vocabOf(model, opts), opts);
  for (const batch of batches) {
    const { ids, mask } = padBatch(batch.map((k) => tuples[k].ids));
    const posIdx: number[] = [];
    const tgtIdx: number[] = [];
    const cmpIdx: number[] = [];
    const compared: boolean[] = [];
    batch.forEach((k, b) => {
      const labels = tuples[k].labels;
      const cmp = compare?.[k];
      positions[k].forEach((p, j) => {
        const row = posIdx.length / 2;
        posIdx.push(b, p);
        tgtIdx.push(row, labels[p]);
        const c = cmp && j < cmp.length ? cmp[j] : undefined;
        const use = c !== undefined && c !== labels[p];
        compared.push(use);
        // Uncompared positions still need a valid index; their result is masked out below.
        cmpIdx.push(row, use ? (c as number) : labels[p]);
      });
    });
    const n = posIdx.length / 2;
    const outs = tf.tidy(() => {
      const logits = model.forward(ids, mask);
      const rows = tf.gatherND(logits, tf.tensor2d(posIdx, [n, 2], 'int32')) as tf.Tensor2D;
      const pred = tf.argMax(rows, 1).toInt();
      if (!compare) return [pred];
      const tgt = tf.gatherND(rows, tf.tensor2d(tgtIdx, [n, 2], 'int32'));
      const cmp = tf.gatherND(rows, tf.tensor2d(cmpIdx, [n, 2], 'int32'));
      return [pred, tf.greater(tgt, cmp).toInt()];
    });
    const predT = outs[0];
    const winT = outs.length > 1 ? outs[1] : null;
    const predAll = predT.dataSync() as Int32Array;
    const winAll = winT ? (winT.dataSync() as Int32Array) : undefined;
    predT.dispose();
    winT?.dispose();
    let row = 0;
    for (const k of batch) {
      const np = positions[k].length;
      const targets = Int32Array.from(positions[k].map((p) => tuples[k].labels[p]));
      const pred = predAll.slice(row, row + np);
      let win: Int8Array | undefined;
      if (winAll) {
        win = new Int8Array(np);
        for (let j = 0; j < np; j++) win[j] = compared[row + j] ? winAll[row + j] : -1;
      }
      out[k] = { targets, pred, win };
      row += np;
    }
  }
  return out;
}

/** Fraction of answer positions whose argmax equals the label. */
export function tokenAccuracy(s: TupleStats): number {
  let hit = 0;
  for (let j = 0; j < s.targets.length; j++) if (s.pred[j] === s.targets[j]) hit++;
  return s.targets.length === 0 ? 0 : hit / s.targets.length;
}

/**
 * CounterFact-style score: the fraction of compared positions where the new token's logit won. When no
 * position could be compared (the old answer is a prefix of the new one, or absent) it falls back to
 * token accuracy, which is the only signal left.
 */
export function contestScore(s: TupleStats): number {
  if (!s.win) return tokenAccuracy(s);
  let n = 0;
  let won = 0;
  for (let j = 0; j < s.win.length; j++) {
    if (s.win[j] < 0) continue;
    n++;
    won += s.win[j];
  }
  return n === 0 ? tokenAccuracy(s) : won / n;
}
