/**
 * The 'reference' gradient mode: the authors' schedule, where the shift is a constant written into the weights.
 */
import { tf } from '@hiedit/tensor-core';
import type { EditFeatures } from '@hiedit/tensor-core';
import { shiftRegularizer, windowLoss } from '../loss';
import type { WindowItem } from '../loss';
import { shiftToDense } from '@hiedit/tensor-core';
import type { PolicyEdit } from '../policy';
import type { TrainingContext } from './context';
import { collectGrads, policyVariables } from './grad-map';
import type { StepGradients } from './grad-map';

/**
 * dL/dW at the edited weights reaches the low-level network by the chain rule sum_m <dL/dW_m, d dW_m/d theta>, and
 * the gate only through the regularizer. Returns the gradients (caller owns) and the loss terms.
 */
export function referenceGradients(ctx: TrainingContext, features: ReadonlyMap<string, EditFeatures>, window: readonly WindowItem[], edit: PolicyEdit): StepGradients {
  const { policy, names, options } = ctx;
  const sel = edit.mask.selected;
  const constShifts = names.map((n, i) => tf.tidy(() => (sel[i] ? shiftToDense(edit.shifts.get(n)!) : tf.zeros([policy.modules[i].dIn, policy.modules[i].dOut]))) as tf.Tensor2D);
  let dLdW: tf.Tensor[] = [];
  let gen = 0;
  let loc = 0;
  try {
    const g = tf.grads((...s: tf.Tensor[]) => {
      const t = windowLoss(ctx.model, window, new Map(names.map((n, i) => [n, s[i] as tf.Tensor2D] as const)), ctx.objective);
      gen = t.gen.dataSync()[0];
      loc = t.loc.dataSync()[0];
      return t.modelLoss;
    });
    dLdW = g(constShifts);
  } finally {
    constShifts.forEach((t) => t.dispose());
  }
  const terms = { reg: 0 };
  try {
    const { value, grads } = tf.variableGrads(() => {
      const out = policy.forward(features);
      let surrogate: tf.Scalar = tf.scalar(0);
      const masked: tf.Tensor[] = [];
      out.shifts.forEach((s, i) => {
        const dense = tf.matMul(s.left, s.right);
        surrogate = tf.add(surrogate, tf.mul(tf.sum(tf.mul(dLdW[i], dense)), sel[i] ? 1 : 0));
        masked.push(out.gate ? tf.mul(dense, tf.slice(out.gate.mask, [i], [1]).reshape([])) : dense);
      });
      const reg = shiftRegularizer(masked, options.regCoef);
      terms.reg = reg.dataSync()[0];
      return tf.add(surrogate, reg) as tf.Scalar;
    }, policyVariables(policy));
    value.dispose();
    return { grads: collectGrads(grads, ctx.paramOfVariable), loss: gen + options.locCoef * loc + terms.reg, gen, loc, reg: terms.reg };
  } finally {
    dLdW.forEach((t) => t.dispose());
  }
}
