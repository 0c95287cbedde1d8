/**
 * Kernel patches hiedit's gradients need. UnsortedSegmentSum is the gradient of tf.gather (embedding
 * lookups): tfjs-backend-wasm 4.22 has no such kernel at all, and the cpu one is unusably slow for
 * vocabulary-sized tables. Both get a single-pass JS implementation.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasm-backend';


/** The parts of MathBackendCPU these kernels use. */
interface CpuBackendLike {
  data: { get(id: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array | Int32Array): tf.TensorInfo;
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** out[ids[s]] += x[s] over rows of `inner` values; ids outside [0, numSegments) are dropped (TF semantics). */
function segmentSumInto(out: Float32Array | Int32Array | Uint8Array, x: ArrayLike<number>, ids: ArrayLike<number>, numSegments: number, inner: number): void {
  out.fill(0);
  for (let s = 0; s < ids.length; s++) {
    const seg = ids[s];
    if (seg < 0 || seg >= numSegments) continue;
    const src = s * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}

function shapes(args: Args): { x: tf.TensorInfo; ids: tf.TensorInfo; numSegments: number; outShape: number[]; inner: number } {
  const x = args.inputs.x as tf.TensorInfo;
  const ids = args.inputs.segmentIds as tf.TensorInfo;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const rank = ids.shape.length;
  let inner = 1;
  for (let i = rank; i < x.shape.length; i++) inner *= x.shape[i];
  return { x, ids, numSegments, outShape: [numSegments, ...x.shape.slice(rank)], inner };
}

function unsortedSegmentSumWasm(args: Args): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, ids, numSegments, outShape, inner } = shapes(args);
  // Allocate first: growing the wasm heap detaches views taken before.
  const out = backend.makeOutput(outShape, x.dtype);
  segmentSumInto(backend.typedArrayFromHeap(out), backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(ids), numSegments, inner);
  return out;
}

function unsortedSegmentSumCpu(args: Args): tf.TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const { x, ids, numSegments, outShape, inner } = shapes(args);
  const size = outShape.reduce((a, b) => a * b, 1);
  const out = x.dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  segmentSumInto(out, backend.data.get(x.dataId).values, backend.data.get(ids.dataId).values, numSegments, inner);
  return backend.makeTensorInfo(outShape, x.dtype, out);
}

/**
 * Registers JS UnsortedSegmentSum kernels: for wasm, which has none, and for cpu, whose stock kernel runs
 * several tensor ops per segment (a vocabulary-sized embedding gradient would take minutes and gigabytes).
 * Idempotent. Returns the kernels added by this call as "Kernel/backend".
 */
export function registerWasmKernelPatches(): string[] {
  const added: string[] = [];
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc });
    added.push('UnsortedSegmentSum/wasm');
  }
  const cpu = tf.getKernel('UnsortedSegmentSum', 'cpu');
  if (!cpu || cpu.kernelFunc !== (unsortedSegmentSumCpu as unknown as tf.KernelFunc)) {
    if (cpu) tf.unregisterKernel('UnsortedSegmentSum', 'cpu');
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'cpu', kernelFunc: unsortedSegmentSumCpu as unknown as tf.KernelFunc });
    added.push('UnsortedSegmentSum/cpu');
  }
  return added;
}
