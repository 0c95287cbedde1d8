/**
 * Differentiable building blocks the policies need and tfjs lacks (or defines differently).
 */
import { tf } from '@hiedit/tensor-core';

/** tfjs types the custom-gradient callback loosely (inputs and the save function share one type). */
type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * relu whose gradient is 1 at exactly zero (like PyTorch's clamp(min=0)). The residual blocks start
 * with B = 0 and c = 0, so every pre-activation is exactly 0 at init; tf.relu's gradient there is 0,
 * which would freeze B forever.
 */
export const reluOpenAtZero: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  ((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: tf.relu(x),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, tf.cast(tf.greaterEqual(saved[0], 0), 'float32'))],
    };
  }) as unknown as CustomGradFn,
) as unknown as (x: tf.Tensor) => tf.Tensor;

/** Solve S X = V on the host in float64 by Cholesky; S (n,n) symmetric positive definite, V (n,c). */
export function choleskySolveHost(S: Float32Array | Float64Array, n: number, V: Float32Array | Float64Array, c: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0.5 * (S[i * n + j] + S[j * n + i]);
      for (let k = 0; k < j; k++) sum -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(sum > 0)) throw new Error(`ridge solve: matrix is not positive definite (pivot ${i} = ${sum}); increase lambda`);
        L[i * n + i] = Math.sqrt(sum);
      } else {
        L[i * n + j] = sum / L[j * n + j];
      }
    }
  }
  const X = new Float64Array(n * c);
  for (let col = 0; col < c; col++) {
    // forward substitution L y = v, then back substitution L^T x = y (in place in X)
    for (let i = 0; i < n; i++) {
      let sum = V[i * c + col];
      for (let k = 0; k < i; k++) sum -= L[i * n + k] * X[k * c + col];
      X[i * c + col] = sum / L[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let sum = X[i * c + col];
      for (let k = i + 1; k < n; k++) sum -= L[k * n + i] * X[k * c + col];
      X[i * c + col] = sum / L[i * n + i];
    }
  }
  return X;
}

function solveToTensor(S: tf.Tensor, V: tf.Tensor): tf.Tensor2D {
  const [n, c] = V.shape as [number, number];
  const x = choleskySolveHost(S.dataSync() as Float32Array, n, V.dataSync() as Float32Array, c);
  return tf.tensor2d(Float32Array.from(x), [n, c]);
}

/**
 * X = S^-1 V for symmetric positive definite S, differentiable in both S and V
 * (dV = S^-1 dX, dS = -S^-1 dX X^T). tfjs has no linear solver; the systems here are small (T x T).
 */
export const solveSpd: (S: tf.Tensor2D, V: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  ((S: tf.Tensor, V: tf.Tensor, save: tf.GradSaveFunc) => {
    if (S.rank !== 2 || V.rank !== 2 || S.shape[0] !== S.shape[1] || S.shape[0] !== V.shape[0]) {
      throw new Error(`solveSpd: need S (n,n) and V (n,c), got S ${JSON.stringify(S.shape)} and V ${JSON.stringify(V.shape)}`);
    }
    const X = solveToTensor(S, V);
    save([S, X]);
    return {
      value: X,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [s, x] = saved;
        const dV = solveToTensor(s, dy);
        const dS = tf.neg(tf.matMul(dV, x, false, true));
        return [dS, dV];
      },
    };
  }) as unknown as CustomGradFn,
) as unknown as (S: tf.Tensor2D, V: tf.Tensor2D) => tf.Tensor2D;

/** Identity in the forward pass, zero gradient (tfjs has no stop_gradient). */
export const stopGradient: <T extends tf.Tensor>(x: T) => T = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)],
})) as unknown as CustomGradFn) as unknown as <T extends tf.Tensor>(x: T) => T;

/**
 * Straight-through estimator: forward value exactly `hard`, gradient that of `soft`.
 * Written as hard + (soft - stopgrad(soft)), which equals stopgrad(hard - soft) + soft but keeps the
 * forward value bit-exact (x - x is exactly 0 in floating point, (h - g) + g is not always h).
 */
export function straightThrough(hard: tf.Tensor, soft: tf.Tensor): tf.Tensor {
  return tf.add(hard, tf.sub(soft, stopGradient(soft)));
}
