/**
 * Kernels of hiedit's own fused ops (LayerNorm, RMSNorm, tanh-GELU, SiLU(gate) * up, GELU(gate) * up, RoPE, and their backward
 * passes) for the wasm backend, run by the native addon directly on the wasm heap. They exist only while the
 * native accelerator is installed (installAccelerator registers them, uninstall removes them); the ops in
 * fused-ops.ts fall back to composite tf ops whenever they are absent. Gradients are in fused-gradients.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { removeWasmKernels, replaceKernels, type WasmBackendLike } from './wasm-backend';

/** Kernel names (hiedit's own; no tfjs backend defines them). */
export const FUSED_KERNELS = {
  layerNorm: 'HieditLayerNorm',
  layerNormGrad: 'HieditLayerNormGrad',
  rmsNorm: 'HieditRmsNorm',
  rmsNormGrad: 'HieditRmsNormGrad',
  geluTanh: 'HieditGeluTanh',
  geluTanhGrad: 'HieditGeluTanhGrad',
  siluMul: 'HieditSiluMul',
  siluMulGrad: 'HieditSiluMulGrad',
  geluMul: 'HieditGeluMul',
  geluMulGrad: 'HieditGeluMulGrad',
  crossEntropy: 'HieditSoftmaxCrossEntropy',
  crossEntropyGrad: 'HieditSoftmaxCrossEntropyGrad',
  rope: 'HieditRope',
} as const;

/** The addon functions these kernels call (native/src/hiedit_fused.c has the argument contracts). */
export interface NativeFused {
  layerNorm(heap: ArrayBuffer, x: number, gamma: number, beta: number, y: number, rows: number, d: number, eps: number): void;
  layerNormGrad(heap: ArrayBuffer, x: number, gamma: number, dy: number, dx: number, dgamma: number, dbeta: number, rows: number, d: number, eps: number): void;
  rmsNorm(heap: ArrayBuffer, x: number, w: number, y: number, rows: number, d: number, eps: number, offset: number): void;
  rmsNormGrad(heap: ArrayBuffer, x: number, w: number, dy: number, dx: number, dw: number, rows: number, d: number, eps: number, offset: number): void;
  gelu(heap: ArrayBuffer, x: number, y: number, n: number): void;
  geluBackward(heap: ArrayBuffer, x: number, dy: number, dx: number, n: number): void;
  swiglu(heap: ArrayBuffer, gate: number, up: number, y: number, n: number): void;
  swigluBackward(heap: ArrayBuffer, gate: number, up: number, dy: number, dgate: number, dup: number, n: number): void;
  geglu(heap: ArrayBuffer, gate: number, up: number, y: number, n: number): void;
  gegluBackward(heap: ArrayBuffer, gate: number, up: number, dy: number, dgate: number, dup: number, n: number): void;
  softmaxCrossEntropy(heap: ArrayBuffer, logits: number, labels: number, loss: number, rows: number, v: number): void;
  softmaxCrossEntropyGrad(heap: ArrayBuffer, logits: number, labels: number, dy: number, dx: number, rows: number, v: number): void;
  rope(heap: ArrayBuffer, x: number, cos: number, sin: number, y: number, outer: number, t: number, half: number, inverse: number): void;
}

const FUNCTIONS: (keyof NativeFused)[] = [
  'layerNorm', 'layerNormGrad', 'rmsNorm', 'rmsNormGrad', 'gelu', 'geluBackward', 'swiglu', 'swigluBackward', 'geglu', 'gegluBackward',
  'rope', 'softmaxCrossEntropy', 'softmaxCrossEntropyGrad',
];

/**
 * True when `addon` exports every fused function (an addon built before they existed does not; one built before
 * geglu also takes no RMSNorm offset, so it must not be used at all).
 */
export function hasNativeFused(addon: object): addon is NativeFused {
  const a = addon as Record<string, unknown>;
  return FUNCTIONS.every((f) => typeof a[f] === 'function');
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

const size = (shape: number[]): number => tf.util.sizeFromShape(shape);

/**
 * One kernel call's view of its inputs and of the heap, with the kernel's name bound for every error message:
 * `input` checks an input is present with its dtype (float32 unless named), `off` gives a tensor's heap offset, the others check shapes.
 */
interface KernelView {
  backend: WasmBackendLike;
  input(name: string, dtype?: tf.DataType): tf.TensorInfo;
  off(t: tf.TensorInfo): number;
  vector(name: string, t: tf.TensorInfo, d: number): void;
  sameShape(a: tf.TensorInfo, b: tf.TensorInfo): void;
  outputs(shapes: number[][], run: (heap: ArrayBuffer, outOffsets: number[]) => void): tf.TensorInfo[];
}

function viewOf(kernel: string, args: KernelArgs, backend: WasmBackendLike): KernelView {
  const off = (t: tf.TensorInfo): number => {
    const d = backend.dataIdMap.get(t.dataId);
    if (!d) throw new Error(`${kernel}: a tensor is not in the wasm backend`);
    return d.memoryOffset;
  };
  return {
    backend,
    input(name, dtype = 'float32') {
      const t = args.inputs[name];
      if (!t) throw new Error(`${kernel}: missing input ${name}`);
      if (t.dtype !== dtype) throw new Error(`${kernel}: input ${name} must be ${dtype}, got ${t.dtype}`);
      return t;
    },
    off,
    vector(name, t, d) {
      if (size(t.shape) !== d) throw new Error(`${kernel}: ${name} must hold ${d} values (the last dim of x), got shape ${JSON.stringify(t.shape)}`);
    },
    sameShape(a, b) {
      if (a.shape.length !== b.shape.length || a.shape.some((x, i) => x !== b.shape[i])) {
        throw new Error(`${kernel}: shapes ${JSON.stringify(a.shape)} and ${JSON.stringify(b.shape)} differ`);
      }
    },
    outputs: (shapes, run) => withOutputs(off, backend, shapes, run),
  };
}

/**
 * Allocates the outputs, then calls `run` with the heap buffer (read after every allocation: growing the
 * wasm memory detaches the previous buffer) and the outputs' offsets. Outputs are freed if `run` throws.
 */
function withOutputs(
  off: (t: tf.TensorInfo) => number,
  backend: WasmBackendLike,
  shapes: number[][],
  run: (heap: ArrayBuffer, outOffsets: number[]) => void,
): tf.TensorInfo[] {
  const outs = shapes.map((s) => backend.makeOutput(s, 'float32'));
  try {
    if (shapes.every((s) => size(s) > 0)) {
      run(backend.wasm.HEAPU8.buffer as ArrayBuffer, outs.map(off));
    } else {
      // Empty inputs: nothing to compute, but statistics over an empty batch are zeros (dgamma, dbeta).
      for (const o of outs) if (size(o.shape) > 0) new Float32Array(backend.wasm.HEAPU8.buffer, off(o), size(o.shape)).fill(0);
    }
  } catch (e) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw e;
  }
  return outs;
}

/** (rows, V) of a logits matrix and its int32 label vector. */
function crossEntropyShape(logits: tf.TensorInfo, labels: tf.TensorInfo): [number, number] {
  if (logits.shape.length !== 2 || labels.shape.length !== 1 || labels.shape[0] !== logits.shape[0] || labels.dtype !== 'int32') {
    throw new Error(`softmax cross-entropy: logits must be (rows, V) and labels int32 [rows], got ${JSON.stringify(logits.shape)} and ${labels.dtype} ${JSON.stringify(labels.shape)}`);
  }
  return [logits.shape[0], logits.shape[1]];
}

function rowsOf(x: tf.TensorInfo): { rows: number; d: number } {
  if (x.shape.length < 1) throw new Error('fused norm: x must have at least one dimension');
  const d = x.shape[x.shape.length - 1];
  return { rows: d === 0 ? 0 : size(x.shape) / d, d };
}

type KernelMaker = (kernelName: string, fn: (k: KernelView, args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]) => tf.KernelConfig;

/** A gated product act(gate) * up (SwiGLU, GeGLU): its forward kernel and its backward kernel (dgate, dup). */
function gatedKernels(
  kernel: KernelMaker,
  forwardName: string,
  backwardName: string,
  forward: (heap: ArrayBuffer, gate: number, up: number, y: number, n: number) => void,
  backward: (heap: ArrayBuffer, gate: number, up: number, dy: number, dgate: number, dup: number, n: number) => void,
): tf.KernelConfig[] {
  return [
    kernel(forwardName, (k) => {
      const gate = k.input('gate');
      const up = k.input('up');
      k.sameShape(gate, up);
      return k.outputs([gate.shape], (heap, [y]) => forward(heap, k.off(gate), k.off(up), y, size(gate.shape)))[0];
    }),
    kernel(backwardName, (k) => {
      const gate = k.input('gate');
      const up = k.input('up');
      const dy = k.input('dy');
      k.sameShape(gate, up);
      k.sameShape(gate, dy);
      return k.outputs([gate.shape, gate.shape], (heap, [dg, du]) =>
        backward(heap, k.off(gate), k.off(up), k.off(dy), dg, du, size(gate.shape)),
      );
    }),
  ];
}

function makeConfigs(addon: NativeFused): tf.KernelConfig[] {
  const K = FUSED_KERNELS;
  const kernel: KernelMaker = (kernelName, fn) => ({
    kernelName,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => fn(viewOf(kernelName, args, args.backend as unknown as WasmBackendLike), args)) as tf.KernelFunc,
  });
  const eps = (args: KernelArgs): number => {
    const e = (args.attrs as { eps?: number } | undefined)?.eps;
    if (typeof e !== 'number' || !(e >= 0)) throw new Error(`fused norm: eps must be a non-negative number, got ${String(e)}`);
    return e;
  };
  /** RMSNorm's weight offset: 0 (absent) multiplies by w, 1 by Gemma's (1 + w). */
  const offset = (args: KernelArgs): number => {
    const o = (args.attrs as { offset?: number } | undefined)?.offset ?? 0;
    if (typeof o !== 'number' || !Number.isFinite(o)) throw new Error(`fused norm: offset must be a finite number, got ${String(o)}`);
    return o;
  };
  return [
    kernel(K.layerNorm, (k, args) => {
      const x = k.input('x');
      const g = k.input('gamma');
      const b = k.input('beta');
      const { rows, d } = rowsOf(x);
      k.vector('gamma', g, d);
      k.vector('beta', b, d);
      const e = eps(args);
      return k.outputs([x.shape], (heap, [y]) =>
        addon.layerNorm(heap, k.off(x), k.off(g), k.off(b), y, rows, d, e),
      )[0];
    }),
    kernel(K.layerNormGrad, (k, args) => {
      const x = k.input('x');
      const g = k.input('gamma');
      const dy = k.input('dy');
      k.sameShape(x, dy);
      const { rows, d } = rowsOf(x);
      k.vector('gamma', g, d);
      const e = eps(args);
      return k.outputs([x.shape, g.shape, g.shape], (heap, [dx, dg, db]) =>
        addon.layerNormGrad(heap, k.off(x), k.off(g), k.off(dy), dx, dg, db, rows, d, e),
      );
    }),
    kernel(K.rmsNorm, (k, args) => {
      const x = k.input('x');
      const w = k.input('weight');
      const { rows, d } = rowsOf(x);
      k.vector('weight', w, d);
      const e = eps(args);
      const o = offset(args);
      return k.outputs([x.shape], (heap, [y]) =>
        addon.rmsNorm(heap, k.off(x), k.off(w), y, rows, d, e, o),
      )[0];
    }),
    kernel(K.rmsNormGrad, (k, args) => {
      const x = k.input('x');
      const w = k.input('weight');
      const dy = k.input('dy');
      k.sameShape(x, dy);
      const { rows, d } = rowsOf(x);
      k.vector('weight', w, d);
      const e = eps(args);
      const o = offset(args);
      return k.outputs([x.shape, w.shape], (heap, [dx, dw]) =>
        addon.rmsNormGrad(heap, k.off(x), k.off(w), k.off(dy), dx, dw, rows, d, e, o),
      );
    }),
    kernel(K.geluTanh, (k) => {
      const x = k.input('x');
      return k.outputs([x.shape], (heap, [y]) => addon.gelu(heap, k.off(x), y, size(x.shape)))[0];
    }),
    kernel(K.geluTanhGrad, (k) => {
      const x = k.input('x');
      const dy = k.input('dy');
      k.sameShape(x, dy);
      return k.outputs([x.shape], (heap, [dx]) => addon.geluBackward(heap, k.off(x), k.off(dy), dx, size(x.shape)))[0];
    }),
    ...gatedKernels(kernel, K.siluMul, K.siluMulGrad, addon.swiglu.bind(addon), addon.swigluBackward.bind(addon)),
    ...gatedKernels(kernel, K.geluMul, K.geluMulGrad, addon.geglu.bind(addon), addon.gegluBackward.bind(addon)),
    kernel(K.crossEntropy, (k) => {
      const logits = k.input('logits');
      const labels = k.input('labels', 'int32');
      const [rows, v] = crossEntropyShape(logits, labels);
      return k.outputs([[rows]], (heap, [loss]) => addon.softmaxCrossEntropy(heap, k.off(logits), k.off(labels), loss, rows, v))[0];
    }),
    kernel(K.crossEntropyGrad, (k) => {
      const logits = k.input('logits');
      const labels = k.input('labels', 'int32');
      const dy = k.input('dy');
      const [rows, v] = crossEntropyShape(logits, labels);
      if (dy.shape.length !== 1 || dy.shape[0] !== rows) throw new Error(`${K.crossEntropyGrad}: dy must be [${rows}], got ${JSON.stringify(dy.shape)}`);
      return k.outputs([logits.shape], (heap, [dx]) =>
        addon.softmaxCrossEntropyGrad(heap, k.off(logits), k.off(labels), k.off(dy), dx, rows, v),
      )[0];
    }),
    kernel(K.rope, (k, args) => {
      const x = k.input('x');
      const cos = k.input('cos');
      const sin = k.input('sin');
      const r = x.shape.length;
      const T = r >= 2 ? x.shape[r - 2] : -1;
      const hd = r >= 2 ? x.shape[r - 1] : -1;
      const half = hd / 2;
      const table = [T, half];
      if (r < 2 || hd % 2 !== 0) throw new Error(`${K.rope}: x must be (..., T, headDim) with an even headDim, got ${JSON.stringify(x.shape)}`);
      for (const t of [cos, sin]) {
        if (t.shape.length !== 2 || t.shape[0] !== T || t.shape[1] !== half) {
          throw new Error(`${K.rope}: cos/sin must be ${JSON.stringify(table)} for x ${JSON.stringify(x.shape)}, got ${JSON.stringify(t.shape)}`);
        }
      }
      const outer = T * hd === 0 ? 0 : size(x.shape) / (T * hd);
      const inverse = (args.attrs as { inverse?: boolean } | undefined)?.inverse ? 1 : 0;
      return k.outputs([x.shape], (heap, [y]) =>
        addon.rope(heap, k.off(x), k.off(cos), k.off(sin), y, outer, T, half, inverse),
      )[0];
    }),
  ];
}

let active = false;

/** True while the fused kernels are registered for the wasm backend. */
export function fusedKernelsActive(): boolean {
  return active;
}

/** Registers the fused kernels for wasm (replacing any previous registration). */
export function registerFusedKernels(addon: NativeFused): void {
  replaceKernels(makeConfigs(addon));
  active = true;
}

/** Removes the fused kernels; the ops then take their composite path. Idempotent. */
export function unregisterFusedKernels(): void {
  removeWasmKernels(Object.values(FUSED_KERNELS));
  active = false;
}
