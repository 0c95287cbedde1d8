/**
 * What the gate learns from in hiedit mode: its own straight-through mask (no target), a counterfactual target that
 * scores every module's shift on its own, or a REINFORCE target over sampled module sets (gate-reinforce.ts).
 */
import { tf } from '@hiedit/tensor-core';
import type { TokenizedEditRequest } from '@hiedit/tensor-core';
import { shiftRegularizer, windowLoss } from '../loss';
import type { WindowItem } from '../loss';
import { shiftToDense } from '@hiedit/tensor-core';
import type { PolicyEdit } from '../policy';
import type { TrainingContext } from './context';
import { reinforceGateTarget } from './gate-reinforce';
import type { ReinforceTarget } from './gate-reinforce';
import { calibratedScale, moduleScales } from './strength';

/**
 * What the gate learns from in the gradient pass: a target distribution over modules (counterfactual), a REINFORCE
 * target, or undefined (straight through its mask).
 */
export type GateSignal = Float32Array | ReinforceTarget | undefined;

/** A step's calibrated strength and the gate's target. */
export interface StepGate {
  scale: number;
  target: GateSignal;
}

/**
 * The strength `edit` is trained at on `request`, and the gate's target when the options ask for one. `step` (the
 * run's global step) seeds the REINFORCE samples.
 */
export function stepGate(ctx: TrainingContext, request: TokenizedEditRequest, edit: PolicyEdit, window: readonly WindowItem[], step: number): StepGate {
  const o = ctx.options;
  const learnsTarget = o.mode === 'hiedit' && ctx.policy.high !== null;
  // The counterfactual target calibrates every module on its own; a one-module selection reuses its strength.
  const perModule = learnsTarget && o.gateTarget === 'counterfactual' ? moduleScales(ctx, request, edit) : undefined;
  const chosen = edit.mask.selected.flatMap((s, i) => (s ? [i] : []));
  const scale = perModule && chosen.length === 1 ? perModule[chosen[0]] : calibratedScale(ctx, request, edit, false);
  if (perModule) return { scale, target: counterfactualGateTarget(ctx, edit, window, perModule) };
  if (learnsTarget && o.gateTarget === 'reinforce') return { scale, target: reinforceGateTarget(ctx, request, edit, window, step) };
  return { scale, target: undefined };
}

/**
 * The counterfactual gate target: every module's shift at its own calibrated strength `scales` (moduleScales)
 * scored on its own (window loss + regularizer, no shift at all when it does not hold), and a distribution uniform
 * over the k best modules, k the gate's count this step. Each module alone stands in for the sets containing it,
 * exact when k = 1.
 */
export function counterfactualGateTarget(ctx: TrainingContext, edit: PolicyEdit, window: readonly WindowItem[], scales: readonly number[]): Float32Array {
  const { names } = ctx;
  const losses = names.map((n, i) => {
    const shift = edit.shifts.get(n)!;
    const s = scales[i];
    const v = tf.tidy(() => {
      const dense = tf.mul(shiftToDense(shift), s) as tf.Tensor2D;
      const t = windowLoss(ctx.model, window, s > 0 ? new Map([[n, dense]]) : new Map(), ctx.objective);
      return tf.add(t.modelLoss, shiftRegularizer([dense], ctx.options.regCoef));
    });
    const x = v.dataSync()[0];
    v.dispose();
    return x;
  });
  const k = Math.max(1, edit.mask.selected.filter(Boolean).length);
  const best = [...losses.keys()].sort((a, b) => losses[a] - losses[b] || a - b).slice(0, k);
  const q = new Float32Array(names.length);
  for (const i of best) q[i] = 1 / k;
  return q;
}
