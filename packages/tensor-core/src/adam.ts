/**
 * Adam with explicit, serializable state. tf.train.adam hides its moments, so a run could neither be
 * saved and resumed bitwise nor reproduced from a seed; this one keeps every moment as a named tensor.
 */
import * as tf from '@tensorflow/tfjs';

/** Adam hyper-parameters. */
export interface AdamConfig {
  /** Default learning rate (a call to {@link Adam.apply} may pass its own, e.g. for a schedule). */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (AdamW); 0 or absent disables it. */
  weightDecay?: number;
  /** Clip the global norm of the gradients before the update; 0 or absent disables clipping. */
  clipNorm?: number;
}

/** Adam's usual settings. */
export const DEFAULT_ADAM: AdamConfig = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** What Adam updates: named variables in a fixed order (the order is part of determinism). */
export interface NamedVariables {
  names(): readonly string[];
  get(name: string): tf.Variable;
}

/** A host copy of one moment (`m.<param>` or `v.<param>`), as safetensors files hold it. */
export interface AdamMoment {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Names and variables in the given order, for callers that hold a plain list of tf.Variables. */
export function namedVariables(vars: readonly tf.Variable[]): NamedVariables {
  const byName = new Map<string, tf.Variable>();
  for (const v of vars) {
    if (byName.has(v.name)) throw new Error(`adam: variable ${v.name} is listed twice`);
    byName.set(v.name, v);
  }
  const names = vars.map((v) => v.name);
  return {
    names: () => names,
    get: (name) => {
      const v = byName.get(name);
      if (!v) throw new Error(`adam: variable ${name} does not exist`);
      return v;
    },
  };
}

/** Adam over named parameters; moments are created lazily at the first step, in parameter order. */
export class Adam {
  /** Number of steps taken so far. */
  step = 0;
  private readonly m = new Map<string, tf.Tensor>();
  private readonly v = new Map<string, tf.Tensor>();

  constructor(readonly config: AdamConfig) {
    const { lr, beta1, beta2, eps, weightDecay = 0, clipNorm = 0 } = config;
    if (!(lr >= 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0) || !(weightDecay >= 0) || !(clipNorm >= 0)) {
      throw new Error(`adam: invalid settings ${JSON.stringify(config)}`);
    }
  }

  /**
   * One update of every parameter that has a gradient in `grads` (the gradients are not disposed; the
   * caller owns them). Clipping happens in-graph, so a step never waits for the device. `lr` is one rate for every
   * parameter or a rate per parameter name (parameter groups: e.g. a policy whose levels learn at their own rates).
   */
  apply(params: NamedVariables, grads: ReadonlyMap<string, tf.Tensor>, lr: number | ((name: string) => number) = this.config.lr): void {
    const names = params.names().filter((n) => grads.has(n));
    if (typeof lr === 'number' && !(lr >= 0)) throw new Error(`adam: invalid learning rate ${lr}`);
    const rateOf = typeof lr === 'function' ? lr : () => lr;
    if (typeof lr === 'function') {
      for (const n of names) if (!(lr(n) >= 0)) throw new Error(`adam: invalid learning rate ${lr(n)} for ${n}`);
    }
    this.step += 1;
    const { beta1, beta2, eps, weightDecay = 0, clipNorm = 0 } = this.config;
    // bias corrections in double precision on the host
    const c1 = 1 - Math.pow(beta1, this.step);
    const c2 = 1 - Math.pow(beta2, this.step);
    const scale = clipNorm > 0 && names.length > 0 ? globalClipScale(names.map((n) => grads.get(n)!), clipNorm) : undefined;
    try {
      for (const name of names) {
        const g0 = grads.get(name)!;
        const p = params.get(name);
        const m0 = this.m.get(name);
        const v0 = this.v.get(name);
        const [m1, v1] = tf.tidy(() => {
          const g = scale ? tf.mul(g0, scale) : g0;
          const m = tf.add(tf.mul(m0 ?? tf.zerosLike(p), beta1), tf.mul(g, 1 - beta1));
          const v = tf.add(tf.mul(v0 ?? tf.zerosLike(p), beta2), tf.mul(tf.mul(g, g), 1 - beta2));
          let upd = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
          if (weightDecay > 0) upd = tf.add(upd, tf.mul(p, weightDecay));
          p.assign(tf.sub(p, tf.mul(upd, rateOf(name))));
          return [m, v];
        });
        m0?.dispose();
        v0?.dispose();
        this.m.set(name, m1);
        this.v.set(name, v1);
      }
    } finally {
      scale?.dispose();
    }
  }

  /** Moments as host arrays (names `m.<param>` / `v.<param>`). */
  toHost(): AdamMoment[] {
    const out: AdamMoment[] = [];
    for (const [prefix, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of map) out.push({ name: `${prefix}.${name}`, shape: t.shape.slice(), data: Float32Array.from(t.dataSync() as Float32Array) });
    }
    return out;
  }

  /** Restore state saved by {@link toHost} (and `step`). */
  fromHost(step: number, moments: readonly AdamMoment[]): void {
    if (!(Number.isInteger(step) && step >= 0)) throw new Error(`adam state: invalid step ${step}`);
    this.reset();
    this.step = step;
    for (const h of moments) {
      const dot = h.name.indexOf('.');
      const kind = h.name.slice(0, dot);
      const name = h.name.slice(dot + 1);
      if (kind !== 'm' && kind !== 'v') {
        this.reset();
        throw new Error(`adam state: unknown moment ${h.name}`);
      }
      const t = tf.tensor(h.data, h.shape);
      (kind === 'm' ? this.m : this.v).get(name)?.dispose();
      (kind === 'm' ? this.m : this.v).set(name, t);
    }
  }

  /** Drop the moments and the step count. */
  reset(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
    this.step = 0;
  }

  dispose(): void {
    this.reset();
  }
}

/** min(1, maxNorm / (‖g‖ + 1e-6)) as a kept scalar tensor (the caller disposes it). */
function globalClipScale(grads: readonly tf.Tensor[], maxNorm: number): tf.Scalar {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.mul(g, g)))));
    return tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6)))) as tf.Scalar;
  });
}
