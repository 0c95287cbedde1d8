/**
 * Slice, SplitV and GatherV2 for the wasm backend as plain block copies on the wasm heap.
 *
 * The stock tfjs-backend-wasm 4.22 kernels are correct but slow where a transformer uses them: Slice first
 * copies its WHOLE input out of the heap (`readSync`) and then slices the copy, so taking the first T rows of
 * GPT-2's (1024, 768) position table costs a 3 MB copy; GatherV2 runs a per-element index loop, about
 * 0.5 ms for 32 embedding rows of 768 values; SplitV runs the stock Slice once per piece, copying the whole
 * input each time. All three are memory moves of contiguous runs, which
 * `TypedArray.prototype.copyWithin` does at memcpy speed, so no native code is needed: these kernels are
 * installed with the accelerator's JS fast paths (also without the addon) and removed by
 * HIEDIT_ACCELERATOR=off. Anything unusual (string tensors, batchDims) goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { withKernelFunc, type WasmBackendLike } from './wasm-backend';

type KernelArgs = Parameters<tf.KernelFunc>[0];

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Heap view of a tensor with one element per index (float32, int32 and bool all map to one typed array). */
function view(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array {
  return backend.typedArrayFromHeap(t);
}

/**
 * Copies the box `begin .. begin + size` of `x` (row-major `shape`) into `out`, one contiguous run at a time:
 * trailing dimensions taken whole merge into the run, so a slice of leading rows is a single copy.
 */
function copyBox(
  heap: Float32Array | Int32Array | Uint8Array, xBase: number, outBase: number,
  shape: readonly number[], begin: readonly number[], size: readonly number[],
): void {
  const rank = shape.length;
  if (rank === 0) {
    heap[outBase] = heap[xBase];
    return;
  }
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  // The run: the innermost dimension plus every dimension to its left that is taken whole after it.
  let split = rank - 1;
  while (split > 0 && size[split] === shape[split] && begin[split] === 0) split--;
  const run = size[split] * strides[split];
  const outerShape = size.slice(0, split);
  const runs = sizeOf(outerShape);
  const idx = new Array<number>(split).fill(0);
  for (let r = 0; r < runs; r++) {
    let src = begin[split] * strides[split];
    for (let d = 0; d < split; d++) src += (begin[d] + idx[d]) * strides[d];
    heap.copyWithin(outBase + r * run, xBase + src, xBase + src + run);
    for (let d = split - 1; d >= 0; d--) {
      if (++idx[d] < outerShape[d]) break;
      idx[d] = 0;
    }
  }
}

function fastSlice(stock: tf.KernelConfig): tf.KernelConfig {
  return withKernelFunc(stock, (args: KernelArgs) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string' || x.dtype === 'complex64') return stock.kernelFunc(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as tf.Tensor, b, sz);
    // Allocate first: growing the heap detaches every view taken before.
    const out = backend.makeOutput(sz, x.dtype);
    if (sizeOf(sz) === 0) return out;
    const heapView = view(backend, x);
    const xOffset = heapView.byteOffset / heapView.BYTES_PER_ELEMENT;
    const outView = view(backend, out);
    const outOffset = outView.byteOffset / outView.BYTES_PER_ELEMENT;
    // One typed array over the whole heap of the right element type, so copyWithin can address both.
    const whole = new (heapView.constructor as Float32ArrayConstructor)(heapView.buffer);
    copyBox(whole, xOffset, outOffset, x.shape, b, sz);
    return out;
  });
}

/** SplitV as one block-copy slice per piece (the stock kernel copies the whole input once per piece). */
function fastSplitV(stock: tf.KernelConfig, slice: tf.KernelConfig): tf.KernelConfig {
  return withKernelFunc(stock, (args: KernelArgs) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string' || x.dtype === 'complex64') return stock.kernelFunc(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    const outs: tf.TensorInfo[] = [];
    try {
      for (const s of sizes) {
        const size = [...x.shape];
        size[ax] = s;
        outs.push(slice.kernelFunc({ ...args, inputs: { x }, attrs: { begin: [...begin], size } }) as tf.TensorInfo);
        begin[ax] += s;
      }
    } catch (e) {
      for (const o of outs) (args.backend as unknown as WasmBackendLike).disposeData(o.dataId);
      throw e;
    }
    return outs;
  });
}

function fastGather(stock: tf.KernelConfig): tf.KernelConfig {
  return withKernelFunc(stock, (args: KernelArgs) => {
    const x = args.inputs.x as tf.TensorInfo;
    const indices = args.inputs.indices as tf.TensorInfo;
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims?: number };
    if (x.dtype === 'string' || x.dtype === 'complex64' || indices.dtype !== 'int32' || (batchDims ?? 0) !== 0) {
      return stock.kernelFunc(args);
    }
    const backend = args.backend as unknown as WasmBackendLike;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const dim = x.shape[ax];
    const outer = sizeOf(x.shape.slice(0, ax));
    const inner = sizeOf(x.shape.slice(ax + 1));
    const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
    const ids = view(backend, indices) as Int32Array;
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (!(v >= 0 && v < dim)) throw new Error(`GatherV2: the index value ${v} is not in [0, ${dim - 1}]`);
    }
    const n = ids.length;
    const out = backend.makeOutput(outShape, x.dtype);
    if (sizeOf(outShape) === 0) return out;
    // Views again after the allocation (it may have grown the heap).
    const idv = view(backend, indices) as Int32Array;
    const xv = view(backend, x);
    const ov = view(backend, out);
    const whole = new (xv.constructor as Float32ArrayConstructor)(xv.buffer);
    const xBase = xv.byteOffset / xv.BYTES_PER_ELEMENT;
    const oBase = ov.byteOffset / ov.BYTES_PER_ELEMENT;
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < n; j++) {
        const src = xBase + (o * dim + idv[j]) * inner;
        const dst = oBase + (o * n + j) * inner;
        if (inner === 1) whole[dst] = whole[src];
        else whole.copyWithin(dst, src, src + inner);
      }
    }
    return out;
  });
}

/** The stock kernels these replace, for uninstalling. */
export interface StockCopyKernels {
  slice: tf.KernelConfig;
  splitV: tf.KernelConfig;
  gather: tf.KernelConfig;
}

/** The fast Slice, SplitV and GatherV2 configs for wasm, or undefined when the stock ones are not registered. */
export function copyKernels(): { fast: tf.KernelConfig[]; stock: StockCopyKernels } | undefined {
  const slice = tf.getKernel('Slice', 'wasm');
  const splitV = tf.getKernel('SplitV', 'wasm');
  const gather = tf.getKernel('GatherV2', 'wasm');
  if (!slice || !splitV || !gather) return undefined;
  const fastSliceConfig = fastSlice(slice);
  return { fast: [fastSliceConfig, fastSplitV(splitV, fastSliceConfig), fastGather(gather)], stock: { slice, splitV, gather } };
}
