/**
 * When the policy's parameters move: step gradients are accumulated, clipped and handed to Adam on each mode's
 * schedule (hiedit: the clipped mean every `updateEvery` requests; reference: clipped after every step, one Adam step
 * per epoch, as the authors do).
 */
import { tf, Adam, clipByGlobalNorm } from '@hiedit/tensor-core';
import type { HostParam } from '../params';
import type { HiEditPolicy } from '../policy';
import type { TrainerOptions } from '../trainer-options';
import { disposeGrads } from './grad-map';
import type { GradMap } from './grad-map';

/** The gradient accumulator and the optimizer of one run. */
export class UpdateSchedule {
  readonly adam: Adam;
  /** Accumulated gradients by parameter name (owned here). */
  private readonly acc: GradMap = new Map();
  /** Steps accumulated since the last Adam step. */
  count = 0;
  /** Global norm of the last step's gradients, before any clipping. */
  lastGradNorm = 0;

  constructor(
    private readonly policy: HiEditPolicy,
    private readonly options: TrainerOptions,
  ) {
    this.adam = new Adam({ lr: options.metaLr, beta1: options.beta1, beta2: options.beta2, eps: 1e-8 });
  }

  /** Add a step's gradients (taking them over) and step Adam when the schedule says so. Returns whether it stepped. */
  add(grads: GradMap): boolean {
    const o = this.options;
    const list = [...grads.values()];
    // the norm is reported for every step, before any clipping
    const stepNorm = tf.tidy(() => Math.sqrt(list.reduce((a, g) => a + (tf.sum(tf.mul(g, g)).dataSync()[0] as number), 0)));
    this.lastGradNorm = stepNorm;
    if (!Number.isFinite(stepNorm)) {
      for (const g of grads.values()) g.dispose();
      grads.clear();
      throw new Error(`non-finite policy gradient (norm ${stepNorm}); lower metaLr or low.initEta`);
    }
    if (o.mode === 'reference' && o.zeroLowLevelGradEachStep) {
      for (const n of [...this.acc.keys()]) if (n.startsWith('low.')) {
        this.acc.get(n)!.dispose();
        this.acc.delete(n);
      }
    }
    for (const [n, g] of grads) {
      const prev = this.acc.get(n);
      if (prev) {
        this.acc.set(n, tf.add(prev, g));
        prev.dispose();
        g.dispose();
      } else this.acc.set(n, g);
    }
    grads.clear();
    this.count += 1;
    if (o.mode === 'reference') {
      // the authors clip the accumulated .grad buffers after every backward pass
      this.clipAccumulated(1);
      return false;
    }
    if (this.count >= o.updateEvery) {
      this.flush();
      return true;
    }
    return false;
  }

  /** Adam step on the accumulated gradient (hiedit: its clipped mean); nothing when nothing is accumulated. */
  flush(): void {
    if (this.count === 0 || this.acc.size === 0) {
      this.count = 0;
      return;
    }
    if (this.options.mode === 'hiedit') this.clipAccumulated(this.count);
    const { metaLr, gateLr } = this.options;
    this.adam.apply(this.policy.params, this.acc, gateLr === null ? metaLr : (name) => (name.startsWith('high.') ? gateLr : metaLr));
    disposeGrads(this.acc);
    this.count = 0;
  }

  private clipAccumulated(divisor: number): void {
    const names = [...this.acc.keys()];
    const scaled = names.map((n) => (divisor === 1 ? this.acc.get(n)! : tf.div(this.acc.get(n)!, divisor)));
    const { clipped } = clipByGlobalNorm(scaled, this.options.clipNorm);
    const keep = new Set<tf.Tensor>(clipped);
    names.forEach((n, i) => {
      const old = this.acc.get(n)!;
      if (!keep.has(old)) old.dispose();
      if (scaled[i] !== old && !keep.has(scaled[i])) scaled[i].dispose();
      this.acc.set(n, clipped[i]);
    });
  }

  /** The accumulated gradients on the host, by parameter name. */
  accumulatedToHost(): HostParam[] {
    return [...this.acc].map(([n, t]) => ({ name: n, shape: t.shape.slice(), data: Float32Array.from(t.dataSync() as Float32Array) }));
  }

  /** Drop the accumulated gradients (the count is left to the caller's restore). */
  clearAccumulated(): void {
    disposeGrads(this.acc);
  }

  /** Put one saved accumulated gradient back. */
  restoreAccumulated(p: HostParam): void {
    this.acc.set(p.name, tf.tensor(p.data, p.shape));
  }

  /** Release the accumulated gradients and Adam's moments. */
  dispose(): void {
    disposeGrads(this.acc);
    this.adam.dispose();
  }
}
