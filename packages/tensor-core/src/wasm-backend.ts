/**
 * The parts of tfjs-backend-wasm's BackendWasm that tensor-core's own kernels use (the node build does not
 * export its types): one description shared by the matmul accelerator, the fused kernels and the kernel patches.
 */
import * as tf from '@tensorflow/tfjs';

/** A tensor's storage on the wasm heap. */
export interface WasmTensorData {
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
}

/** BackendWasm as seen by hiedit's kernels. */
export interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * `stock` with its kernel function replaced by `kernelFunc`: the same kernel name and backend, and the stock
 * setup / dispose functions, which own the kernel's state in the wasm module.
 */
export function withKernelFunc(stock: tf.KernelConfig, kernelFunc: tf.KernelFunc): tf.KernelConfig {
  return { kernelName: stock.kernelName, backendName: stock.backendName, setupFunc: stock.setupFunc, disposeFunc: stock.disposeFunc, kernelFunc };
}

/** Registers `configs`, replacing any kernel already registered under the same name and backend. */
export function replaceKernels(configs: readonly tf.KernelConfig[]): void {
  for (const c of configs) {
    if (tf.getKernel(c.kernelName, c.backendName)) tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
}

/** Unregisters the named wasm kernels that are registered. Idempotent. */
export function removeWasmKernels(names: readonly string[]): void {
  for (const name of names) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
}
