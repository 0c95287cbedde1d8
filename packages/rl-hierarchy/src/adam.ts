/**
 * Adam with explicit, serializable state (tf.train.adam hides its moments), applied to a ParamSet.
 */
import { tf } from '@hiedit/tensor-core';
import type { HostParam, ParamSet } from './params';

/** Adam hyper-parameters. */
export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** Adam's usual settings. */
export const DEFAULT_ADAM: AdamConfig = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** Adam over named parameters; moments are created lazily at the first step, in parameter order. */
export class Adam {
  /** Number of steps taken so far. */
  step = 0;
  private readonly m = new Map<string, tf.Tensor>();
  private readonly v = new Map<string, tf.Tensor>();

  constructor(readonly config: AdamConfig) {
    if (!(config.lr >= 0) || !(config.beta1 >= 0 && config.beta1 < 1) || !(config.beta2 >= 0 && config.beta2 < 1) || !(config.eps > 0)) {
      throw new Error(`adam: invalid settings ${JSON.stringify(config)}`);
    }
  }

  /** One update of every parameter that has a gradient in `grads` (gradients are not disposed). */
  apply(params: ParamSet, grads: ReadonlyMap<string, tf.Tensor>): void {
    this.step += 1;
    const { lr, beta1, beta2, eps } = this.config;
    // bias corrections in double precision on the host
    const c1 = 1 - Math.pow(beta1, this.step);
    const c2 = 1 - Math.pow(beta2, this.step);
    for (const name of params.names()) {
      const g = grads.get(name);
      if (!g) continue;
      const p = params.get(name);
      const m0 = this.m.get(name);
      const v0 = this.v.get(name);
      const [m1, v1] = tf.tidy(() => {
        const m = tf.add(tf.mul(m0 ?? tf.zerosLike(p), beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(v0 ?? tf.zerosLike(p), beta2), tf.mul(tf.mul(g, g), 1 - beta2));
        const upd = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        p.assign(tf.sub(p, tf.mul(upd, lr)));
        return [m, v];
      });
      m0?.dispose();
      v0?.dispose();
      this.m.set(name, m1);
      this.v.set(name, v1);
    }
  }

  /** Moments as host arrays (names `m.<param>` / `v.<param>`). */
  toHost(): HostParam[] {
    const out: HostParam[] = [];
    for (const [prefix, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of map) out.push({ name: `${prefix}.${name}`, shape: t.shape.slice(), data: Float32Array.from(t.dataSync() as Float32Array) });
    }
    return out;
  }

  /** Restore state saved by toHost (and `step`). */
  fromHost(step: number, moments: HostParam[]): void {
    this.reset();
    this.step = step;
    for (const h of moments) {
      const dot = h.name.indexOf('.');
      const kind = h.name.slice(0, dot);
      const name = h.name.slice(dot + 1);
      const t = tf.tensor(h.data, h.shape);
      if (kind === 'm') this.m.set(name, t);
      else if (kind === 'v') this.v.set(name, t);
      else {
        t.dispose();
        throw new Error(`adam state: unknown moment ${h.name}`);
      }
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
