/**
 * Rotary position embeddings in the Hugging Face convention (rotate_half: the first and second halves
 * of each head form the rotated pairs). Angles are computed on the host in float64 and rounded once,
 * so long positions do not accumulate float32 error, and nothing is cached across calls (no tensors
 * outlive a forward).
 */
import { tf } from '@hiedit/tensor-core';
import type { RopeScaling } from '../config';

/** Inverse frequencies (headDim / 2) for base theta, with the config's frequency scaling applied. */
export function inverseFrequencies(headDim: number, theta: number, scaling: RopeScaling): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] /= scaling.factor;
  } else if (scaling.type === 'llama3') {
    // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band between blended.
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
    const lowFreqWavelen = originalMaxPositions / lowFreqFactor;
    const highFreqWavelen = originalMaxPositions / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowFreqWavelen) inv[i] = inv[i] / factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}

/** cos and sin tables (T, headDim / 2) for positions pos0 .. pos0 + T - 1. Caller disposes. */
export function ropeTables(inv: Float64Array, pos0: number, T: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const half = inv.length;
  const c = new Float32Array(T * half);
  const s = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    const p = pos0 + t;
    for (let i = 0; i < half; i++) {
      const a = p * inv[i];
      c[t * half + i] = Math.cos(a);
      s[t * half + i] = Math.sin(a);
    }
  }
  return { cos: tf.tensor2d(c, [T, half]), sin: tf.tensor2d(s, [T, half]) };
}

/**
 * Rotate x (B, H, T, hd) by the tables (T, hd/2): out = [x1 c - x2 s, x2 c + x1 s], which is
 * x * cos + rotate_half(x) * sin with cos/sin duplicated over both halves.
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const [x1, x2] = tf.split(x, 2, 3);
  return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], 3) as tf.Tensor4D;
}
