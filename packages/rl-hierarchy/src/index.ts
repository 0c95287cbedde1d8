/**
 * @hiedit/rl-hierarchy: HiEdit's policies (MEND/MALMEN-style low-level hypernetworks, the HiNet layer
 * selector) and their lifelong meta-training, over tf tensors and the EditableModel interface.
 */
export * from './config';
export { reluOpenAtZero, solveSpd, stopGradient, straightThrough, choleskySolveHost } from './ops';
export { ParamSet } from './params';
export type { HostParam } from './params';
export { LowLevelGroup, ridgeShift } from './low-level';
export type { FactoredShift, RidgeForm } from './low-level';
export { HiNet, topKMask, topKIndices, thresholdMask } from './high-level';
export type { GateOutput } from './high-level';
export { covarianceTuples, estimateKeyCovariances, preconditionerInverse, preconditionLeft } from './key-precond';
export type { KeyCovarianceSource } from './key-precond';
export { HiEditPolicy, KEY_COV_PREFIX, applySelectedShifts } from './policy';
// Shift operations live in tensor-core; re-exported under the names this package has always used.
export { disposeShifts, scaleShifts, shiftToDense } from '@hiedit/tensor-core';
export type { PolicyEdit, PolicyPassOptions, PolicyForward } from './policy';
// The optimizer lives in tensor-core (shared with the benchmarks' pretrainer); re-exported under its old names.
export { Adam, DEFAULT_ADAM } from '@hiedit/tensor-core';
export type { AdamConfig } from '@hiedit/tensor-core';
export { calibrateScale, calibrateSelection, resolveCalibration, DEFAULT_CALIBRATION } from './calibrate';
export type { CalibrationSettings, CalibrationResult, SelectionCalibration } from './calibrate';
export { windowLoss, windowWeights, shiftRegularizer, localityReference, generalizationTuples } from './loss';
export type { WindowItem, ObjectiveWeights, ObjectiveTerms, GeneralizationTuples } from './loss';
export {
  savePolicy,
  loadPolicy,
  readPolicyManifest,
  checkModulesMatch,
  writeFileAtomic,
  POLICY_FORMAT,
  POLICY_VERSION,
  POLICY_MIN_VERSION,
  convertV1Tensors,
  POLICY_JSON,
  POLICY_WEIGHTS,
} from './persist';
export type { PolicyManifest } from './persist';
export { PolicyTrainer, serializableOptions, TRAIN_STATE_FORMAT, TRAIN_STATE_VERSION } from './trainer';
export type { StepGradients } from './trainer';
export {
  DEFAULT_TRAINER_OPTIONS,
  REFERENCE_TRAINER_OPTIONS,
  presetTrainerOptions,
  presetUsesHighLevel,
  presetPolicyConfig,
  validateOptions,
  GATE_TARGETS,
  REINFORCE_BASELINES,
} from './trainer-options';
export type { TrainMode, TrainerOptions, TrainProgress, TrainResult, EditorKind, GateTarget, ReinforceBaseline } from './trainer-options';
export { sampleModuleSets, reinforceGateLoss } from './trainer/gate-reinforce';
export type { ReinforceTarget } from './trainer/gate-reinforce';
export type { GateSignal } from './trainer/gate-targets';
