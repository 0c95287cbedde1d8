/**
 * The REINFORCE gate target: module sets sampled from the gate's own distribution, each scored with the step's
 * window loss, and a score-function gradient weighted by each sample's advantage over a baseline.
 *
 * Why: the straight-through and counterfactual targets give the gate a first-order or per-module signal. The spec's
 * advantage L_sel - stopgrad(L_full) only changes learning through a score-function estimator over sampled selections
 * (spec §7), which judges whole sets, each at its own calibrated strength, by the loss the edit actually has.
 */
import { SeededRandom, tf, shiftToDense } from '@hiedit/tensor-core';
import type { TokenizedEditRequest } from '@hiedit/tensor-core';
import { calibrateScale } from '../calibrate';
import { shiftRegularizer, windowLoss } from '../loss';
import type { WindowItem } from '../loss';
import type { PolicyEdit } from '../policy';
import type { TrainingContext } from './context';

/** What the gate's loss term is built from in the gradient pass (see reinforceGateLoss). */
export interface ReinforceTarget {
  readonly kind: 'reinforce';
  /** Each sampled set as module indices in the order they were drawn (the Plackett-Luce sequence). */
  readonly samples: readonly (readonly number[])[];
  /** Each sample's loss minus the baseline (positive: worse than the baseline, made less likely). */
  readonly advantages: readonly number[];
}

/**
 * The generator of step `step`'s samples: a function of the run's seed and the global step only, so a resumed run
 * draws exactly what an uninterrupted one draws without saving any state.
 */
export function reinforceRandom(seed: number, step: number): SeededRandom {
  return new SeededRandom(seed).fork(`reinforce.${step}`);
}

/**
 * `count` ordered draws of `k` modules without replacement from softmax(`scores`) (Gumbel-top-k: the k largest of
 * score + Gumbel noise, in decreasing order, are a Plackett-Luce sample).
 */
export function sampleModuleSets(scores: ArrayLike<number>, k: number, count: number, rng: SeededRandom): number[][] {
  const M = scores.length;
  if (!Number.isInteger(k) || k < 1 || k > M) throw new Error(`sampleModuleSets: k must be in 1..${M}, got ${k}`);
  return Array.from({ length: count }, () => {
    // 1 - next() is in (0, 1], so the inner log is finite; -log(-log u) for u = 1 is +Infinity, kept in order.
    const perturbed = Array.from(scores, (g) => g - Math.log(-Math.log(1 - rng.next())));
    const order = Array.from({ length: M }, (_, i) => i).sort((a, b) => perturbed[b] - perturbed[a] || a - b);
    return order.slice(0, k);
  });
}

/**
 * The surrogate whose gradient is the REINFORCE estimate: mean over samples of advantage * log P(sequence), with
 * P the Plackett-Luce probability of drawing the sample's modules in its order from softmax(scores). Minimizing it
 * makes sets that scored worse than the baseline less likely. Call inside a gradient function.
 */
export function reinforceGateLoss(scores: tf.Tensor1D, target: ReinforceTarget): tf.Scalar {
  const M = scores.shape[0];
  const terms = target.samples.map((seq, s) => {
    // log P(i_1..i_k) = sum_j [g_{i_j} - logsumexp(g over the modules not drawn before draw j)]
    const drawn = new Set<number>();
    const logp = seq.map((i) => {
      const available = Array.from({ length: M }, (_, m) => m).filter((m) => !drawn.has(m));
      drawn.add(i);
      const lse = tf.logSumExp(tf.gather(scores, tf.tensor1d(available, 'int32')));
      return tf.sub(tf.slice(scores, [i], [1]).reshape([]), lse);
    });
    return tf.mul(tf.addN(logp), target.advantages[s]);
  });
  return tf.div(tf.addN(terms), target.samples.length) as tf.Scalar;
}

/**
 * The REINFORCE target of one step: `ctx.options.reinforceSamples` sets of the gate's k drawn from its scores, each
 * scored as the edit it would be (its shifts at the set's own calibrated strength, none when the set cannot make the
 * edit hold; window loss + regularizer), and each one's advantage over the baseline: the samples' mean, or the loss
 * with every module shifted ('all'). Sets drawn more than once are scored once.
 */
export function reinforceGateTarget(ctx: TrainingContext, request: TokenizedEditRequest, edit: PolicyEdit, window: readonly WindowItem[], step: number): ReinforceTarget {
  const o = ctx.options;
  const k = Math.max(1, edit.mask.selected.filter(Boolean).length);
  const samples = sampleModuleSets(edit.mask.scores, k, o.reinforceSamples, reinforceRandom(o.seed, step));
  const scored = new Map<string, number>();
  const lossOf = (set: readonly number[]): number => {
    const key = [...set].sort((a, b) => a - b).join(',');
    let v = scored.get(key);
    if (v === undefined) {
      v = editedSetLoss(ctx, request, edit, window, set);
      scored.set(key, v);
    }
    return v;
  };
  const losses = samples.map(lossOf);
  const baseline = o.reinforceBaseline === 'all' ? editedSetLoss(ctx, request, edit, window, ctx.names.map((_, i) => i)) : losses.reduce((a, b) => a + b, 0) / losses.length;
  return { kind: 'reinforce', samples, advantages: losses.map((l) => l - baseline) };
}

/** The loss of editing `request` with the modules `set` (indices), calibrated on the set as the editor would. */
function editedSetLoss(ctx: TrainingContext, request: TokenizedEditRequest, edit: PolicyEdit, window: readonly WindowItem[], set: readonly number[]): number {
  const c = ctx.options.calibration;
  const names = set.map((i) => ctx.names[i]);
  const scale = c ? calibrateScale(ctx.model, request.edit, new Map(names.map((n) => [n, edit.shifts.get(n)!] as const)), c).scale : 1;
  return tf.tidy(() => {
    const dense = scale > 0 ? names.map((n) => [n, tf.mul(shiftToDense(edit.shifts.get(n)!), scale) as tf.Tensor2D] as const) : [];
    const t = windowLoss(ctx.model, window, new Map(dense), ctx.objective);
    return tf.add(t.modelLoss, shiftRegularizer(dense.map(([, d]) => d), ctx.options.regCoef)).dataSync()[0];
  });
}
