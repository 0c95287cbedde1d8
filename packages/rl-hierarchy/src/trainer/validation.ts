/**
 * The validation score early stopping compares: the frozen policy edits the validation stream from the base model.
 */
import { tf, klDivergence } from '@hiedit/tensor-core';
import type { TokenizedEditRequest } from '@hiedit/tensor-core';
import { generalizationTuples, localityReference } from '../loss';
import { disposeShifts } from '@hiedit/tensor-core';
import { applySelectedShifts } from '../policy';
import type { TrainingContext } from './context';
import type { EditWeights } from './edit-weights';
import { calibratedScale } from './strength';

/**
 * Run the validation stream through the frozen policies from the base model, then mean generalization CE +
 * loc_coef * locality KL (against the base model) on the final model. Lower is better. The model is left at its
 * base weights (`editWeights`).
 */
export function validationScore(ctx: TrainingContext, validation: readonly TokenizedEditRequest[], editWeights: EditWeights): number {
  const { model, options } = ctx;
  editWeights.reset();
  const before = localityReference(model, validation);
  try {
    for (const r of validation) {
      const trace = model.trace(r.edit, ctx.names, options.positions);
      try {
        const edit = ctx.policy.computeEdit(trace.features);
        try {
          applySelectedShifts(model, edit, calibratedScale(ctx, r, edit, false));
        } finally {
          disposeShifts(edit.shifts);
        }
      } finally {
        for (const f of trace.features.values()) {
          f.keys.dispose();
          f.valueGrads.dispose();
        }
      }
    }
    const score = tf.tidy(() => {
      let total = 0;
      validation.forEach((r, i) => {
        total += model.lossUnderShifts(generalizationTuples(r, options.genOn)).dataSync()[0];
        const b = before[i];
        if (b) {
          const a = model.logProbsUnderShifts(r.locality);
          total += options.locCoef * (klDivergenceValue(b, a));
        }
      });
      return total / validation.length;
    });
    return score;
  } finally {
    before.forEach((b) => b?.dispose());
    editWeights.reset();
  }
}

function klDivergenceValue(before: tf.Tensor2D, after: tf.Tensor2D): number {
  return tf.tidy(() => klDivergence(before, after).dataSync()[0]);
}
