/**
 * What every part of one training run shares: the fixed context (model, policy, options) and the run's mutable parts.
 */
import type { EditableModel, SeededRandom } from '@hiedit/tensor-core';
import type { ObjectiveWeights } from '../loss';
import type { HiEditPolicy } from '../policy';
import type { TrainerOptions } from '../trainer-options';
import type { EarlyStopping } from './early-stop';
import type { EditWeights } from './edit-weights';
import type { RunPosition } from './run-position';
import type { UpdateSchedule } from './update-schedule';

/** The parts of a run that never change after the trainer is built. */
export interface TrainingContext {
  readonly model: EditableModel;
  readonly policy: HiEditPolicy;
  readonly options: TrainerOptions;
  /** The policy's module names; every per-module array of a step follows this order. */
  readonly names: readonly string[];
  /** Parameter name of each of the policy's tf variables (by variable name), to key the gradients tfjs returns. */
  readonly paramOfVariable: ReadonlyMap<string, string>;
  /** The objective's coefficients (from the options). */
  readonly objective: ObjectiveWeights;
}

/** A training run: its context and everything a checkpoint saves and a resume restores. */
export interface TrainingRun {
  readonly ctx: TrainingContext;
  readonly position: RunPosition;
  /** Drives the stream shuffling only. */
  readonly rng: SeededRandom;
  readonly editWeights: EditWeights;
  readonly updates: UpdateSchedule;
  readonly earlyStop: EarlyStopping;
}
