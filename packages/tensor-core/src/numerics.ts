/**
 * Numerics every hiedit package uses: masked cross-entropy, KL divergence, a running mean/std
 * normalizer and global-norm gradient clipping.
 */
import * as tf from '@tensorflow/tfjs';
import { IGNORE_INDEX } from './types';

/**
 * Mean cross-entropy over the positions whose label is not `ignoreIndex` (PyTorch semantics).
 * When every label is ignored the loss is 0 (not NaN) and so is its gradient.
 * @param logits (..., V) float logits
 * @param labels (...) integer labels in [0, V) or `ignoreIndex`
 */
export function maskedCrossEntropy(logits: tf.Tensor, labels: tf.Tensor, ignoreIndex: number = IGNORE_INDEX): tf.Scalar {
  const lead = logits.shape.slice(0, -1);
  const vocab = logits.shape[logits.shape.length - 1];
  if (logits.rank < 1 || vocab === undefined || vocab < 1) {
    throw new Error(`maskedCrossEntropy: logits must have a vocabulary axis, got shape [${logits.shape.join(', ')}]`);
  }
  if (labels.shape.length !== lead.length || labels.shape.some((d, i) => d !== lead[i])) {
    throw new Error(
      `maskedCrossEntropy: labels shape [${labels.shape.join(', ')}] must equal logits shape without its last axis [${lead.join(', ')}]`,
    );
  }
  // Out-of-range labels would silently select nothing through oneHot: check them (labels are small).
  const labelValues = labels.dataSync();
  for (let i = 0; i < labelValues.length; i++) {
    const l = labelValues[i] as number;
    if (l === ignoreIndex) continue;
    if (!Number.isInteger(l) || l < 0 || l >= vocab) {
      throw new Error(`maskedCrossEntropy: label ${l} at flat index ${i} is outside [0, ${vocab}) and is not the ignore index ${ignoreIndex}`);
    }
  }
  return tf.tidy(() => {
    const n = labelValues.length;
    const flatLogits = tf.reshape(logits, [n, vocab]);
    const flatLabels = tf.cast(tf.reshape(labels, [n]), 'int32');
    const keep = tf.notEqual(flatLabels, tf.scalar(ignoreIndex, 'int32'));
    const safeLabels = tf.where(keep, flatLabels, tf.zerosLike(flatLabels));
    // logSoftmax subtracts the row max before exponentiating: stable for large logits.
    const logp = tf.logSoftmax(flatLogits);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(safeLabels, vocab)), -1);
    const keepF = tf.cast(keep, 'float32');
    const count = tf.maximum(tf.sum(keepF), tf.scalar(1));
    // 0 - x rather than -x: an all-ignored batch must give +0, not -0.
    return tf.div(tf.sub(tf.scalar(0), tf.sum(tf.mul(picked, keepF))), count) as tf.Scalar;
  });
}

/**
 * Mean over rows of KL(p_before || p_after) = sum_v p_b (log p_b - log p_a), from log-probabilities.
 * Entries with p_before = 0 contribute 0 even when log p_before is -Inf. Zero rows give 0.
 */
export function klDivergence(logpBefore: tf.Tensor2D, logpAfter: tf.Tensor2D): tf.Scalar {
  if (logpBefore.rank !== 2 || logpAfter.rank !== 2 || logpBefore.shape.some((d, i) => d !== logpAfter.shape[i])) {
    throw new Error(
      `klDivergence: expected two (P, V) tensors of the same shape, got [${logpBefore.shape.join(', ')}] and [${logpAfter.shape.join(', ')}]`,
    );
  }
  const rows = logpBefore.shape[0];
  return tf.tidy(() => {
    if (rows === 0) return tf.scalar(0);
    const p = tf.exp(logpBefore);
    const positive = tf.greater(p, 0);
    // Replace -Inf log-probs where p = 0 before subtracting, so 0 * (-Inf) never yields NaN.
    const safeBefore = tf.where(positive, logpBefore, tf.zerosLike(logpBefore));
    const terms = tf.where(positive, tf.mul(p, tf.sub(safeBefore, logpAfter)), tf.zerosLike(p));
    return tf.div(tf.sum(terms), tf.scalar(rows)) as tf.Scalar;
  });
}

/** Serialized form of a RunningNormalizer. */
export interface RunningNormalizerJSON {
  dim: number;
  eps: number;
  count: number;
  mean: number[];
  m2: number[];
}

/**
 * Per-feature running mean and standard deviation over rows, merged batch by batch with the parallel
 * update of Chan, Golub & LeVeque (numerically sound, no catastrophic cancellation). Statistics are kept in
 * float64 on the host.
 */
export class RunningNormalizer {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private disposed = false;

  /**
   * @param dim features per row
   * @param eps floor of the standard deviation, so constant features do not divide by zero
   */
  constructor(
    readonly dim: number,
    readonly eps: number = 1e-8,
  ) {
    if (!Number.isSafeInteger(dim) || dim < 1) throw new Error(`RunningNormalizer: dim must be a positive integer, got ${dim}`);
    if (!Number.isFinite(eps) || eps <= 0) throw new Error(`RunningNormalizer: eps must be finite and > 0, got ${eps}`);
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
  }

  /** Rows seen so far. */
  get count(): number {
    return this.n;
  }

  private check(x: tf.Tensor, what: string): void {
    if (this.disposed) throw new Error(`RunningNormalizer.${what}: the normalizer was disposed`);
    if (x.rank !== 2 || x.shape[1] !== this.dim) {
      throw new Error(`RunningNormalizer.${what}: expected (rows, ${this.dim}), got [${x.shape.join(', ')}]`);
    }
  }

  /** Merges the rows of `x` (rows, dim) into the statistics. Refuses non-finite values. */
  update(x: tf.Tensor2D): void {
    this.check(x, 'update');
    const rows = x.shape[0];
    if (rows === 0) return;
    const v = x.dataSync();
    const d = this.dim;
    const bMean = new Float64Array(d);
    const bM2 = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) {
        const val = v[r * d + j] as number;
        if (!Number.isFinite(val)) throw new Error(`RunningNormalizer.update: non-finite value ${val} at row ${r}, feature ${j}`);
        bMean[j] += val;
      }
    }
    for (let j = 0; j < d; j++) bMean[j] /= rows;
    // Two-pass within the batch: exact for the batch, then merged with Chan's formula.
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) {
        const dev = (v[r * d + j] as number) - bMean[j];
        bM2[j] += dev * dev;
      }
    }
    const na = this.n;
    const total = na + rows;
    for (let j = 0; j < d; j++) {
      const delta = bMean[j] - this.mean[j];
      this.mean[j] += (delta * rows) / total;
      this.m2[j] += bM2[j] + ((delta * delta * na) / total) * rows;
    }
    this.n = total;
  }

  /** Per-feature standard deviation sqrt(M2 / (count - 1)) floored at eps; 1 while count < 2. */
  std(): Float64Array {
    const out = new Float64Array(this.dim);
    for (let j = 0; j < this.dim; j++) out[j] = this.n < 2 ? 1 : Math.max(Math.sqrt(this.m2[j] / (this.n - 1)), this.eps);
    return out;
  }

  /** Current per-feature mean (a copy). */
  means(): Float64Array {
    return this.mean.slice();
  }

  /**
   * (x - mean) / std per feature; a new tensor the caller disposes. With fewer than two rows seen the
   * statistics mean nothing yet, so x is returned unchanged (as a copy).
   */
  normalize(x: tf.Tensor2D): tf.Tensor2D {
    return this.withStats(x, 'normalize', (v, mean, std) => tf.div(tf.sub(v, mean), std));
  }

  /**
   * x * std + mean per feature, the inverse of `normalize` (same statistics, same rule below two rows: x unchanged,
   * as a copy); a new tensor the caller disposes. Differentiable in x.
   */
  denormalize(x: tf.Tensor2D): tf.Tensor2D {
    return this.withStats(x, 'denormalize', (v, mean, std) => tf.add(tf.mul(v, std), mean));
  }

  /** `f(x, mean, std)` with the statistics as (1, dim) rows; x itself (copied) while fewer than two rows were seen. */
  private withStats(x: tf.Tensor2D, what: string, f: (x: tf.Tensor2D, mean: tf.Tensor2D, std: tf.Tensor2D) => tf.Tensor): tf.Tensor2D {
    this.check(x, what);
    if (this.n < 2) return tf.clone(x);
    const mean = Float32Array.from(this.mean);
    const std = Float32Array.from(this.std());
    return tf.tidy(() => f(x, tf.tensor2d(mean, [1, this.dim]), tf.tensor2d(std, [1, this.dim])) as tf.Tensor2D);
  }

  /** Exact serialization (float64 values survive JSON unchanged). */
  toJSON(): RunningNormalizerJSON {
    return { dim: this.dim, eps: this.eps, count: this.n, mean: Array.from(this.mean), m2: Array.from(this.m2) };
  }

  /** Inverse of toJSON; throws a clear error on malformed input. */
  static fromJSON(o: object): RunningNormalizer {
    const j = o as Partial<RunningNormalizerJSON>;
    const bad = (field: string): never => {
      throw new Error(`RunningNormalizer.fromJSON: invalid or missing field "${field}"`);
    };
    if (!j || typeof j !== 'object') bad('(object)');
    if (!Number.isSafeInteger(j.dim) || (j.dim as number) < 1) bad('dim');
    if (typeof j.eps !== 'number' || !(j.eps > 0)) bad('eps');
    if (!Number.isSafeInteger(j.count) || (j.count as number) < 0) bad('count');
    const dim = j.dim as number;
    const okArray = (a: unknown): a is number[] => Array.isArray(a) && a.length === dim && a.every((v) => typeof v === 'number' && Number.isFinite(v));
    if (!okArray(j.mean)) bad('mean');
    if (!okArray(j.m2) || (j.m2 as number[]).some((v) => v < 0)) bad('m2');
    const r = new RunningNormalizer(dim, j.eps as number);
    r.n = j.count as number;
    r.mean.set(j.mean as number[]);
    r.m2.set(j.m2 as number[]);
    return r;
  }

  /** Releases the normalizer; later calls throw. It holds no tensors, so this only guards misuse. */
  dispose(): void {
    this.disposed = true;
  }
}

/**
 * Scales `grads` so their joint L2 norm is at most `maxNorm` (PyTorch's clip_grad_norm_ coefficient
 * maxNorm / (norm + 1e-6), never above 1). Always returns new tensors the caller disposes; the inputs are
 * untouched. A non-finite norm is returned as is with unscaled copies, so the caller can skip the step.
 */
export function clipByGlobalNorm<T extends tf.Tensor>(grads: T[], maxNorm: number): { clipped: T[]; norm: number } {
  if (!Number.isFinite(maxNorm) || maxNorm <= 0) throw new Error(`clipByGlobalNorm: maxNorm must be finite and > 0, got ${maxNorm}`);
  if (grads.length === 0) return { clipped: [], norm: 0 };
  const normT = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(tf.cast(g, 'float32')))))));
  const norm = normT.dataSync()[0];
  normT.dispose();
  const coef = Number.isFinite(norm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  const clipped = grads.map((g) => (coef < 1 ? tf.tidy(() => tf.mul(g, tf.scalar(coef))) : tf.clone(g)) as T);
  return { clipped, norm };
}
