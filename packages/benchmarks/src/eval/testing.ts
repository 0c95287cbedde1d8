/**
 * Test support: a bigram "language model" whose logits at position t are row ids[t] of a (V, V) table,
 * so every prediction is known exactly and can be set with writeWeight. Not exported from the package.
 */
import { tf } from '@hiedit/tensor-core';
import type { EvalModel } from './types';

export class BigramModel implements EvalModel {
  readonly config: { vocabSize: number };
  private table: tf.Variable;
  readonly forwardShapes: number[][] = [];

  constructor(readonly vocab: number) {
    this.config = { vocabSize: vocab };
    const z = tf.zeros([vocab, vocab]);
    this.table = tf.variable(z, false);
    z.dispose(); // the variable keeps the data
  }

  /** Makes `next` the argmax after `token` (logit 1 + margin), others 0. */
  setNext(token: number, next: number, margin = 1): void {
    const row = new Float32Array(this.vocab);
    row[next] = 1 + margin;
    this.setRow(token, row);
  }

  setRow(token: number, logits: ArrayLike<number>): void {
    const data = this.table.arraySync() as number[][];
    data[token] = Array.from(logits);
    const t = tf.tensor2d(data);
    this.writeWeight('table', t);
    t.dispose();
  }

  readWeight(): tf.Tensor2D {
    return this.table.clone() as tf.Tensor2D;
  }

  /** Replaces the table; like CausalLM, the caller keeps ownership of `value`. */
  writeWeight(_name: string, value: tf.Tensor2D): void {
    // assign() shares the clone's data; disposing the clone object leaves the variable holding it.
    const c = tf.clone(value);
    this.table.assign(c);
    c.dispose();
  }

  forward(ids: number[][]): tf.Tensor3D {
    this.forwardShapes.push([ids.length, ids[0]?.length ?? 0]);
    return tf.tidy(() => tf.gather(this.table, tf.tensor2d(ids, [ids.length, ids[0].length], 'int32')) as tf.Tensor3D);
  }

  dispose(): void {
    this.table.dispose();
  }
}

/** Tuple for prompt + answer per spec §2. */
export function tuple(prompt: number[], answer: number[]): { ids: number[]; labels: number[] } {
  return {
    ids: [...prompt, ...answer.slice(0, -1)],
    labels: [...new Array(prompt.length - 1).fill(-100), ...answer],
  };
}
