/**
 * Helpers shared by tensor-core's kernel tests (not part of the package): a seeded generator, seeded random
 * tensors and the relative error measure the kernel tests compare with.
 */
import * as tf from '@tensorflow/tfjs';

/** A seeded uniform generator in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A float32 tensor of values uniform in shift +- scale, drawn from `next`. */
export function randomTensor(shape: number[], next: () => number, scale: number, shift = 0): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (next() * 2 - 1) * scale + shift;
  return tf.tensor(v, shape);
}

/** max |got - want| / (1 + |want|), computed on the host; the shapes must agree. */
export function maxErr(got: tf.Tensor, want: tf.Tensor): number {
  expect(got.shape).toEqual(want.shape);
  const g = got.dataSync();
  const w = want.dataSync();
  let worst = 0;
  for (let i = 0; i < g.length; i++) {
    const e = Math.abs(g[i] - w[i]) / (1 + Math.abs(w[i]));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}
