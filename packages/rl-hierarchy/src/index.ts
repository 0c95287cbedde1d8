/**
 * @hiedit/rl-hierarchy: HiEdit's policies (MEND/MALMEN-style low-level hypernetworks, the HiNet layer
 * selector) and their lifelong meta-training, over tf tensors and the EditableModel interface.
 */
// The public API, named one by one: modules not listed here are internal and may change without notice.
export { reluOpenAtZero, solveSpd, stopGradient, straightThrough } from './ops';
export { ParamSet } from './params';
export type { HostParam } from './params';
export { LowLevelGroup, ridgeShift } from './low-level';
export type { FactoredShift, RidgeForm } from './low-level';
export { HiNet } from './high-level';
export type { GateOutput } from './high-level';
export { estimateKeyCovariances, preconditionerInverse } from './key-precond';
export { HiEditPolicy, applySelectedShifts } from './policy';
export type { PolicyEdit, PolicyForward, PolicyPassOptions } from './policy';
export { Adam, DEFAULT_ADAM, disposeShifts, scaleShifts } from '@hiedit/tensor-core';
export type { AdamConfig } from '@hiedit/tensor-core';
export { DEFAULT_CALIBRATION, calibrateScale, calibrateSelection, resolveCalibration } from './calibrate';
export type { CalibrationResult, CalibrationSettings, SelectionCalibration } from './calibrate';
export { shiftRegularizer, windowLoss } from './loss';
export type { GeneralizationTuples, ObjectiveTerms, ObjectiveWeights, WindowItem } from './loss';
export { POLICY_VERSION, loadPolicy, readPolicyManifest, savePolicy } from './persist';
export type { PolicyManifest } from './persist';
export { PolicyTrainer } from './trainer';
export type { StepGradients } from './trainer/grad-map';
export {
  DEFAULT_TRAINER_OPTIONS,
  GATE_TARGETS,
  REFERENCE_TRAINER_OPTIONS,
  REINFORCE_BASELINES,
  presetPolicyConfig,
  presetTrainerOptions,
  presetUsesHighLevel,
  validateOptions,
} from './trainer-options';
export type {
  EditorKind,
  GateTarget,
  ReinforceBaseline,
  TrainMode,
  TrainProgress,
  TrainResult,
  TrainerOptions,
} from './trainer-options';
export type { ReinforceTarget } from './trainer/gate-reinforce';
export type { GateSignal } from './trainer/gate-targets';
export { DEFAULT_HIGH_LEVEL, DEFAULT_LOW_LEVEL, resolvePolicyConfig } from './config';
export type {
  HighLevelConfig,
  KeyPreconditionerConfig,
  KeyPreconditionerInput,
  KeyPreconditionerRescale,
  LowLevelConfig,
  PolicyConfig,
  PolicyConfigInput,
  ShiftStyle,
} from './config';
