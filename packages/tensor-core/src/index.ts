export * as tf from '@tensorflow/tfjs';
export * from './types';
export * from './shifts';
export * from './dtypes';
export * from './safetensors';
export { BACKEND_NAMES, backendReport, initBackend } from './backend';
export type { BackendName, BackendReport, InitBackendOptions } from './backend';
export * from './numerics';
export * from './random';
export * from './cli';
export * from './cli-command';
export { describeValue } from './describe-value';
export { hostToTensor } from './host-tensor';
export { registerWasmKernelPatches } from './wasm-kernels';
// The accelerator's own API (owned by the accelerator helper): nativeBlas, acceleratorStatus, ...
export * from './accelerator';
// Fused transformer ops (one native kernel each with the accelerator, composite tf ops otherwise).
export { geluTanh, layerNorm, rmsNorm, rotaryEmbedding, siluMul, softmaxCrossEntropy } from './fused-ops';
export { fusedKernelsActive } from './fused-kernels';
// Fused scaled-dot-product attention (one native kernel forward and backward with the accelerator).
export { attention, attentionPacked } from './attention-op';
export type { AttentionOptions, HeadLayout, PackedAttentionOptions, SeparateAttentionOptions } from './attention-op';
export { attentionKernelsActive, attentionKernelsFailure } from './attention-kernels';
export { untaped } from './untaped';
export { Adam, DEFAULT_ADAM, namedVariables } from './adam';
export type { AdamConfig, AdamMoment, NamedVariables } from './adam';
export { fsyncDir, tempSibling, writeDirAtomic, writeFileAtomic, writeFileAtomicWith, writeFully, writeJsonAtomic, type AtomicWriteOptions } from './fs-atomic';
export { readJsonFile } from './json-file';
export { openRegularFile, readRegularFileText } from './regular-file';
export { median, medianMs } from './timing';
