/**
 * Lifelong meta-training of the policies (spec §4-5) in the two modes, sharing one objective (loss.ts).
 * `PolicyTrainer` coordinates the parts in trainer/: the loop (loop.ts, step.ts), the two gradient modes
 * (gradients-hiedit.ts, gradients-reference.ts), the update schedule, calibration and gate targets, early stopping,
 * and the saved training state (state.ts).
 */
import { SeededRandom } from '@hiedit/tensor-core';
import type { EditableModel, EditFeatures, TokenizedEditRequest } from '@hiedit/tensor-core';
import type { WindowItem } from './loss';
import { checkModulesMatch } from './persist';
import type { HiEditPolicy, PolicyEdit } from './policy';
import type { TrainerOptions, TrainResult } from './trainer-options';
import type { TrainingContext, TrainingRun } from './trainer/context';
import { EarlyStopping } from './trainer/early-stop';
import { EditWeights } from './trainer/edit-weights';
import { paramNamesByVariable } from './trainer/grad-map';
import type { StepGradients } from './trainer/grad-map';
import type { GateSignal } from './trainer/gate-targets';
import { hieditGradients } from './trainer/gradients-hiedit';
import { referenceGradients } from './trainer/gradients-reference';
import { runSession } from './trainer/loop';
import { resolveTrainerOptions } from './trainer/run-options';
import { RunPosition } from './trainer/run-position';
import { loadTrainState, saveTrainState } from './trainer/state';
import { UpdateSchedule } from './trainer/update-schedule';
import { validationScore } from './trainer/validation';

export { serializableOptions } from './trainer/run-options';
export { TRAIN_STATE_FORMAT, TRAIN_STATE_VERSION } from './trainer/state';
export type { StepGradients } from './trainer/grad-map';

/**
 * Trains a HiEditPolicy against an EditableModel. One trainer = one training run (resumable).
 * The trainer owns neither the model nor the policy; it restores the model's edit modules to their
 * base weights when training finishes.
 */
export class PolicyTrainer {
  readonly options: TrainerOptions;
  private readonly run: TrainingRun;
  /** Seconds spent in training sessions that have ended (restored by loadState, so a resumed run counts them). */
  private priorSeconds = 0;
  /** Date.now() when the running train() call started; null outside train(). */
  private sessionStart: number | null = null;

  constructor(
    readonly model: EditableModel,
    readonly policy: HiEditPolicy,
    options: Partial<TrainerOptions> = {},
  ) {
    this.options = resolveTrainerOptions(options, policy);
    checkModulesMatch(policy.modules, (n) => model.module(n), 'trainer');
    const o = this.options;
    const names = policy.moduleNames();
    const ctx: TrainingContext = {
      model,
      policy,
      options: o,
      names,
      paramOfVariable: paramNamesByVariable(policy),
      objective: { locCoef: o.locCoef, regCoef: o.regCoef, genOn: o.genOn },
    };
    const updates = new UpdateSchedule(policy, o);
    const rng = new SeededRandom(o.seed);
    this.run = { ctx, position: new RunPosition(), rng, editWeights: new EditWeights(model, names), updates, earlyStop: new EarlyStopping() };
  }

  /** Restore the model's edit modules to the weights they had when the trainer was created. */
  resetModel(): void {
    this.run.editWeights.reset();
  }

  /** Total steps taken. */
  get steps(): number {
    return this.run.position.step;
  }

  /**
   * Run (or continue) training over `train`, validating on `validation` after each epoch (hiedit mode) for
   * early stopping. Returns when done or when `maxSteps` is reached (then `saveState` + `loadState` resume).
   * Whenever it returns (done or paused) the model's edit modules hold their base weights again; a paused
   * trajectory is kept by the trainer (and in saveState) and put back when training continues.
   * On an error (e.g. a non-finite gradient) the model's edit modules are restored to their base weights and
   * the error names the request; resume from the last checkpoint, not from this trainer.
   */
  train(train: readonly TokenizedEditRequest[], validation: readonly TokenizedEditRequest[] = []): TrainResult {
    this.sessionStart = Date.now();
    try {
      return runSession(this.run, train, validation, this);
    } finally {
      this.priorSeconds = this.elapsedSeconds();
      this.sessionStart = null;
    }
  }

  /** Training seconds so far, earlier (saved and resumed) sessions included. */
  elapsedSeconds(): number {
    return this.priorSeconds + (this.sessionStart === null ? 0 : (Date.now() - this.sessionStart) / 1000);
  }

  /**
   * hiedit mode: the objective as a function of the policy parameters through W + mask * dW(theta).
   * Exposed for gradient checks; returns the gradients (caller owns) and the loss terms.
   */
  hieditGradients(features: ReadonlyMap<string, EditFeatures>, window: readonly WindowItem[], scale = 1, gateTarget?: GateSignal): StepGradients {
    return hieditGradients(this.run.ctx, features, window, scale, gateTarget);
  }

  /**
   * reference mode (exposed for checks): the shift is a constant written into the weights; dL/dW reaches the low-level network
   * by the chain rule sum_m <dL/dW_m, d dW_m/d theta>, and the gate only through the regularizer.
   */
  referenceGradients(features: ReadonlyMap<string, EditFeatures>, window: readonly WindowItem[], edit: PolicyEdit): StepGradients {
    return referenceGradients(this.run.ctx, features, window, edit);
  }

  /**
   * Validation score: run the validation stream through the frozen policies from the base model, then
   * mean generalization CE + loc_coef * locality KL (against the base model) on the final model. Lower is better.
   */
  validate(validation: readonly TokenizedEditRequest[]): number {
    return validationScore(this.run.ctx, validation, this.run.editWeights);
  }

  /**
   * Write the complete training state (policy, normalizers, Adam moments, accumulated gradients, stream
   * position, epoch, random state, the model's current and base edit-module weights) to `dir`.
   * The tensor file is written first under a step-specific name, then the JSON that points to it: a crash
   * leaves the previous state valid.
   */
  saveState(dir: string): void {
    saveTrainState(dir, this.run, this.elapsedSeconds());
  }

  /**
   * Restore a state written by saveState into this trainer and its policy (same configuration and modules).
   * The model is not touched until `train` continues on the same streams.
   */
  loadState(dir: string): void {
    this.priorSeconds = loadTrainState(dir, this.run);
  }

  /** Release the trainer's own tensors (accumulated gradients, Adam moments). */
  dispose(): void {
    this.run.updates.dispose();
  }
}
