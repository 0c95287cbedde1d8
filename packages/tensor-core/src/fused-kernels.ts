/**
 * Kernels of hiedit's own fused ops (LayerNorm, RMSNorm, tanh-GELU, SiLU(gate) * up, RoPE, and their backward
 * passes) for the wasm backend, run by the native addon directly on the wasm heap. They exist only while the
 * native accelerator is installed (installAccelerator registers them, uninstall removes them); the ops in
 * fused-ops.ts fall back to composite tf ops whenever they are absent. Gradients are in fused-gradients.ts.
 */
import * as tf from '@tensorflow/tfjs';

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
  rope: 'HieditRope',
} as const;

/** The addon functions these kernels call (native/src/hiedit_fused.c has the argument contracts). */
export interface NativeFused {
  layerNorm(heap: ArrayBuffer, x: number, gamma: number, beta: number, y: number, rows: number, d: number, eps: number): void;
  layerNormGrad(heap: ArrayBuffer, x: number, gamma: number, dy: number, dx: number, dgamma: number, dbeta: number, rows: number, d: number, eps: number): void;
  rmsNorm(heap: ArrayBuffer, x: number, w: number, y: number, rows: number, d: number, eps: number): void;
  rmsNormGrad(heap: ArrayBuffer, x: number, w: number, dy: number, dx: number, dw: number, rows: number, d: number, eps: number): void;
  geluArg(heap: ArrayBuffer, x: number, z: number, n: number): void;
  geluGrad(heap: ArrayBuffer, x: number, s: number, dy: number, dx: number, n: number): void;
  mul2(heap: ArrayBuffer, a: number, b: number, y: number, n: number): void;
  mul3(heap: ArrayBuffer, a: number, b: number, c: number, y: number, n: number): void;
  siluMulGrad(heap: ArrayBuffer, gate: number, s: number, up: number, dy: number, dgate: number, dup: number, n: number): void;
  rope(heap: ArrayBuffer, x: number, cos: number, sin: number, y: number, outer: number, t: number, half: number, inverse: number): void;
}

const FUNCTIONS: (keyof NativeFused)[] = ['layerNorm', 'layerNormGrad', 'rmsNorm', 'rmsNormGrad', 'geluArg', 'geluGrad', 'mul2', 'mul3', 'siluMulGrad', 'rope'];

/** True when `addon` exports every fused function (an addon built before they existed does not). */
export function hasNativeFused(addon: object): addon is NativeFused {
  const a = addon as Record<string, unknown>;
  return FUNCTIONS.every((f) => typeof a[f] === 'function');
}

interface WasmData {
  memoryOffset: number;
}

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): WasmData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function size(shape: number[]): number {
  let p = 1;
  for (const s of shape) p *= s;
  return p;
}

function float32(kernel: string, name: string, t: tf.TensorInfo | undefined): tf.TensorInfo {
  if (!t) throw new Error(`${kernel}: missing input ${name}`);
  if (t.dtype !== 'float32') throw new Error(`${kernel}: input ${name} must be float32, got ${t.dtype}`);
  return t;
}

function offsetOf(kernel: string, backend: WasmBackendLike, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error(`${kernel}: a tensor is not in the wasm backend`);
  return d.memoryOffset;
}

function vectorOf(kernel: string, name: string, t: tf.TensorInfo, d: number): void {
  if (size(t.shape) !== d) throw new Error(`${kernel}: ${name} must hold ${d} values (the last dim of x), got shape ${JSON.stringify(t.shape)}`);
}

function sameShape(kernel: string, a: tf.TensorInfo, b: tf.TensorInfo): void {
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new Error(`${kernel}: shapes ${JSON.stringify(a.shape)} and ${JSON.stringify(b.shape)} differ`);
  }
}

/**
 * Allocates the outputs, then calls `run` with the heap buffer (read after every allocation: growing the
 * wasm memory detaches the previous buffer) and the outputs' offsets. Outputs are freed if `run` throws.
 */
function withOutputs(
  kernel: string,
  backend: WasmBackendLike,
  shapes: number[][],
  run: (heap: ArrayBuffer, outOffsets: number[]) => void,
): tf.TensorInfo[] {
  const outs = shapes.map((s) => backend.makeOutput(s, 'float32'));
  try {
    if (shapes.every((s) => size(s) > 0)) {
      run(backend.wasm.HEAPU8.buffer as ArrayBuffer, outs.map((o) => offsetOf(kernel, backend, o)));
    } else {
      // Empty inputs: nothing to compute, but statistics over an empty batch are zeros (dgamma, dbeta).
      for (const o of outs) if (size(o.shape) > 0) new Float32Array(backend.wasm.HEAPU8.buffer, offsetOf(kernel, backend, o), size(o.shape)).fill(0);
    }
  } catch (e) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw e;
  }
  return outs;
}

function rowsOf(x: tf.TensorInfo): { rows: number; d: number } {
  if (x.shape.length < 1) throw new Error('fused norm: x must have at least one dimension');
  const d = x.shape[x.shape.length - 1];
  return { rows: d === 0 ? 0 : size(x.shape) / d, d };
}

function makeConfigs(addon: NativeFused): tf.KernelConfig[] {
  const K = FUSED_KERNELS;
  // GELU and SwiGLU take their sigmoid from the backend's own Sigmoid kernel (XNNPACK, vectorised; about 2x faster
  // than a C loop over expf), called directly - no engine dispatch - between the addon's elementwise passes.
  const stockSigmoid = tf.getKernel('Sigmoid', 'wasm');
  if (!stockSigmoid) throw new Error('fused kernels: the wasm backend has no Sigmoid kernel');
  /**
   * sigmoid(z) as a new backend tensor, where z is `input` or is written by `fill` into a temporary of `shape`.
   * The caller disposes the result.
   */
  const sigmoidOf = (
    kernel: string, be: WasmBackendLike, shape: number[], fill?: (heap: ArrayBuffer, zOffset: number) => void, input?: tf.TensorInfo,
  ): tf.TensorInfo => {
    const z = input ?? withOutputs(kernel, be, [shape], (heap, [zo]) => fill!(heap, zo))[0];
    try {
      return stockSigmoid.kernelFunc({ inputs: { x: z }, backend: be as unknown as tf.KernelBackend, attrs: {} }) as tf.TensorInfo;
    } finally {
      if (!input) be.disposeData(z.dataId);
    }
  };
  const kernel = (kernelName: string, fn: (args: KernelArgs, be: WasmBackendLike) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelConfig => ({
    kernelName,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => fn(args, args.backend as unknown as WasmBackendLike)) as tf.KernelFunc,
  });
  const eps = (args: KernelArgs): number => {
    const e = (args.attrs as { eps?: number } | undefined)?.eps;
    if (typeof e !== 'number' || !(e >= 0)) throw new Error(`fused norm: eps must be a non-negative number, got ${String(e)}`);
    return e;
  };
  return [
    kernel(K.layerNorm, (args, be) => {
      const x = float32(K.layerNorm, 'x', args.inputs.x);
      const g = float32(K.layerNorm, 'gamma', args.inputs.gamma);
      const b = float32(K.layerNorm, 'beta', args.inputs.beta);
      const { rows, d } = rowsOf(x);
      vectorOf(K.layerNorm, 'gamma', g, d);
      vectorOf(K.layerNorm, 'beta', b, d);
      const e = eps(args);
      return withOutputs(K.layerNorm, be, [x.shape], (heap, [y]) =>
        addon.layerNorm(heap, offsetOf(K.layerNorm, be, x), offsetOf(K.layerNorm, be, g), offsetOf(K.layerNorm, be, b), y, rows, d, e),
      )[0];
    }),
    kernel(K.layerNormGrad, (args, be) => {
      const x = float32(K.layerNormGrad, 'x', args.inputs.x);
      const g = float32(K.layerNormGrad, 'gamma', args.inputs.gamma);
      const dy = float32(K.layerNormGrad, 'dy', args.inputs.dy);
      sameShape(K.layerNormGrad, x, dy);
      const { rows, d } = rowsOf(x);
      vectorOf(K.layerNormGrad, 'gamma', g, d);
      const e = eps(args);
      return withOutputs(K.layerNormGrad, be, [x.shape, g.shape, g.shape], (heap, [dx, dg, db]) =>
        addon.layerNormGrad(heap, offsetOf(K.layerNormGrad, be, x), offsetOf(K.layerNormGrad, be, g), offsetOf(K.layerNormGrad, be, dy), dx, dg, db, rows, d, e),
      );
    }),
    kernel(K.rmsNorm, (args, be) => {
      const x = float32(K.rmsNorm, 'x', args.inputs.x);
      const w = float32(K.rmsNorm, 'weight', args.inputs.weight);
      const { rows, d } = rowsOf(x);
      vectorOf(K.rmsNorm, 'weight', w, d);
      const e = eps(args);
      return withOutputs(K.rmsNorm, be, [x.shape], (heap, [y]) =>
        addon.rmsNorm(heap, offsetOf(K.rmsNorm, be, x), offsetOf(K.rmsNorm, be, w), y, rows, d, e),
      )[0];
    }),
    kernel(K.rmsNormGrad, (args, be) => {
      const x = float32(K.rmsNormGrad, 'x', args.inputs.x);
      const w = float32(K.rmsNormGrad, 'weight', args.inputs.weight);
      const dy = float32(K.rmsNormGrad, 'dy', args.inputs.dy);
      sameShape(K.rmsNormGrad, x, dy);
      const { rows, d } = rowsOf(x);
      vectorOf(K.rmsNormGrad, 'weight', w, d);
      const e = eps(args);
      return withOutputs(K.rmsNormGrad, be, [x.shape, w.shape], (heap, [dx, dw]) =>
        addon.rmsNormGrad(heap, offsetOf(K.rmsNormGrad, be, x), offsetOf(K.rmsNormGrad, be, w), offsetOf(K.rmsNormGrad, be, dy), dx, dw, rows, d, e),
      );
    }),
    kernel(K.geluTanh, (args, be) => {
      const x = float32(K.geluTanh, 'x', args.inputs.x);
      const n = size(x.shape);
      const s = sigmoidOf(K.geluTanh, be, x.shape, (heap, z) => addon.geluArg(heap, offsetOf(K.geluTanh, be, x), z, n));
      try {
        return withOutputs(K.geluTanh, be, [x.shape], (heap, [y]) => addon.mul2(heap, offsetOf(K.geluTanh, be, x), offsetOf(K.geluTanh, be, s), y, n))[0];
      } finally {
        be.disposeData(s.dataId);
      }
    }),
    kernel(K.geluTanhGrad, (args, be) => {
      const x = float32(K.geluTanhGrad, 'x', args.inputs.x);
      const dy = float32(K.geluTanhGrad, 'dy', args.inputs.dy);
      sameShape(K.geluTanhGrad, x, dy);
      const n = size(x.shape);
      const s = sigmoidOf(K.geluTanhGrad, be, x.shape, (heap, z) => addon.geluArg(heap, offsetOf(K.geluTanhGrad, be, x), z, n));
      try {
        return withOutputs(K.geluTanhGrad, be, [x.shape], (heap, [dx]) =>
          addon.geluGrad(heap, offsetOf(K.geluTanhGrad, be, x), offsetOf(K.geluTanhGrad, be, s), offsetOf(K.geluTanhGrad, be, dy), dx, n),
        )[0];
      } finally {
        be.disposeData(s.dataId);
      }
    }),
    kernel(K.siluMul, (args, be) => {
      const gate = float32(K.siluMul, 'gate', args.inputs.gate);
      const up = float32(K.siluMul, 'up', args.inputs.up);
      sameShape(K.siluMul, gate, up);
      const n = size(gate.shape);
      const s = sigmoidOf(K.siluMul, be, gate.shape, undefined, gate);
      try {
        return withOutputs(K.siluMul, be, [gate.shape], (heap, [y]) =>
          addon.mul3(heap, offsetOf(K.siluMul, be, gate), offsetOf(K.siluMul, be, s), offsetOf(K.siluMul, be, up), y, n),
        )[0];
      } finally {
        be.disposeData(s.dataId);
      }
    }),
    kernel(K.siluMulGrad, (args, be) => {
      const gate = float32(K.siluMulGrad, 'gate', args.inputs.gate);
      const up = float32(K.siluMulGrad, 'up', args.inputs.up);
      const dy = float32(K.siluMulGrad, 'dy', args.inputs.dy);
      sameShape(K.siluMulGrad, gate, up);
      sameShape(K.siluMulGrad, gate, dy);
      const n = size(gate.shape);
      const s = sigmoidOf(K.siluMulGrad, be, gate.shape, undefined, gate);
      try {
        return withOutputs(K.siluMulGrad, be, [gate.shape, gate.shape], (heap, [dg, du]) =>
          addon.siluMulGrad(
            heap, offsetOf(K.siluMulGrad, be, gate), offsetOf(K.siluMulGrad, be, s), offsetOf(K.siluMulGrad, be, up),
            offsetOf(K.siluMulGrad, be, dy), dg, du, n,
          ),
        );
      } finally {
        be.disposeData(s.dataId);
      }
    }),
    kernel(K.rope, (args, be) => {
      const x = float32(K.rope, 'x', args.inputs.x);
      const cos = float32(K.rope, 'cos', args.inputs.cos);
      const sin = float32(K.rope, 'sin', args.inputs.sin);
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
      return withOutputs(K.rope, be, [x.shape], (heap, [y]) =>
        addon.rope(heap, offsetOf(K.rope, be, x), offsetOf(K.rope, be, cos), offsetOf(K.rope, be, sin), y, outer, T, half, inverse),
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
  for (const c of makeConfigs(addon)) {
    if (tf.getKernel(c.kernelName, c.backendName)) tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
  active = true;
}

/** Removes the fused kernels; the ops then take their composite path. Idempotent. */
export function unregisterFusedKernels(): void {
  for (const name of Object.values(FUSED_KERNELS)) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  }
  active = false;
}
