/**
 * Fused transformer ops: LayerNorm, RMSNorm (also Gemma's (1 + w)), tanh-GELU and the SwiGLU and GeGLU products. With the native accelerator
 * active on the wasm backend each is one kernel forward and one backward (fused-kernels.ts,
 * fused-gradients.ts) instead of 4-10 wasm kernels, each paying tfjs's per-op dispatch. Otherwise (no addon,
 * another backend, non-float32 inputs, parameters that are not plain [d] vectors) they compute the same
 * math with composite tf ops and the stock gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, fusedKernelsActive } from './fused-kernels';

/** 2 sqrt(2/pi): 0.5 (1 + tanh(z)) == sigmoid(2 z), so gelu_tanh(x) = x * sigmoid(x (A + B x^2)). */
const GELU_A = 2 * Math.sqrt(2 / Math.PI);
const GELU_B = 0.044715 * GELU_A;

/** The composite forms (also the reference of the fused kernels' self-test and tests); not exported from the package. */
export function compositeLayerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, eps: number): T {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta) as T;
  });
}

export function compositeRmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor, eps: number): T {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight) as T;
  });
}

export function compositeGeluTanh<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.square(x), GELU_B), GELU_A)))) as T);
}

export function compositeSiluMul<T extends tf.Tensor>(gate: T, up: T): T {
  return tf.tidy(() => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as T);
}

export function compositeGeluMul<T extends tf.Tensor>(gate: T, up: T): T {
  return tf.tidy(() => tf.mul(compositeGeluTanh(gate), up) as T);
}

export function compositeRotaryEmbedding<T extends tf.Tensor>(x: T, cos: tf.Tensor, sin: tf.Tensor): T {
  return tf.tidy(() => {
    const [x1, x2] = tf.split(x, 2, -1);
    return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], -1) as T;
  });
}

/**
 * Per-row softmax cross-entropy logsumexp(x_r) - x_r[label_r] with its gradient written out,
 * (softmax(x_r) - onehot(label_r)) dy_r, instead of differentiating logSumExp's max/exp/sum chain. Softmax is
 * one vectorised wasm kernel, while Exp (inside logSumExp) is scalar libm and several times slower, so
 * lse = max(x) - log(max(softmax(x))) (exact, and well conditioned: max(softmax) >= 1/V).
 */
export function compositeSoftmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const [P, V] = logits.shape;
  const op = tf.customGrad((...a: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = a as [tf.Tensor2D, tf.GradSaveFunc];
    const probs = tf.softmax(x);
    const lse = tf.sub(tf.max(x, 1), tf.log(tf.max(probs, 1)));
    const flat = tf.add(tf.mul(tf.range(0, P, 1, 'int32'), tf.scalar(V, 'int32')), labels);
    const picked = tf.gather(tf.reshape(x, [P * V]), flat);
    // Tensors the backward needs must be saved: everything else made in the forward's scope is gone by then.
    save([probs, labels]);
    return {
      value: tf.sub(lse, picked) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.mul(tf.sub(saved[0], tf.oneHot(saved[1] as tf.Tensor1D, V)), tf.reshape(dy, [P, 1])),
    };
  });
  return tf.tidy(() => op(logits) as tf.Tensor1D);
}

/**
 * Runs each fused kernel on a small input and compares it with the composite form; returns a description of
 * the first mismatch, or undefined. Call only while the fused kernels are registered and wasm is the backend.
 */
export function fusedSelfTest(): string | undefined {
  return tf.tidy(() => {
    const x = tf.tensor2d([0.5, -1.25, 2, 3.5, -0.75, 0.125, 1.5, -2.5], [2, 4]);
    const u = tf.tensor2d([1, -0.5, 0.25, 2, -1.5, 0.75, 3, -2], [2, 4]);
    const g = tf.tensor1d([1.5, -0.5, 0.25, 2]);
    const b = tf.tensor1d([0.1, 0.2, -0.3, 0.4]);
    const cases: [string, tf.Tensor, tf.Tensor][] = [
      ['layerNorm', layerNorm(x, g, b, 1e-5), compositeLayerNorm(x, g, b, 1e-5)],
      ['rmsNorm', rmsNorm(x, g, 1e-6), compositeRmsNorm(x, g, 1e-6)],
      ['rmsNorm (1 + w)', rmsNorm(x, g, 1e-6, 1), compositeRmsNorm(x, tf.add(g, 1), 1e-6)],
      ['geluTanh', geluTanh(x), compositeGeluTanh(x)],
      ['siluMul', siluMul(x, u), compositeSiluMul(x, u)],
      ['geluMul', geluMul(x, u), compositeGeluMul(x, u)],
      ['softmaxCrossEntropy', softmaxCrossEntropy(x, [3, 0]), compositeSoftmaxCrossEntropy(x, tf.tensor1d([3, 0], 'int32'))],
      ['rotaryEmbedding', rotaryEmbedding(x, g.reshape([2, 2]), b.reshape([2, 2])), compositeRotaryEmbedding(x, g.reshape([2, 2]), b.reshape([2, 2]))],
    ];
    for (const [name, got, want] of cases) {
      const err = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0];
      if (!(err <= 1e-5)) return `fused ${name} self-test mismatch (max |diff| ${err})`;
    }
    return undefined;
  });
}

function fusedAvailable(): boolean {
  return fusedKernelsActive() && tf.getBackend() === 'wasm';
}

function isF32(...ts: tf.Tensor[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

function isVectorOf(t: tf.Tensor, d: number): boolean {
  return t.rank === 1 && t.shape[0] === d;
}

function checkEps(op: string, eps: number): void {
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${op}: eps must be a finite non-negative number, got ${String(eps)}`);
}

/**
 * LayerNorm over the last axis, as torch.nn.LayerNorm (biased variance):
 * (x - mean) / sqrt(var + eps) * gamma + beta. gamma and beta broadcast against x (normally shape [d]).
 */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, eps: number): T {
  checkEps('layerNorm', eps);
  if (x.rank < 1) throw new Error('layerNorm: x must have at least one dimension');
  const d = x.shape[x.rank - 1];
  if (fusedAvailable() && isF32(x, gamma, beta) && isVectorOf(gamma, d) && isVectorOf(beta, d)) {
    return tf.engine().runKernel(FUSED_KERNELS.layerNorm, { x, gamma, beta }, { eps }) as T;
  }
  return compositeLayerNorm(x, gamma, beta, eps);
}

/**
 * RMSNorm as Llama: x / sqrt(mean(x^2) + eps) * (weightOffset + weight) over the last axis. weightOffset 1 is
 * Gemma's (1 + w) (its weights are stored as offsets from 1); the gradient reaches `weight` either way. With the
 * accelerator the offset is applied inside the kernel, without an Add per norm.
 */
export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor, eps: number, weightOffset = 0): T {
  checkEps('rmsNorm', eps);
  if (typeof weightOffset !== 'number' || !Number.isFinite(weightOffset)) throw new Error(`rmsNorm: weightOffset must be a finite number, got ${String(weightOffset)}`);
  if (x.rank < 1) throw new Error('rmsNorm: x must have at least one dimension');
  const d = x.shape[x.rank - 1];
  if (fusedAvailable() && isF32(x, weight) && isVectorOf(weight, d)) {
    const attrs: tf.NamedAttrMap = weightOffset === 0 ? { eps } : { eps, offset: weightOffset };
    return tf.engine().runKernel(FUSED_KERNELS.rmsNorm, { x, weight }, attrs) as T;
  }
  if (weightOffset === 0) return compositeRmsNorm(x, weight, eps);
  return tf.tidy(() => compositeRmsNorm(x, tf.add(weight, weightOffset), eps));
}

/**
 * GELU, tanh approximation (Hugging Face gelu_new / gelu_pytorch_tanh), computed as x * sigmoid(2z): equal to
 * 0.5 x (1 + tanh(z)), z = sqrt(2/pi) (x + 0.044715 x^3), without cancellation for negative x, and the
 * composite path avoids wasm's slow Tanh.
 */
export function geluTanh<T extends tf.Tensor>(x: T): T {
  if (fusedAvailable() && isF32(x)) return tf.engine().runKernel(FUSED_KERNELS.geluTanh, { x }) as T;
  return compositeGeluTanh(x);
}

function checkGated(op: string, gate: tf.Tensor, up: tf.Tensor): void {
  if (gate.rank !== up.rank || gate.shape.some((s, i) => s !== up.shape[i])) {
    throw new Error(`${op}: gate ${JSON.stringify(gate.shape)} and up ${JSON.stringify(up.shape)} must have the same shape`);
  }
}

/** The SwiGLU product silu(gate) * up = gate * sigmoid(gate) * up; gate and up have the same shape. */
export function siluMul<T extends tf.Tensor>(gate: T, up: T): T {
  checkGated('siluMul', gate, up);
  if (fusedAvailable() && isF32(gate, up)) return tf.engine().runKernel(FUSED_KERNELS.siluMul, { gate, up }) as T;
  return compositeSiluMul(gate, up);
}

/**
 * The GeGLU product gelu_tanh(gate) * up (Gemma's MLP, hidden_activation gelu_pytorch_tanh); gate and up have the
 * same shape. With the accelerator one kernel each way, rounding exactly as geluTanh(gate) times up.
 */
export function geluMul<T extends tf.Tensor>(gate: T, up: T): T {
  checkGated('geluMul', gate, up);
  if (fusedAvailable() && isF32(gate, up)) return tf.engine().runKernel(FUSED_KERNELS.geluMul, { gate, up }) as T;
  return compositeGeluMul(gate, up);
}

/**
 * Rotary position embedding in the rotate_half convention (Hugging Face Llama): x (..., T, headDim) with
 * tables cos, sin (T, headDim / 2) gives [x1 cos - x2 sin, x2 cos + x1 sin] for the halves x1, x2 of the last
 * axis. Differentiable in x only (the tables are constants).
 */
export function rotaryEmbedding<T extends tf.Tensor>(x: T, cos: tf.Tensor, sin: tf.Tensor): T {
  if (x.rank < 2 || x.shape[x.rank - 1] % 2 !== 0) throw new Error(`rotaryEmbedding: x must be (..., T, headDim) with an even headDim, got ${JSON.stringify(x.shape)}`);
  const T = x.shape[x.rank - 2];
  const half = x.shape[x.rank - 1] / 2;
  const table = (t: tf.Tensor): boolean => t.rank === 2 && t.shape[0] === T && t.shape[1] === half;
  if (fusedAvailable() && isF32(x, cos, sin) && table(cos) && table(sin)) {
    return tf.engine().runKernel(FUSED_KERNELS.rope, { x, cos, sin }, { inverse: false }) as T;
  }
  return compositeRotaryEmbedding(x, cos, sin);
}

/**
 * Softmax cross-entropy of each row of `logits` (rows, V) against its label: logsumexp(x_r) - x_r[label_r]
 * (mean it for the usual loss). Differentiable in the logits; with the accelerator one kernel forward and
 * one backward, never materialising the (rows, V) softmax or one-hot matrices.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: readonly number[]): tf.Tensor1D {
  if (logits.rank !== 2) throw new Error(`softmaxCrossEntropy: logits must be (rows, V), got ${JSON.stringify(logits.shape)}`);
  const [P, V] = logits.shape;
  if (labels.length !== P) throw new Error(`softmaxCrossEntropy: ${labels.length} labels for ${P} rows of logits`);
  labels.forEach((l, r) => {
    if (!Number.isInteger(l) || l < 0 || l >= V) throw new Error(`softmaxCrossEntropy: label ${l} of row ${r} is outside [0, ${V})`);
  });
  return tf.tidy(() => {
    const labelT = tf.tensor1d(labels as number[], 'int32');
    if (fusedAvailable() && isF32(logits) && P > 0 && V > 0) {
      return tf.engine().runKernel(FUSED_KERNELS.crossEntropy, { logits, labels: labelT }) as tf.Tensor1D;
    }
    return compositeSoftmaxCrossEntropy(logits, labelT);
  });
}
