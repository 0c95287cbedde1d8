/**
 * Key-covariance preconditioner of the MEND-style low-level shift (issue 5): the shift's left factor
 * K~^T is replaced by (C + lambda * tr(C)/d * I)^-1 K~^T, rescaled to the Frobenius norm of K~^T, where C is the
 * second moment of the module's raw keys over the training prompts. This is ROME's idea applied to a learned
 * shift: directions in which keys of other prompts commonly lie are damped, so an edit disturbs fewer unrelated facts.
 *
 * C is estimated once before training and then frozen (edits never update it), so rollback, replay and an
 * exported editor reproduce the same shifts whatever the order of edits.
 */
import { tf } from '@hiedit/tensor-core';
import type { EditableModel, TokenizedEditRequest, TokenizedTuple } from '@hiedit/tensor-core';
import { choleskySolveHost } from './ops';

/** Which tuples of the training requests the key covariance is estimated over. */
export type KeyCovarianceSource = 'edit' | 'edit+locality';

/**
 * The tuples the covariance is estimated over. Locality prompts are the "other facts" an edit should not disturb,
 * which is exactly the population whose key directions the preconditioner should damp; paraphrases are left out
 * because they share the edited subject and would damp the very direction the edit has to move.
 */
export function covarianceTuples(requests: readonly TokenizedEditRequest[], source: KeyCovarianceSource = 'edit+locality'): TokenizedTuple[] {
  const out: TokenizedTuple[] = [];
  for (const r of requests) {
    out.push(r.edit);
    if (source === 'edit+locality') out.push(...r.locality);
  }
  return out;
}

/**
 * Second moment C = (1/N) sum_t k_t k_t^T of each module's raw keys over every token position of `tuples`, under
 * the model's current weights (the trainer calls it with the base weights). Accumulated in float64 on the host so
 * the result does not depend on how the tuples are batched. Returns row-major (dIn, dIn) float32 matrices.
 */
export function estimateKeyCovariances(
  model: Pick<EditableModel, 'trace' | 'module'>,
  modules: readonly string[],
  tuples: readonly TokenizedTuple[],
): Map<string, Float32Array> {
  if (tuples.length === 0) throw new Error('key preconditioner: no tuples to estimate the key covariance from');
  if (modules.length === 0) throw new Error('key preconditioner: no modules to estimate the key covariance of');
  const sums = new Map<string, Float64Array>();
  for (const n of modules) {
    const d = model.module(n).dIn;
    sums.set(n, new Float64Array(d * d));
  }
  let tokens = 0;
  for (const tuple of tuples) {
    const trace = model.trace(tuple, modules, 'all');
    try {
      for (const n of modules) {
        const f = trace.features.get(n);
        if (!f) throw new Error(`key preconditioner: the trace has no features for module ${n}`);
        const kk = tf.tidy(() => tf.matMul(f.keys, f.keys, true, false));
        let data: Float32Array;
        try {
          data = kk.dataSync() as Float32Array;
        } finally {
          kk.dispose();
        }
        const acc = sums.get(n)!;
        for (let j = 0; j < acc.length; j++) acc[j] += data[j];
      }
      tokens += trace.features.get(modules[0])!.keys.shape[0];
    } finally {
      for (const f of trace.features.values()) {
        f.keys.dispose();
        f.valueGrads.dispose();
      }
    }
  }
  const out = new Map<string, Float32Array>();
  for (const [n, acc] of sums) {
    const c = new Float32Array(acc.length);
    for (let j = 0; j < acc.length; j++) c[j] = acc[j] / tokens;
    out.set(n, c);
  }
  return out;
}

/**
 * (C + lambda * tr(C)/d * I)^-1 for a (d, d) second moment C, by a float64 Cholesky solve against the identity.
 * Scaling the ridge by the mean eigenvalue tr(C)/d makes lambda dimensionless (the same lambda means the same
 * damping whatever the scale of the keys); lambda -> infinity gives a multiple of the identity (no preconditioning).
 */
export function preconditionerInverse(cov: Float32Array, d: number, lambda: number, source = 'key preconditioner'): Float32Array {
  if (cov.length !== d * d) throw new Error(`${source}: covariance has ${cov.length} entries, expected ${d}x${d}`);
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw new Error(`${source}: lambda must be a finite number > 0, got ${lambda}`);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += cov[i * d + i];
  if (!(trace > 0) || !Number.isFinite(trace)) throw new Error(`${source}: covariance trace is ${trace}; the keys are all zero or not finite`);
  const ridge = (lambda * trace) / d;
  const S = new Float64Array(d * d);
  for (let j = 0; j < S.length; j++) S[j] = cov[j];
  for (let i = 0; i < d; i++) S[i * d + i] += ridge;
  const I = new Float64Array(d * d);
  for (let i = 0; i < d; i++) I[i * d + i] = 1;
  const inv = choleskySolveHost(S, d, I, d);
  const out = new Float32Array(d * d);
  // symmetrize: the two triangles of a solve differ by rounding, and a symmetric inverse keeps C^-1 k exact to transpose
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] = 0.5 * (inv[i * d + j] + inv[j * d + i]);
  return out;
}

/**
 * The preconditioned left factor P^-1 K~^T, rescaled so the learned step size keeps its meaning: without
 * `rawKeys`, to the Frobenius norm of K~^T (only the direction changes); with the edit's raw keys K (T, dIn), so
 * that ||K P^-1 K~^T||_F = ||K K~^T||_F (the edited prompt responds as strongly as without the preconditioner).
 * Differentiable in `leftT`; call inside tf.tidy or a gradient function.
 */
export function preconditionLeft(pinv: tf.Tensor2D, leftT: tf.Tensor2D, rawKeys?: tf.Tensor2D): tf.Tensor2D {
  const p = tf.matMul(pinv, leftT);
  // the floor keeps the gradient of sqrt finite for an all-zero factor (never reached in practice)
  const frob = (x: tf.Tensor) => tf.sqrt(tf.maximum(tf.sum(tf.mul(x, x)), 1e-30));
  const scale = rawKeys ? tf.div(frob(tf.matMul(rawKeys, leftT)), frob(tf.matMul(rawKeys, p))) : tf.div(frob(leftT), frob(p));
  return tf.mul(p, scale) as tf.Tensor2D;
}
