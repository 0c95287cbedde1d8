/**
 * The `ft` editor: constrained fine-tuning of the edit modules on the edit tuple, with no training phase.
 * A few Adam steps on shift variables (W + S inside the autodiff graph via lossUnderShifts), each step
 * followed by a projection of every S_m onto the Frobenius ball of radius `maxNorm` (absolute) or
 * `relNorm * ||W_m||_F`; it stops as soon as the new answer is the teacher-forced argmax at every
 * answer position.
 */
import * as fs from 'fs';
import { EditableModel, IGNORE_INDEX, ParameterShift, tf, TokenizedEditRequest } from '@hiedit/tensor-core';
import { Editor, ShiftProposal } from '../../editors/types';
import type { ResolvedFtSettings } from './settings';

/** True when every answer position's argmax is its label under the given shifts. */
function answerIsArgmax(model: EditableModel, req: TokenizedEditRequest, shifts: ReadonlyMap<string, tf.Tensor2D>): boolean {
  const labels = req.edit.labels.filter((l) => l !== IGNORE_INDEX);
  // Only tensors leave tf.tidy; the host copy is read afterwards.
  const t = tf.tidy(() => tf.argMax(model.logProbsUnderShifts([req.edit], shifts), 1));
  let argmax: ArrayLike<number>;
  try {
    argmax = t.dataSync() as ArrayLike<number>;
  } finally {
    t.dispose();
  }
  return labels.every((l, i) => argmax[i] === l);
}

// tfjs variable names must be unique within the engine.
let variableCounter = 0;

/** An `ft` editor over its edit modules. */
export class FtEditor implements Editor {
  readonly kind = 'ft';

  constructor(readonly modules: readonly string[], private readonly s: ResolvedFtSettings) {}

  settings(): ResolvedFtSettings {
    return this.s;
  }

  propose(model: EditableModel, request: TokenizedEditRequest): ShiftProposal {
    const radius = this.modules.map((name) => {
      if (this.s.maxNorm > 0) return this.s.maxNorm;
      return tf.tidy(() => {
        const w = model.readWeight(name);
        const n = tf.norm(w).dataSync()[0];
        w.dispose();
        return n * this.s.relNorm;
      });
    });
    const vars = this.modules.map((name) => {
      const m = model.module(name);
      // The variable shares the zeros' data (ref-counted); the zeros handle itself must be released.
      const zeros = tf.zeros([m.dIn, m.dOut]);
      const v = tf.variable(zeros, true, `ft-shift-${++variableCounter}`) as tf.Variable<tf.Rank.R2>;
      zeros.dispose();
      return v;
    });
    const shiftMap = new Map<string, tf.Tensor2D>(this.modules.map((n, i) => [n, vars[i]]));
    const opt = tf.train.adam(this.s.lr);
    try {
      for (let step = 0; step < this.s.steps; step++) {
        if (this.s.earlyStop && answerIsArgmax(model, request, shiftMap)) break;
        const loss = opt.minimize(() => model.lossUnderShifts([request.edit], shiftMap), true, vars);
        loss?.dispose();
        tf.tidy(() => {
          vars.forEach((v, i) => {
            const n = tf.norm(v).dataSync()[0];
            if (n > radius[i]) v.assign(tf.mul(v, radius[i] / n));
          });
        });
      }
      const shifts = new Map<string, ParameterShift>();
      this.modules.forEach((name, i) => shifts.set(name, { kind: 'dense', delta: tf.clone(vars[i]) as tf.Tensor2D }));
      return { shifts, selected: [...this.modules], scores: {} };
    } finally {
      opt.dispose();
      for (const v of vars) v.dispose();
    }
  }

  async train(): Promise<never> {
    throw new Error('editor ft has no training phase: it fine-tunes the edit modules at edit time');
  }

  save(dir: string): void {
    // Nothing is learned: the settings in editor.json are the whole editor.
    fs.mkdirSync(dir, { recursive: true });
  }

  dispose(): void { /* no tensors held between edits */ }
}
