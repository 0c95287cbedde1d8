/**
 * The editor shared by the policy methods: one adapter over rl-hierarchy's HiEditPolicy and PolicyTrainer, run with
 * the method's resolved settings.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EditableModel, ParameterShift, TokenizedEditRequest } from '@hiedit/tensor-core';
import {
  calibrateSelection, CalibrationSettings, DEFAULT_TRAINER_OPTIONS, disposeShifts, HiEditPolicy, PolicyEdit, PolicyTrainer, savePolicy, scaleShifts,
  SelectionCalibration,
  TrainerOptions, TrainProgress as RlProgress,
} from '@hiedit/rl-hierarchy';
import { Editor, EditorTrainOptions, EditorTrainResult, ShiftProposal, TrainProgress } from '../../editors/types';
import { chooseFixedModules, moduleMerits } from './fixedChoice';
import { applySelection, ModuleSelection } from './selection';
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
    private s: ResolvedPolicySettings,
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

  /** The module-selection rule (the gate's unless the method is an ablation). */
  get selection(): ModuleSelection {
    return this.s.selection ?? { rule: 'gate' };
  }

  /** The calibration applied at edit time: the trainer's, or a reference-mode editor's edit-time-only one. */
  get editCalibration(): CalibrationSettings | null {
    return this.s.editCalibration ?? this.s.trainer.calibration;
  }

  propose(model: EditableModel, request: TokenizedEditRequest): ShiftProposal {
    const opts = this.s.trainer;
    const calibration = this.editCalibration;
    const trace = model.trace(request.edit, this.modules, opts.positions);
    try {
      // The authors' code keeps the low-level normalizers updating at test time (spec §5); ours freezes them.
      const edit = this.chooseModules(model, request, this.policy.computeEdit(trace.features, { updateLowNormalizers: this.method.updateLowNormalizersAtEdit }), calibration);
      let chosen = new Set(edit.mask.modules.filter((_, i) => edit.mask.selected[i]));
      let scale = 1;
      let tries: number | undefined;
      if (calibration) {
        // An edit that holds at no strength up to the bound (on any module set the miss rule tries) is skipped
        // rather than applied for nothing.
        let c: SelectionCalibration;
        try {
          c = calibrateSelection(model, request.edit, edit, calibration);
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

  /**
   * `edit` with the selection rule's choice in its mask (the gate's own for `gate`, combined with its prior when it has
   * one); the rule's scores order the calibration's fallback. The first choice before calibration, for callers that
   * judge it (the benchmark's oracle gap). Disposes `edit`'s shifts when the rule fails.
   */
  chooseModules(model: EditableModel, request: TokenizedEditRequest, edit: PolicyEdit, calibration: CalibrationSettings | null): PolicyEdit {
    const sel = this.selection;
    if (sel.rule === 'gate' && !sel.prior?.merits) return edit;
    try {
      const modules = edit.mask.modules;
      const k = this.policy.config.high?.k ?? modules.length;
      const custom = this.method.customSelection;
      if (sel.rule === 'custom' && !custom) throw new Error(`${this.kind}: a custom selection rule needs the method's customSelection`);
      const mask = sel.rule === 'custom'
        ? custom!({ model, request, modules, shifts: edit.shifts, k, calibration })
        : applySelection(sel, modules, k, request.edit, edit.mask);
      return { shifts: edit.shifts, mask: { modules, scores: mask.scores, selected: mask.selected } };
    } catch (e) {
      disposeShifts(edit.shifts);
      throw e;
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
      if (r.status === 'done') this.measureSelectionAfterTraining(model, stream);
      return { steps: r.steps, epochs: r.epochsCompleted, seconds: r.seconds, finished: r.status === 'done',
        details: { stoppedEarly: r.stoppedEarly, ...(r.bestValidation !== undefined ? { bestValidation: r.bestValidation } : {}) } };
    } finally {
      trainer.dispose();
    }
  }

  /**
   * What the selection rule learns from the training split once training has finished (merit.ts): fixed-k's choice
   * (the k modules of best mean merit) or the gate prior's merits, recorded in the settings (editor.json). What the
   * settings already hold is kept.
   */
  private measureSelectionAfterTraining(model: EditableModel, stream: readonly TokenizedEditRequest[]): void {
    const sel = this.selection;
    const positions = this.s.trainer.positions;
    if (sel.rule === 'fixed' && !sel.modules) {
      const k = this.policy.config.high?.k ?? this.modules.length;
      const modules = chooseFixedModules(model, this.policy, stream, k, this.editCalibration, positions);
      this.s = { ...this.s, selection: { rule: 'fixed', modules } };
    } else if (sel.rule === 'gate' && sel.prior && !sel.prior.merits) {
      const merits = moduleMerits(model, this.policy, stream, this.editCalibration, positions);
      this.s = { ...this.s, selection: { rule: 'gate', prior: { weight: sel.prior.weight, merits } } };
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
