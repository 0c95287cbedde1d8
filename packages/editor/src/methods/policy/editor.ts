/**
 * The editor shared by the policy methods: one adapter over rl-hierarchy's HiEditPolicy and PolicyTrainer, run with
 * the method's resolved settings.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EditableModel, ParameterShift, TokenizedEditRequest } from '@hiedit/tensor-core';
import {
  calibrateSelection, DEFAULT_TRAINER_OPTIONS, disposeShifts, HiEditPolicy, PolicyTrainer, savePolicy, scaleShifts, SelectionCalibration,
  TrainerOptions, TrainProgress as RlProgress,
} from '@hiedit/rl-hierarchy';
import { Editor, EditorTrainOptions, EditorTrainResult, ShiftProposal, TrainProgress } from '../../editors/types';
import type { PolicyMethod, ResolvedPolicySettings } from './settings';

/** Sub-directory of an editor directory holding the policy (policy.json + policy.safetensors). */
export const POLICY_SUBDIR = 'policy';
/** Sub-directory of an editor directory holding the resumable training state. */
export const TRAIN_STATE_SUBDIR = 'train-state';

const TRAINER_KEYS = new Set(Object.keys(DEFAULT_TRAINER_OPTIONS));

/** An editor of a policy method (hiedit, hiedit-reference, rledit, mend). */
export class PolicyEditor implements Editor {
  constructor(
    readonly method: PolicyMethod,
    readonly policy: HiEditPolicy,
    private readonly s: ResolvedPolicySettings,
  ) {}

  get kind(): string {
    return this.method.kind;
  }

  get modules(): readonly string[] {
    return this.policy.moduleNames();
  }

  settings(): ResolvedPolicySettings {
    return this.s;
  }

  propose(model: EditableModel, request: TokenizedEditRequest): ShiftProposal {
    const opts = this.s.trainer;
    const trace = model.trace(request.edit, this.modules, opts.positions);
    try {
      // The authors' code keeps the low-level normalizers updating at test time (spec §5); ours freezes them.
      const edit = this.policy.computeEdit(trace.features, { updateLowNormalizers: this.method.updateLowNormalizersAtEdit });
      let chosen = new Set(edit.mask.modules.filter((_, i) => edit.mask.selected[i]));
      let scale = 1;
      let tries: number | undefined;
      if (opts.calibration) {
        // An edit that holds at no strength up to the bound (on any module set the miss rule tries) is skipped
        // rather than applied for nothing.
        let c: SelectionCalibration;
        try {
          c = calibrateSelection(model, request.edit, edit, opts.calibration);
        } catch (e) {
          disposeShifts(edit.shifts);
          throw e;
        }
        chosen = new Set(c.selected);
        scale = c.scale;
        tries = c.tries;
      }
      const shifts = new Map<string, ParameterShift>();
      const dropped = new Map<string, ParameterShift>();
      for (const [name, s] of edit.shifts) (chosen.has(name) ? shifts : dropped).set(name, s);
      disposeShifts(dropped);
      scaleShifts(shifts, scale);
      const selected = edit.mask.modules.filter((n) => chosen.has(n));
      const scores: Record<string, number> = {};
      if (this.policy.high) edit.mask.modules.forEach((name, i) => { scores[name] = edit.mask.scores[i]; });
      return { shifts, selected, scores, ...(tries !== undefined ? { tries } : {}) };
    } finally {
      for (const f of trace.features.values()) {
        f.keys.dispose();
        f.valueGrads.dispose();
      }
    }
  }

  async train(model: EditableModel, stream: readonly TokenizedEditRequest[], options: EditorTrainOptions): Promise<EditorTrainResult> {
    const extra = (options.settings ?? {}) as Record<string, unknown>;
    const bad = Object.keys(extra).filter((k) => !TRAINER_KEYS.has(k));
    if (bad.length) throw new Error(`train ${this.kind}: unknown trainer option(s) ${bad.join(', ')}`);
    const total = stream.length;
    const onProgress = options.onProgress;
    const forward = (e: RlProgress): void => {
      if (!onProgress) return;
      if (e.kind === 'step') onProgress({ phase: 'train', epoch: e.epoch, step: e.position + 1, total, loss: e.loss,
        message: `selected ${e.selected.length}${e.advantage !== undefined ? `, advantage ${e.advantage.toFixed(4)}` : ''}` });
      else if (e.kind === 'epoch') onProgress({ phase: 'validate', epoch: e.epoch, step: total, total, loss: e.validation ?? e.meanLoss,
        message: `mean loss ${e.meanLoss.toFixed(4)}${e.validation !== undefined ? `, validation ${e.validation.toFixed(4)}` : ''}` });
      else if (e.kind === 'checkpoint') onProgress({ phase: 'checkpoint', epoch: -1, step: e.step, total, message: e.dir });
      else onProgress({ phase: 'done', epoch: e.epoch, step: total, total, message: `early stop, best validation ${e.best}` });
    };
    const dir = options.checkpointDir;
    if (dir) fs.mkdirSync(dir, { recursive: true });
    // The complete options: the resolved ones, this run's overrides, and what only the run knows.
    const trainerOptions: TrainerOptions = {
      ...this.s.trainer, ...(extra as Partial<TrainerOptions>), seed: options.seed,
      ...(options.stopAfter !== undefined ? { maxSteps: options.stopAfter } : {}),
      ...(dir ? { checkpoint: { dir, everySteps: this.s.checkpointEvery } } : {}),
      onProgress: forward,
    };
    const trainer = new PolicyTrainer(model, this.policy, trainerOptions);
    try {
      if (options.resume) {
        if (!dir) throw new Error(`train ${this.kind}: resume needs a checkpoint directory`);
        if (!fs.existsSync(path.join(dir, 'train-state.json'))) {
          throw new Error(`train ${this.kind}: nothing to resume in ${dir} (no train-state.json)`);
        }
        trainer.loadState(dir);
      }
      const r = trainer.train(stream, options.validation ?? []);
      return { steps: r.steps, epochs: r.epochsCompleted, seconds: r.seconds, finished: r.status === 'done',
        details: { stoppedEarly: r.stoppedEarly, ...(r.bestValidation !== undefined ? { bestValidation: r.bestValidation } : {}) } };
    } finally {
      trainer.dispose();
    }
  }

  save(dir: string): void {
    const p = path.join(dir, POLICY_SUBDIR);
    fs.mkdirSync(p, { recursive: true });
    savePolicy(this.policy, p);
  }

  dispose(): void {
    this.policy.dispose();
  }
}
