/**
 * Adam (with optional decoupled weight decay) written with tf ops over a fixed list of variables, so
 * pretraining needs nothing from tfjs's optimizer classes and every step is reproducible from a seed.
 */
import { tf } from '@hiedit/tensor-core';

/** Adam hyper-parameters. */
export interface AdamSettings {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Decoupled weight decay (AdamW); 0 disables it. */
  readonly weightDecay: number;
  /** Clip the global gradient norm to this value before the update; 0 disables clipping. */
  readonly clipNorm: number;
}

/** A non-trainable zero variable shaped like `x` (the zeros tensor it copies is freed at once). */
function zeroVariable(x: tf.Tensor): tf.Variable {
  const z = tf.zerosLike(x);
  try {
    return tf.variable(z, false);
  } finally {
    z.dispose();
  }
}

/** Adam state for one list of variables; call {@link dispose} when training ends. */
export class Adam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;

  constructor(
    private readonly vars: readonly tf.Variable[],
    private readonly s: AdamSettings,
  ) {
    if (vars.length === 0) throw new Error('Adam: no variables to train (did the model expose its trainable variables?)');
    this.m = vars.map((x) => zeroVariable(x));
    this.v = vars.map((x) => zeroVariable(x));
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.t;
  }

  /**
   * One update with learning rate `lr`. `grads[i]` belongs to `vars[i]`; the gradients are not disposed
   * here (the caller owns them). Clipping happens in-graph, so a step never waits for the device.
   */
  apply(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.vars.length) throw new Error(`Adam.apply: ${grads.length} gradients for ${this.vars.length} variables`);
    this.t++;
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.s;
    const c1 = 1 - Math.pow(beta1, this.t);
    const c2 = 1 - Math.pow(beta2, this.t);
    tf.tidy(() => {
      let scale: tf.Tensor | number = 1;
      if (clipNorm > 0) {
        const sq = tf.addN(grads.map((g) => tf.sum(tf.mul(g, g))));
        const norm = tf.sqrt(sq);
        scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(clipNorm), tf.add(norm, tf.scalar(1e-6))));
      }
      for (let i = 0; i < this.vars.length; i++) {
        const g = scale === 1 ? grads[i] : tf.mul(grads[i], scale);
        const m = tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.mul(g, g), 1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        let update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        if (weightDecay > 0) update = tf.add(update, tf.mul(this.vars[i], weightDecay));
        this.vars[i].assign(tf.sub(this.vars[i], tf.mul(update, lr)));
      }
    });
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}
