/**
 * Low-level policy (spec §3.2): one MEND-style network per shape group that maps a module's keys and
 * value gradients to a rank-T weight shift, either MEND style (-eta K~^T G~) or MALMEN style (ridge solve).
 */
import { tf, RunningNormalizer, SeededRandom, randomNormal, shapeKey } from '@hiedit/tensor-core';
import type { ModuleDescriptor } from '@hiedit/tensor-core';
import type { LowLevelConfig } from './config';
import { preconditionLeft, preconditionerInverse } from './key-precond';
import { reluOpenAtZero, solveSpd } from './ops';
import type { ParamSet } from './params';

/** A shift in factored form: delta = left (dIn, T) x right (T, dOut). */
export interface FactoredShift {
  left: tf.Tensor2D;
  right: tf.Tensor2D;
}

/** Which algebraic form the ridge solve uses. 'auto' picks the T x T form when T < dIn. */
export type RidgeForm = 'auto' | 'tokens' | 'normal';

/**
 * MALMEN-style ridge solution dW = argmin sum_j ||k_j dW - v_j||^2 + exp(logLambda) ||dW||^2, factored.
 * 'tokens': dW = K^T (K K^T + e^l I)^-1 V (T x T system); 'normal': dW = (K^T K + e^l I)^-1 K^T V.
 * Both are exact and differentiable in V and logLambda.
 */
export function ridgeShift(keys: tf.Tensor2D, values: tf.Tensor2D, logLambda: tf.Scalar, form: RidgeForm = 'auto'): FactoredShift {
  const [T, dIn] = keys.shape;
  const useTokens = form === 'tokens' || (form === 'auto' && T < dIn);
  const lam = tf.exp(logLambda);
  if (useTokens) {
    const gram = tf.add(tf.matMul(keys, keys, false, true), tf.mul(tf.eye(T), lam)) as tf.Tensor2D;
    return { left: tf.transpose(keys) as tf.Tensor2D, right: solveSpd(gram, values) };
  }
  const gram = tf.add(tf.matMul(keys, keys, true, false), tf.mul(tf.eye(dIn), lam)) as tf.Tensor2D;
  return { left: solveSpd(gram, tf.transpose(keys) as tf.Tensor2D), right: values };
}

/** The low-level network of one shape group. Parameters live in the policy's ParamSet under `low.<dIn>x<dOut>.`. */
export class LowLevelGroup {
  readonly key: string;
  readonly dIn: number;
  readonly dOut: number;
  /** Feature width D = dIn + dOut. */
  readonly width: number;
  readonly rank: number;
  /** Module names of this group, in policy order; a module's index here selects its s, o, logEta, logLambda rows. */
  readonly moduleNames: string[];
  normalizer: RunningNormalizer;
  /** Per module (group order): the frozen key second moment C and the inverse it implies, or null before estimation. */
  private readonly keyCov: ({ cov: Float32Array; pinv: tf.Tensor2D } | null)[];

  constructor(
    readonly config: LowLevelConfig,
    modules: readonly ModuleDescriptor[],
    private readonly params: ParamSet,
    rng: SeededRandom,
  ) {
    this.dIn = modules[0].dIn;
    this.dOut = modules[0].dOut;
    this.key = shapeKey(modules[0]);
    this.width = this.dIn + this.dOut;
    this.rank = Math.min(config.rank, this.width);
    this.moduleNames = modules.map((m) => m.name);
    this.normalizer = new RunningNormalizer(this.width, config.normEps);
    this.keyCov = modules.map(() => null);
    const n = modules.length;
    const D = this.width;
    const std = config.initScaleA / Math.sqrt(D);
    for (let b = 0; b < config.blocks; b++) {
      params.add(this.p(`block${b}.A`), randomNormal([D, this.rank], rng.fork(`${this.key}.block${b}.A`), std));
      params.add(this.p(`block${b}.B`), tf.zeros([this.rank, D]));
      params.add(this.p(`block${b}.c`), tf.zeros([D]));
      params.add(this.p(`block${b}.scale`), tf.ones([n, D]));
      params.add(this.p(`block${b}.shift`), tf.zeros([n, D]));
    }
    // eta = exp(logEta): positive by construction, and Adam's roughly constant-size steps on logEta are
    // relative changes of eta, the same at eta 1e-2 as at 1e-6 (a raw eta could cross zero and reverse the edit).
    params.add(this.p('logEta'), tf.fill([n], Math.log(config.initEta)));
    if (config.style === 'malmen') params.add(this.p('logLambda'), tf.fill([n], config.initLogLambda));
  }

  /** Saved name of a parameter of this group. */
  p(local: string): string {
    return `low.${this.key}.${local}`;
  }

  /** Index of a module inside the group. */
  indexOf(name: string): number {
    const i = this.moduleNames.indexOf(name);
    if (i < 0) throw new Error(`low-level group ${this.key} has no module ${name}`);
    return i;
  }

  private row(param: string, i: number): tf.Tensor {
    const v = this.params.get(this.p(param));
    return v.rank === 1 ? tf.slice(v, [i], [1]).reshape([]) : tf.slice(v, [i, 0], [1, -1]);
  }

  /** The step size eta = exp(logEta) of module `moduleIndex`, a differentiable scalar. */
  eta(moduleIndex: number): tf.Scalar {
    return tf.exp(this.row('logEta', moduleIndex)) as tf.Scalar;
  }

  /**
   * The network itself on normalized features x (T, D): h <- h + s[m] * relu(h A B + c) + o[m] per block.
   * Returns (K~, G~). Call inside tf.tidy / a gradient function.
   */
  transform(x: tf.Tensor2D, moduleIndex: number): { keys: tf.Tensor2D; grads: tf.Tensor2D } {
    let h: tf.Tensor2D = x;
    for (let b = 0; b < this.config.blocks; b++) {
      const A = this.params.get(this.p(`block${b}.A`));
      const B = this.params.get(this.p(`block${b}.B`));
      const c = this.params.get(this.p(`block${b}.c`));
      const pre = tf.add(tf.matMul(tf.matMul(h, A), B), c);
      const u = tf.add(tf.mul(reluOpenAtZero(pre), this.row(`block${b}.scale`, moduleIndex)), this.row(`block${b}.shift`, moduleIndex));
      h = tf.add(h, u) as tf.Tensor2D;
    }
    return {
      keys: tf.slice(h, [0, 0], [-1, this.dIn]) as tf.Tensor2D,
      grads: tf.slice(h, [0, this.dIn], [-1, this.dOut]) as tf.Tensor2D,
    };
  }

  /** Features [K | G] normalized by the group's running statistics (no gradient flows into them). */
  normalizedInput(keys: tf.Tensor2D, valueGrads: tf.Tensor2D): tf.Tensor2D {
    return this.normalizer.normalize(tf.concat([keys, valueGrads], 1) as tf.Tensor2D);
  }

  /** Fold a module's features into the running statistics. */
  updateNormalizer(keys: tf.Tensor2D, valueGrads: tf.Tensor2D): void {
    const x = tf.concat([keys, valueGrads], 1) as tf.Tensor2D;
    try {
      this.normalizer.update(x);
    } finally {
      x.dispose();
    }
  }

  /** Whether module `name` has its key covariance. */
  hasKeyCovariance(name: string): boolean {
    return this.keyCov[this.indexOf(name)] !== null;
  }

  /**
   * Set module `name`'s frozen key second moment C (row-major dIn x dIn; copied). Computes the preconditioner
   * inverse once, so every later shift is one matMul. Refused when the policy has no preconditioner configured.
   */
  setKeyCovariance(name: string, cov: ArrayLike<number>, source = 'key preconditioner'): void {
    const kp = this.config.keyPreconditioner;
    if (!kp) throw new Error(`${source}: module ${name} has a key covariance but the policy has no low.keyPreconditioner`);
    const i = this.indexOf(name);
    if (cov.length !== this.dIn * this.dIn) throw new Error(`${source}: key covariance of ${name} has ${cov.length} entries, expected ${this.dIn}x${this.dIn}`);
    const c = Float32Array.from(cov);
    for (let j = 0; j < c.length; j++) if (!Number.isFinite(c[j])) throw new Error(`${source}: key covariance of ${name} has a non-finite entry at ${j}`);
    const pinv = tf.tensor2d(preconditionerInverse(c, this.dIn, kp.lambda, `${source}: module ${name}`), [this.dIn, this.dIn]);
    this.keyCov[i]?.pinv.dispose();
    this.keyCov[i] = { cov: c, pinv };
  }

  /** Module `name`'s key covariance (a copy), or null before estimation. */
  keyCovariance(name: string): Float32Array | null {
    const k = this.keyCov[this.indexOf(name)];
    return k ? Float32Array.from(k.cov) : null;
  }

  /** (K~, G~) mapped back through the normalizer: the inverse of normalizedInput for an identity network. */
  private toModuleSpace(t: { keys: tf.Tensor2D; grads: tf.Tensor2D }): { keys: tf.Tensor2D; grads: tf.Tensor2D } {
    const h = this.normalizer.denormalize(tf.concat([t.keys, t.grads], 1) as tf.Tensor2D);
    return { keys: tf.slice(h, [0, 0], [-1, this.dIn]) as tf.Tensor2D, grads: tf.slice(h, [0, this.dIn], [-1, this.dOut]) as tf.Tensor2D };
  }

  /** The factored shift for module `name` from its raw keys (T, dIn) and value gradients (T, dOut). */
  shift(name: string, keys: tf.Tensor2D, valueGrads: tf.Tensor2D, ridgeForm: RidgeForm = 'auto'): FactoredShift {
    const i = this.indexOf(name);
    const x = this.normalizedInput(keys, valueGrads);
    const t = this.transform(x, i);
    const eta = this.eta(i);
    if (this.config.style === 'mend') {
      const f = this.config.factorSpace === 'module' ? this.toModuleSpace(t) : t;
      let left = tf.transpose(f.keys) as tf.Tensor2D;
      const k = this.keyCov[i]; // set only when the policy is configured with a preconditioner
      // Until training estimates C (an untrained policy has seen no prompts to estimate it from) the shift is the
      // plain one; HiEditPolicy.keyPreconditionerReady says which. The gradient flows through the preconditioned
      // factor: the policy is trained as it is used.
      if (k) left = preconditionLeft(k.pinv, left, this.config.keyPreconditioner!.rescale === 'response' ? keys : undefined);
      return { left: tf.mul(left, tf.neg(eta)) as tf.Tensor2D, right: f.grads };
    }
    // MALMEN: targets v_j = c_j g~_j with c_j = -eta <k_j, k~_j>, then the ridge solve over the raw keys.
    const coef = tf.mul(tf.sum(tf.mul(keys, t.keys), 1, true), tf.neg(eta));
    const values = tf.mul(t.grads, coef) as tf.Tensor2D;
    return ridgeShift(keys, values, this.row('logLambda', i) as tf.Scalar, ridgeForm);
  }

  dispose(): void {
    this.normalizer.dispose();
    for (let i = 0; i < this.keyCov.length; i++) {
      this.keyCov[i]?.pinv.dispose();
      this.keyCov[i] = null;
    }
  }
}
