/**
 * Kernels the tfjs wasm backend (4.22) lacks but hiedit's gradients need, implemented in JS on the
 * wasm heap. UnsortedSegmentSum is the gradient of tf.gather (embedding lookups), so without it no
 * embedding gradient can be computed on wasm.
 */
import * as tf from '@tensorflow/tfjs';

/** The parts of BackendWasm these kernels use (it is not exported with types from the node build). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function unsortedSegmentSum(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as tf.TensorInfo;
  const segmentIds = args.inputs.segmentIds as tf.TensorInfo;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const idsRank = segmentIds.shape.length;
  const outShape = [numSegments, ...x.shape.slice(idsRank)];
  let inner = 1;
  for (let i = idsRank; i < x.shape.length; i++) inner *= x.shape[i];
  // Allocate first: growing the wasm heap detaches views taken before.
  const out = backend.makeOutput(outShape, x.dtype);
  const outVals = backend.typedArrayFromHeap(out);
  const xVals = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  outVals.fill(0);
  for (let s = 0; s < ids.length; s++) {
    const seg = ids[s];
    // TensorFlow semantics: ids outside [0, numSegments) are dropped.
    if (seg < 0 || seg >= numSegments) continue;
    const src = s * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) outVals[dst + j] += xVals[src + j];
  }
  return out;
}

/** Registers the missing kernels for the 'wasm' backend (once; safe to call again). */
export function registerWasmKernelPatches(): string[] {
  const added: string[] = [];
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName: 'wasm',
      kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
    });
    added.push('UnsortedSegmentSum');
  }
  return added;
}
