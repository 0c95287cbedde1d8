/**
 * What the gate learns from in hiedit mode: its own straight-through mask (no target), or a counterfactual target
 * that scores every module's shift on its own.
 */
import { tf } from '@hiedit/tensor-core';
import type { TokenizedEditRequest } from '@hiedit/tensor-core';
import { shiftRegularizer, windowLoss } from '../loss';
import type { WindowItem } from '../loss';
import { shiftToDense } from '@hiedit/tensor-core';
import type { PolicyEdit } from '../policy';
import type { TrainingContext } from './context';
import { calibratedScale, moduleScales } from './strength';

/** A step's calibrated strength and the gate's target (undefined: the gate learns straight through its mask). */
export interface StepGate {
  scale: number;
  target: Float32Array | undefined;
}

/** The strength `edit` is trained at on `request`, and the counterfactual gate target when the options ask for it. */
export function stepGate(ctx: TrainingContext, request: TokenizedEditRequest, edit: PolicyEdit, window: readonly WindowItem[]): StepGate {
  const o = ctx.options;
  // The counterfactual target calibrates every module on its own; a one-module selection reuses its strength.
  const perModule = o.mode === 'hiedit' && o.gateTarget === 'counterfactual' && ctx.policy.high ? moduleScales(ctx, request, edit) : undefined;
  const chosen = edit.mask.selected.flatMap((s, i) => (s ? [i] : []));
  const scale = perModule && chosen.length === 1 ? perModule[chosen[0]] : calibratedScale(ctx, request, edit, false);
  const target = perModule ? counterfactualGateTarget(ctx, edit, window, perModule) : undefined;
  return { scale, target };
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
