/**
 * The fused attention kernels for the wasm backend (native/src/hiedit_attention.c): HieditAttention and
 * HieditAttentionPacked (forward on separate q, k, v or on one packed qkv, also returning the softmax
 * probabilities) and HieditAttentionGrad (dq, dk, dv, or the packed dqkv, in one call), plus the gradients that
 * connect them. Registered with the other fused kernels while the native accelerator is installed
 * (fused-kernels.ts calls registerAttentionKernels); attention-op.ts falls back to composite tf ops otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { removeWasmKernels, replaceKernels, type WasmBackendLike } from './wasm-backend';

/**
 * Kernel names. The packed form is its own name only because a gradient's inputsToSave are per kernel name (one
 * implementation serves both); its backward is the same HieditAttentionGrad.
 */
export const ATTENTION_KERNELS = {
  forward: 'HieditAttention',
  forwardPacked: 'HieditAttentionPacked',
  backward: 'HieditAttentionGrad',
} as const;

/** How one operand's axes are ordered: 'bthd' = (B, T, heads, hd) (a linear's output, reshaped), 'bhtd' = (B, heads, T, hd). */
export type HeadLayout = 'bthd' | 'bhtd';

/** The addon functions (argument contracts in native/src/hiedit_attention.c). */
export interface NativeAttention {
  attention(heap: ArrayBuffer, params: Uint32Array, scale: number, softcap: number): void;
  attentionGrad(heap: ArrayBuffer, params: Uint32Array, scale: number, softcap: number): void;
}

/** True when `addon` exports the attention functions (older addon builds do not). */
export function hasNativeAttention(addon: object): addon is NativeAttention {
  const a = addon as Record<string, unknown>;
  return typeof a.attention === 'function' && typeof a.attentionGrad === 'function';
}

/**
 * Attributes of both kernels. packed: the single input qkv holds each token's q heads, then its k heads, then its
 * v heads (GPT-2's c_attn output), as (B, T, H + 2 kvH, hd) or as the projection's own (B * T, (H + 2 kvH) hd)
 * with B given by `batch`; otherwise q, k, v are separate inputs laid out as qLayout/kLayout/vLayout.
 */
export interface AttentionAttrs {
  scale: number;
  /** Tanh soft-cap of the scaled scores before the mask (Gemma-2's attn_logit_softcapping); 0 = none. */
  softcap: number;
  packed: boolean;
  /** B of a rank-2 packed qkv (0 otherwise). */
  batch: number;
  numHeads: number;
  numKvHeads: number;
  qLayout: HeadLayout;
  kLayout: HeadLayout;
  vLayout: HeadLayout;
}

/** One operand: dims, element strides and the element offset of its first value inside its tensor. */
interface Operand {
  t: tf.TensorInfo;
  B: number;
  T: number;
  heads: number;
  hd: number;
  strides: [number, number, number];
  elemOffset: number;
}

/** Geometry shared by forward and backward, derived (and checked) from the inputs and attributes. */
interface Geometry {
  B: number;
  Tq: number;
  Tk: number;
  H: number;
  kvH: number;
  hd: number;
  q: Operand;
  k: Operand;
  v: Operand;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
const size = (shape: number[]): number => tf.util.sizeFromShape(shape);
const shapeStr = (s: number[]): string => JSON.stringify(s);

function attrsOf(kernel: string, args: KernelArgs): AttentionAttrs {
  const a = args.attrs as unknown as AttentionAttrs | undefined;
  if (!a || typeof a.scale !== 'number' || !Number.isFinite(a.scale)) throw new Error(`${kernel}: attribute scale must be a finite number`);
  if (typeof a.softcap !== 'number' || !Number.isFinite(a.softcap) || a.softcap < 0) throw new Error(`${kernel}: attribute softcap must be 0 (none) or a finite number > 0`);
  const posInt = (n: number): boolean => Number.isInteger(n) && n > 0;
  if (!posInt(a.numHeads) || !posInt(a.numKvHeads) || a.numHeads % a.numKvHeads !== 0) {
    throw new Error(`${kernel}: numHeads (${a.numHeads}) must be a positive multiple of numKvHeads (${a.numKvHeads})`);
  }
  return a;
}

function input(kernel: string, args: KernelArgs, name: string): tf.TensorInfo {
  const t = args.inputs[name];
  if (!t) throw new Error(`${kernel}: missing input ${name}`);
  if (t.dtype !== 'float32') throw new Error(`${kernel}: input ${name} must be float32, got ${t.dtype}`);
  return t;
}

function separate(kernel: string, name: string, t: tf.TensorInfo, layout: HeadLayout): Operand {
  if (t.shape.length !== 4) throw new Error(`${kernel}: ${name} must be rank 4 (${layout}), got ${shapeStr(t.shape)}`);
  const [B, a, b, hd] = t.shape;
  const [T, heads] = layout === 'bthd' ? [a, b] : [b, a];
  const strides: [number, number, number] = layout === 'bthd' ? [T * heads * hd, heads * hd, hd] : [heads * T * hd, hd, T * hd];
  return { t, B, T, heads, hd, strides, elemOffset: 0 };
}

/**
 * (B, T, hd) of a packed qkv, (B, T, H + 2 kvH, hd) or (B * T, (H + 2 kvH) hd) with B = batch; throws naming
 * `who` when the shape does not fit.
 */
export function packedDims(shape: number[], H: number, kvH: number, batch: number, who: string): [number, number, number] {
  const heads = H + 2 * kvH;
  if (shape.length === 4 && shape[2] === heads) return [shape[0], shape[1], shape[3]];
  if (shape.length === 2 && Number.isInteger(batch) && batch > 0 && shape[0] % batch === 0 && shape[1] % heads === 0) {
    return [batch, shape[0] / batch, shape[1] / heads];
  }
  throw new Error(
    `${who}: qkv must be (B, T, H + 2 kvH = ${heads}, hd), or (B * T, ${heads} hd) with batch B dividing its rows,`
    + ` got ${shapeStr(shape)}${shape.length === 2 ? ` with batch ${batch}` : ''}`,
  );
}

function geometry(kernel: string, args: KernelArgs, a: AttentionAttrs): Geometry {
  const H = a.numHeads;
  const kvH = a.numKvHeads;
  let q: Operand;
  let k: Operand;
  let v: Operand;
  if (a.packed) {
    const qkv = input(kernel, args, 'qkv');
    const [B, T, hd] = packedDims(qkv.shape, H, kvH, a.batch, kernel);
    const W = (H + 2 * kvH) * hd;
    const strides: [number, number, number] = [T * W, W, hd];
    q = { t: qkv, B, T, heads: H, hd, strides, elemOffset: 0 };
    k = { t: qkv, B, T, heads: kvH, hd, strides, elemOffset: H * hd };
    v = { t: qkv, B, T, heads: kvH, hd, strides, elemOffset: (H + kvH) * hd };
  } else {
    q = separate(kernel, 'q', input(kernel, args, 'q'), a.qLayout);
    k = separate(kernel, 'k', input(kernel, args, 'k'), a.kLayout);
    v = separate(kernel, 'v', input(kernel, args, 'v'), a.vLayout);
  }
  const B = q.B;
  const hd = q.hd;
  if (q.heads !== H || k.heads !== kvH || v.heads !== kvH || k.B !== B || v.B !== B || k.hd !== hd || v.hd !== hd || k.T !== v.T) {
    throw new Error(
      `${kernel}: q ${shapeStr(q.t.shape)}, k ${shapeStr(k.t.shape)}, v ${shapeStr(v.t.shape)} do not fit numHeads ${H}, numKvHeads ${kvH}`
      + ` (layouts ${a.qLayout}/${a.kLayout}/${a.vLayout})`,
    );
  }
  return { B, Tq: q.T, Tk: k.T, H, kvH, hd, q, k, v };
}

function offsetOf(backend: WasmBackendLike, kernel: string, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error(`${kernel}: a tensor is not in the wasm backend`);
  return d.memoryOffset;
}

/**
 * Allocates outputs, runs `run` on the current heap buffer (read after allocating: growth detaches it); frees them
 * on error.
 */
function withOutputs(backend: WasmBackendLike, kernel: string, shapes: number[][], run: (heap: ArrayBuffer, offs: number[]) => void): tf.TensorInfo[] {
  const outs = shapes.map((s) => backend.makeOutput(s, 'float32'));
  try {
    if (shapes.every((s) => size(s) > 0)) {
      run(backend.wasm.HEAPU8.buffer as ArrayBuffer, outs.map((o) => offsetOf(backend, kernel, o)));
    } else {
      // An empty operand (no queries, no keys, or hd = 0): every non-empty result is an empty sum, i.e. zeros.
      for (const o of outs) if (size(o.shape) > 0) new Float32Array(backend.wasm.HEAPU8.buffer, offsetOf(backend, kernel, o), size(o.shape)).fill(0);
    }
  } catch (e) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw e;
  }
  return outs;
}

function makeConfigs(addon: NativeAttention): tf.KernelConfig[] {
  const K = ATTENTION_KERNELS;
  const forward = (kernelName: string): tf.KernelConfig => ({
    kernelName,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const backend = args.backend as unknown as WasmBackendLike;
      const a = attrsOf(kernelName, args);
      if (a.packed !== (kernelName === K.forwardPacked)) throw new Error(`${kernelName}: attribute packed must be ${!a.packed}`);
      const g = geometry(kernelName, args, a);
      const bias = args.inputs.bias ? input(kernelName, args, 'bias') : undefined;
      let biasBatchStride = 0;
      if (bias) {
        const s = bias.shape;
        if (s.length !== 4 || (s[0] !== g.B && s[0] !== 1) || s[1] !== 1 || s[2] !== g.Tq || s[3] !== g.Tk) {
          throw new Error(`${kernelName}: bias must be (${g.B} or 1, 1, ${g.Tq}, ${g.Tk}), got ${shapeStr(s)}`);
        }
        biasBatchStride = s[0] === 1 ? 0 : g.Tq * g.Tk;
      }
      const off = (o: Operand): number => offsetOf(backend, kernelName, o.t) + 4 * o.elemOffset;
      return withOutputs(backend, kernelName, [[g.B * g.Tq, g.H * g.hd], [g.B, g.H, g.Tq, g.Tk]], (heap, [y, p]) => {
        const params = new Uint32Array([
          off(g.q), off(g.k), off(g.v), bias ? offsetOf(backend, kernelName, bias) : 0, bias ? 1 : 0, biasBatchStride, y, p,
          g.B, g.Tq, g.Tk, g.H, g.kvH, g.hd, ...g.q.strides, ...g.k.strides, ...g.v.strides,
        ]);
        addon.attention(heap, params, a.scale, a.softcap);
      });
    }) as tf.KernelFunc,
  });
  const backward: tf.KernelConfig = {
    kernelName: K.backward,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const backend = args.backend as unknown as WasmBackendLike;
      const a = attrsOf(K.backward, args);
      const g = geometry(K.backward, args, a);
      const probs = input(K.backward, args, 'probs');
      const dy = input(K.backward, args, 'dy');
      const wantP = [g.B, g.H, g.Tq, g.Tk];
      const wantDy = [g.B * g.Tq, g.H * g.hd];
      if (size(probs.shape) !== size(wantP)) throw new Error(`${K.backward}: probs must be ${shapeStr(wantP)}, got ${shapeStr(probs.shape)}`);
      if (size(dy.shape) !== size(wantDy)) throw new Error(`${K.backward}: dy must be ${shapeStr(wantDy)}, got ${shapeStr(dy.shape)}`);
      const off = (o: Operand): number => offsetOf(backend, K.backward, o.t) + 4 * o.elemOffset;
      const shapes = a.packed ? [g.q.t.shape] : [g.q.t.shape, g.k.t.shape, g.v.t.shape];
      return withOutputs(backend, K.backward, shapes, (heap, outs) => {
        // Packed: dq, dk, dv are the three column blocks of one dqkv, at the offsets q, k, v have in qkv.
        const [dq, dk, dv] = a.packed ? [outs[0], outs[0] + 4 * g.k.elemOffset, outs[0] + 4 * g.v.elemOffset] : outs;
        const params = new Uint32Array([
          off(g.q), off(g.k), off(g.v), offsetOf(backend, K.backward, probs), offsetOf(backend, K.backward, dy), dq, dk, dv,
          g.B, g.Tq, g.Tk, g.H, g.kvH, g.hd, ...g.q.strides, ...g.k.strides, ...g.v.strides,
        ]);
        addon.attentionGrad(heap, params, a.scale, a.softcap);
      });
    }) as tf.KernelFunc,
  };
  return [forward(K.forward), forward(K.forwardPacked), backward];
}

const biasGrad = (): tf.Tensor => {
  throw new Error('attention: the bias is a constant mask; its gradient is not implemented');
};

function runGrad(inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap | undefined): tf.Tensor[] {
  const out = tf.engine().runKernel(ATTENTION_KERNELS.backward, inputs, attrs);
  return Array.isArray(out) ? out : [out];
}

/**
 * Gradients of the two forward kernels: one HieditAttentionGrad call from the saved inputs and the saved
 * probabilities (the forward's second output). The bias is a constant mask, never differentiated. First-order only.
 */
const GRADIENTS: tf.GradConfig[] = [
  {
    kernelName: ATTENTION_KERNELS.forward,
    inputsToSave: ['q', 'k', 'v'],
    outputsToSave: [false, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap): Record<string, () => tf.Tensor> => {
      const [q, k, v, probs] = saved;
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const [dq, dk, dv] = runGrad({ q, k, v, probs, dy }, attrs);
      return { q: () => dq, k: () => dk, v: () => dv, bias: biasGrad };
    },
  },
  {
    kernelName: ATTENTION_KERNELS.forwardPacked,
    inputsToSave: ['qkv'],
    outputsToSave: [false, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap): Record<string, () => tf.Tensor> => {
      const [qkv, probs] = saved;
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const [dqkv] = runGrad({ qkv, probs, dy }, attrs);
      return { qkv: () => dqkv, bias: biasGrad };
    },
  },
];

let active = false;
let lastFailure: string | undefined;

/** True while the fused attention kernels are registered for wasm. */
export function attentionKernelsActive(): boolean {
  return active;
}

/** Why the last registration was withdrawn (its self-test failed), or undefined. */
export function attentionKernelsFailure(): string | undefined {
  return lastFailure;
}

/**
 * Runs both forward kernels and the backward kernel on a tiny GQA case with a mask, uncapped and soft-capped (an
 * addon built before soft-capping ignores the cap and fails here), and compares them with a float64 host
 * computation (the gradient by central differences of it); returns a description of the first mismatch, or
 * undefined. Needs wasm as the current backend.
 */
function selfTest(): string | undefined {
  for (const softcap of [0, 1.5]) {
    const failure = selfTestCase(softcap);
    if (failure) return softcap ? `${failure} with softcap ${softcap}` : failure;
  }
  return undefined;
}

function selfTestCase(softcap: number): string | undefined {
  const B = 1;
  const T = 3;
  const H = 2;
  const kvH = 1;
  const hd = 2;
  const W = (H + 2 * kvH) * hd;
  const x = Array.from({ length: B * T * W }, (_, i) => Math.sin(i * 1.7) * 2);
  const maskVals = [0, -1e9, -1e9, 0, 0, -1e9, 0, 0, 0];
  const scale = 0.8;
  /** The packed forward in float64 on the host: (T, H * hd) from the (T, W) projection. */
  const forwardHost = (xs: readonly number[]): number[] => {
    const y: number[] = [];
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const s = [0, 1, 2].map((j) => {
          let d = 0;
          for (let e = 0; e < hd; e++) d += xs[t * W + h * hd + e] * xs[j * W + H * hd + e];
          const s = d * scale;
          return (softcap ? softcap * Math.tanh(s / softcap) : s) + maskVals[t * T + j];
        });
        const m = Math.max(...s);
        const p = s.map((v) => Math.exp(v - m));
        const z = p.reduce((a, b) => a + b, 0);
        for (let e = 0; e < hd; e++) y.push(p.reduce((acc, pj, j) => acc + (pj / z) * xs[j * W + (H + kvH) * hd + e], 0));
      }
    }
    return y;
  };
  const want = forwardHost(x);
  // The backward is checked too: d sum(y * r) / d qkv by central differences of the float64 forward.
  const r = want.map((_, i) => Math.cos(i * 0.9));
  const objective = (xs: readonly number[]): number => forwardHost(xs).reduce((acc, y, i) => acc + y * r[i], 0);
  const wantGrad = x.map((_, i) => {
    const step = 1e-6;
    const up = [...x];
    const down = [...x];
    up[i] += step;
    down[i] -= step;
    return (objective(up) - objective(down)) / (2 * step);
  });
  return tf.tidy(() => {
    const qkv = tf.tensor2d(x, [B * T, W]);
    const bias = tf.tensor4d(maskVals, [1, 1, T, T]);
    const base = { scale, softcap, batch: 0, numHeads: H, numKvHeads: kvH, qLayout: 'bthd', kLayout: 'bthd', vLayout: 'bthd' } as const;
    const [q, k, v] = tf.split(tf.reshape(qkv, [B, T, H + 2 * kvH, hd]), [H, kvH, kvH], 2);
    const runs: [string, tf.NamedTensorMap, AttentionAttrs][] = [
      [ATTENTION_KERNELS.forwardPacked, { qkv, bias }, { ...base, packed: true, batch: B }],
      [ATTENTION_KERNELS.forward, { q, k, v, bias }, { ...base, packed: false }],
    ];
    for (const [name, inputs, attrs] of runs) {
      const out = tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      const got = out[0].dataSync();
      const err = Math.max(...want.map((w, i) => Math.abs(got[i] - w)));
      if (!(err <= 1e-5)) return `${name} self-test mismatch (max |diff| ${err})`;
      if (attrs.packed) {
        const dy = tf.tensor2d(r, [B * T, H * hd]);
        const [dqkv] = runGrad({ qkv, probs: out[1], dy }, attrs as unknown as tf.NamedAttrMap);
        const g = dqkv.dataSync();
        const gradErr = Math.max(...wantGrad.map((w, i) => Math.abs(g[i] - w)));
        if (!(gradErr <= 1e-4)) return `${ATTENTION_KERNELS.backward} self-test mismatch (max |diff| ${gradErr})`;
      }
    }
    return undefined;
  });
}

/**
 * Registers the attention kernels for wasm (replacing any previous registration) and their gradients (once).
 * With wasm as the current backend it self-tests them and withdraws them on a mismatch (see
 * attentionKernelsFailure), so attention() keeps its composite path.
 */
export function registerAttentionKernels(addon: NativeAttention): void {
  for (const g of GRADIENTS) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
  replaceKernels(makeConfigs(addon));
  active = true;
  lastFailure = undefined;
  if (tf.getBackend() !== 'wasm') return;
  let failure: string | undefined;
  try {
    failure = selfTest();
  } catch (e) {
    failure = `attention self-test threw: ${(e as Error).message}`;
  }
  if (failure) {
    unregisterAttentionKernels();
    lastFailure = failure;
  }
}

/** Removes the attention kernels; attention() then takes its composite path. Idempotent. */
export function unregisterAttentionKernels(): void {
  removeWasmKernels(Object.values(ATTENTION_KERNELS));
  active = false;
}
