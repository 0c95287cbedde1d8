/**
 * @hiedit/tensor-core: the one tfjs instance and backend of the process, safetensors I/O, the typed interfaces the
 * other packages share, numerics, the CLI framework and the optional native accelerator.
 */
// The public API, named one by one: modules not listed here are internal and may change without notice.
export * as tf from '@tensorflow/tfjs';
export { BACKEND_NAMES, backendReport, initBackend } from './backend';
export type { BackendName, BackendReport, InitBackendOptions } from './backend';
export { describeValue } from './describe-value';
export { geluMul, geluTanh, layerNorm, rmsNorm, rotaryEmbedding, siluMul, softmaxCrossEntropy } from './fused-ops';
export { fusedKernelsActive } from './fused-kernels';
export { attention, attentionPacked } from './attention-op';
export type { AttentionOptions, PackedAttentionOptions, SeparateAttentionOptions } from './attention-op';
export { attentionKernelsActive } from './attention-kernels';
export type { HeadLayout } from './attention-kernels';
export { untaped } from './untaped';
export { Adam, DEFAULT_ADAM, namedVariables } from './adam';
export type { AdamConfig, AdamMoment, NamedVariables } from './adam';
export { tempSibling, writeDirAtomic, writeFileAtomic, writeFileAtomicWith, writeFully, writeJsonAtomic } from './fs-atomic';
export type { AtomicWriteOptions } from './fs-atomic';
export { readJsonFile } from './json-file';
export { openRegularFile } from './regular-file';
export { median, medianMs } from './timing';
export { IGNORE_INDEX, shapeKey } from './types';
export type {
  EditFeatures,
  EditableModel,
  ModuleDescriptor,
  ModuleMask,
  ParameterShift,
  ShiftSet,
  TokenizedEditRequest,
  TokenizedTuple,
  TracePositions,
  TraceResult,
} from './types';
export {
  WeightSnapshot,
  addShifts,
  applyHostShifts,
  assertFiniteShift,
  beginApply,
  currentWeightsDigest,
  disposeShifts,
  hostShiftToDense,
  readHostWeights,
  scaleShifts,
  shiftNorm,
  shiftToDense,
  toHostShift,
  writeHostWeights,
} from './shifts';
export type { HostShift, HostWeight, PendingApply } from './shifts';
export { bf16BitsToFloat32, f16BitsToFloat32, float32ToBf16Bits, float32ToF16Bits, isFloatDType } from './dtypes';
export type { SafeDType } from './dtypes';
export { openCheckpointWeights, openSafetensors, readFiniteFloat, writeSafetensors } from './safetensors';
export type { HostTensor, TensorEntry, WeightSource, WriteTensor } from './safetensors';
export { RunningNormalizer, clipByGlobalNorm, klDivergence, maskedCrossEntropy } from './numerics';
export type { RunningNormalizerJSON } from './numerics';
export { SeededRandom, randomNormal } from './random';
export { CliUsageError, parseFlags, requireFlag, runCli } from './cli';
export type { CliCommand, CliIO, FlagKind, FlagSpec, IntFlag, ParsedFlags } from './cli';
export { defineCommand, undocumentedFlags } from './cli-command';
export type { CommandDefinition, DefinedCommand } from './cli-command';
export {
  KERNELS_REVISION,
  acceleratorStatus,
  installAccelerator,
  kernelFingerprint,
  loadNativeBlas,
  nativeBlas,
  uninstallAccelerator,
} from './accelerator';
export type { AcceleratorStatus, InstallAcceleratorOptions, NativeBlas } from './accelerator';
export { TFJS_NODE_GPU, describeGpu, gpuReport } from './gpu';
export type { CudaLibraries, GpuMatmul, GpuProbe, GpuReport, NvidiaDriver } from './gpu';
