/**
 * The 'hiedit' gradient mode: exact in-graph gradients of the objective through W + mask * dW(theta).
 */
import { tf } from '@hiedit/tensor-core';
import type { EditFeatures } from '@hiedit/tensor-core';
import { shiftRegularizer, windowLoss } from '../loss';
import type { WindowItem } from '../loss';
import type { TrainingContext } from './context';
import { reinforceGateLoss } from './gate-reinforce';
import type { GateSignal } from './gate-targets';
import { collectGrads, policyVariables } from './grad-map';
import type { StepGradients } from './grad-map';

/**
 * The objective as a function of the policy parameters through W + mask * dW(theta), at the calibrated strength
 * `scale` (a constant of the step). With a counterfactual `gateTarget` (a distribution over modules) the gate learns
 * from the target's cross-entropy, with a REINFORCE target from its score-function surrogate, and in both cases the
 * hard mask is a constant; without one the gate learns through its straight-through mask.
 * Returns the gradients (caller owns) and the loss terms.
 */
export function hieditGradients(ctx: TrainingContext, features: ReadonlyMap<string, EditFeatures>, window: readonly WindowItem[], scale = 1, gateTarget?: GateSignal): StepGradients {
  const { policy, names, options } = ctx;
  const M = names.length;
  const terms = { gen: 0, loc: 0, reg: 0 };
  const { value, grads } = tf.variableGrads(() => {
    const out = policy.forward(features);
    // With a target the gate learns from the target alone: the hard mask is a constant here.
    const mask = out.gate ? (gateTarget ? tf.tensor1d(out.gate.hard) : out.gate.mask) : null;
    const masked = out.shifts.map((s, i) => {
      // The calibrated strength is a constant of this step: the policy learns the direction and the gate the choice.
      const dense = scale === 1 ? tf.matMul(s.left, s.right) : tf.mul(tf.matMul(s.left, s.right), scale);
      return mask ? tf.mul(dense, tf.slice(mask, [i], [1]).reshape([])) : dense;
    }) as tf.Tensor2D[];
    const shiftMap = new Map(names.map((n, i) => [n, masked[i]] as const));
    const t = windowLoss(ctx.model, window, shiftMap, ctx.objective);
    const reg = shiftRegularizer(masked, options.regCoef);
    let total = tf.add(t.modelLoss, reg) as tf.Scalar;
    const hi = policy.config.high;
    if (out.gate && hi?.adaptive) total = tf.add(total, tf.mul(tf.sum(out.gate.mask), hi.beta / M));
    if (out.gate && gateTarget instanceof Float32Array) total = tf.sub(total, tf.sum(tf.mul(tf.tensor1d(gateTarget), tf.logSoftmax(out.gate.scores)))) as tf.Scalar;
    if (out.gate && gateTarget && !(gateTarget instanceof Float32Array)) total = tf.add(total, reinforceGateLoss(out.gate.scores, gateTarget)) as tf.Scalar;
    terms.gen = t.gen.dataSync()[0];
    terms.loc = t.loc.dataSync()[0];
    terms.reg = reg.dataSync()[0];
    return total;
  }, policyVariables(policy));
  value.dispose();
  return { grads: collectGrads(grads, ctx.paramOfVariable), loss: terms.gen + options.locCoef * terms.loc + terms.reg, ...terms };
}
