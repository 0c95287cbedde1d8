/**
 * `ft`: constrained fine-tuning of the edit modules on the edit tuple, with no training phase.
 * A few Adam steps on shift variables (W + S inside the autodiff graph via lossUnderShifts), each step
 * followed by a projection of every S_m onto the Frobenius ball of radius `maxNorm` (absolute) or
 * `relNorm * ||W_m||_F`; it stops as soon as the new answer is the teacher-forced argmax at every
 * answer position.
 */
import * as fs from 'fs';
import { describeValue, EditableModel, IGNORE_INDEX, ParameterShift, tf, TokenizedEditRequest } from '@hiedit/tensor-core';
import { registerEditor } from './registry';
import { Editor, EditorFactory, ShiftProposal } from './types';

/** Settings of the `ft` editor. */
export interface FtSettings {
  /** Maximum Adam steps per edit. */
  readonly steps: number;
  /** Adam learning rate. */
  readonly lr: number;
  /** Radius of each module's Frobenius ball relative to ||W_m||_F (used when maxNorm is 0). */
  readonly relNorm: number;
  /** Absolute radius of each module's Frobenius ball; 0 means "use relNorm". */
  readonly maxNorm: number;
  /** Stop when the target is the argmax at every answer position. */
  readonly earlyStop: boolean;
}

/**
 * Defaults for the default edit modules (down_proj since session 4; docs/tuning.md): with the old radius 0.1 ||W|| and
 * lr 1e-2 no edit held on down_proj; radius 1 ||W|| with lr 3e-2 or 1e-1 scored best on the tuning worlds.
 */
export const DEFAULT_FT: FtSettings = { steps: 40, lr: 3e-2, relNorm: 1, maxNorm: 0, earlyStop: true };

function positiveNumber(v: unknown, field: string, allowZero = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new Error(`ft settings: ${field} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${describeValue(v)}`);
  }
  return v;
}

/** Validates user settings over the defaults; unknown keys are refused. */
export function resolveFtSettings(input: Readonly<Record<string, unknown>>): FtSettings {
  const known = Object.keys(DEFAULT_FT);
  const unknown = Object.keys(input).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`ft settings: unknown field(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const s = { ...DEFAULT_FT, ...input } as FtSettings;
  if (!Number.isInteger(s.steps) || s.steps < 1) throw new Error(`ft settings: steps must be a positive integer, got ${describeValue(s.steps)}`);
  positiveNumber(s.lr, 'lr');
  positiveNumber(s.relNorm, 'relNorm');
  positiveNumber(s.maxNorm, 'maxNorm', true);
  if (typeof s.earlyStop !== 'boolean') throw new Error('ft settings: earlyStop must be a boolean');
  return s;
}

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

class FtEditor implements Editor {
  readonly kind = 'ft';

  constructor(readonly modules: readonly string[], private readonly s: FtSettings) {}

  settings(): Record<string, unknown> {
    return { ...this.s };
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

/** Factory of the `ft` baseline. */
export const ftFactory: EditorFactory = {
  kind: 'ft',
  summary: 'fine-tuning of the edit modules on the edit tuple (Adam, Frobenius-norm constraint), no training phase',
  trainable: false,
  create: (_model, modules, settings) => new FtEditor(modules, resolveFtSettings(settings)),
  load: (_dir, _model, modules, settings) => new FtEditor(modules, resolveFtSettings(settings)),
};

registerEditor(ftFactory);
