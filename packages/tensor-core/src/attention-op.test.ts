import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installAccelerator, loadNativeBlas, uninstallAccelerator } from './accelerator';
import {
  ATTENTION_KERNELS, attentionKernelsActive, attentionKernelsFailure, registerAttentionKernels, type HeadLayout, type NativeAttention,
} from './attention-kernels';
import { attention, attentionPacked, compositeAttention } from './attention-op';
import { maxErr, randomTensor, rng } from '../test/helpers';
const rand = (shape: number[], next: () => number, scale = 1.5): tf.Tensor => randomTensor(shape, next, scale);




/**
 * Causal mask for queries at absolute positions pos0.. against Tk keys, with the last `pad[b]` keys of batch b
 * hidden (right padding; never a fully hidden row) and, with a `window`, keys more than window - 1 positions back.
 */
function mask(B: number, Tq: number, Tk: number, pos0: number, pad: number[], window = Infinity): tf.Tensor4D {
  const d = new Float32Array(B * Tq * Tk);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      for (let j = 0; j < Tk; j++) if (j > pos0 + i || j <= pos0 + i - window || j >= Tk - pad[b]) d[(b * Tq + i) * Tk + j] = -1e9;
    }
  }
  return tf.tensor4d(d, [B, 1, Tq, Tk]);
}

interface Case {
  name: string;
  B: number;
  Tq: number;
  Tk: number;
  H: number;
  kvH: number;
  hd: number;
  layouts: { q: HeadLayout; k: HeadLayout; v: HeadLayout };
  /** 'causal' (with padding when B > 1), 'window' (causal with a sliding window of 3), 'shared' (one (1, 1, Tq, Tk) mask for all batches) or none. */
  bias: 'causal' | 'window' | 'shared' | 'none';
  scale: number;
  /** Gemma-2's tanh soft-cap of the scores (absent: none). */
  softcap?: number;
}

const BTHD = { q: 'bthd', k: 'bthd', v: 'bthd' } as const;
const CASES: Case[] = [
  { name: 'MHA, causal + padding, B=2', B: 2, Tq: 6, Tk: 6, H: 4, kvH: 4, hd: 8, layouts: BTHD, bias: 'causal', scale: 1 / Math.sqrt(8) },
  { name: 'GQA kvH=2, mixed layouts, shared mask', B: 2, Tq: 5, Tk: 5, H: 4, kvH: 2, hd: 6, layouts: { q: 'bhtd', k: 'bhtd', v: 'bthd' }, bias: 'shared', scale: 0.7 },
  { name: 'GQA kvH=1, decode Tq=1 Tk=17, no mask', B: 1, Tq: 1, Tk: 17, H: 4, kvH: 1, hd: 8, layouts: BTHD, bias: 'none', scale: 1 / Math.sqrt(8) },
  { name: 'GQA kvH=2, prefill Tq=3 against Tk=17, B=2', B: 2, Tq: 3, Tk: 17, H: 4, kvH: 2, hd: 4, layouts: { q: 'bhtd', k: 'bthd', v: 'bhtd' }, bias: 'causal', scale: 1 },
  { name: 'GQA kvH=1, B=2, odd hd', B: 2, Tq: 7, Tk: 7, H: 4, kvH: 1, hd: 5, layouts: BTHD, bias: 'causal', scale: 0.3 },
  // Scores up to ~+-100: the softmax's exponentials span the whole float range (the kernel's own exp, its clamp).
  { name: 'large scores, B=2', B: 2, Tq: 9, Tk: 9, H: 2, kvH: 2, hd: 16, layouts: BTHD, bias: 'causal', scale: 3 },
  // Soft-capped (Gemma-2): caps small enough to bite on these scores, and one as large as Gemma-2's 50.
  { name: 'soft-capped 1.5, GQA kvH=2, causal + padding, B=2', B: 2, Tq: 6, Tk: 6, H: 4, kvH: 2, hd: 8, layouts: BTHD, bias: 'causal', scale: 1, softcap: 1.5 },
  { name: 'soft-capped 2, sliding window 3, mixed layouts', B: 1, Tq: 8, Tk: 8, H: 2, kvH: 1, hd: 6, layouts: { q: 'bhtd', k: 'bthd', v: 'bhtd' }, bias: 'window', scale: 0.9, softcap: 2 },
  { name: 'soft-capped 3, decode Tq=1 Tk=17 (KV cache), no mask', B: 1, Tq: 1, Tk: 17, H: 4, kvH: 2, hd: 8, layouts: BTHD, bias: 'none', scale: 1, softcap: 3 },
  { name: 'soft-capped 50, large scores, B=2', B: 2, Tq: 9, Tk: 9, H: 2, kvH: 2, hd: 16, layouts: BTHD, bias: 'causal', scale: 3, softcap: 50 },
];

function make(c: Case, next: () => number): { q: tf.Tensor4D; k: tf.Tensor4D; v: tf.Tensor4D; bias: tf.Tensor4D | null } {
  const shape = (T: number, heads: number, l: HeadLayout): number[] => (l === 'bthd' ? [c.B, T, heads, c.hd] : [c.B, heads, T, c.hd]);
  const q = rand(shape(c.Tq, c.H, c.layouts.q), next) as tf.Tensor4D;
  const k = rand(shape(c.Tk, c.kvH, c.layouts.k), next) as tf.Tensor4D;
  const v = rand(shape(c.Tk, c.kvH, c.layouts.v), next) as tf.Tensor4D;
  const pos0 = c.Tk - c.Tq;
  const bias = c.bias === 'none' ? null
    : c.bias === 'shared' ? mask(1, c.Tq, c.Tk, pos0, [0])
      : c.bias === 'window' ? mask(c.B, c.Tq, c.Tk, pos0, new Array(c.B).fill(0), 3)
      : mask(c.B, c.Tq, c.Tk, pos0, Array.from({ length: c.B }, (_, b) => (b === 0 ? 0 : 2)));
  return { q, k, v, bias };
}

/** The reference: the composite core on (B, heads, T, hd) operands, transposed here. */
function reference(c: Case, bias: tf.Tensor4D | null) {
  return (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor => tf.tidy(() => {
    const bhtd = (t: tf.Tensor, l: HeadLayout): tf.Tensor4D => (l === 'bhtd' ? t : tf.transpose(t, [0, 2, 1, 3])) as tf.Tensor4D;
    return compositeAttention(bhtd(q, c.layouts.q), bhtd(k, c.layouts.k), bhtd(v, c.layouts.v), c.scale, bias, c.softcap);
  });
}

function packedReference(H: number, kvH: number, scale: number, bias: tf.Tensor4D | null, softcap?: number) {
  return (qkv: tf.Tensor): tf.Tensor => tf.tidy(() => {
    const [q, k, v] = tf.split(qkv, [H, kvH, kvH], 2)
      .map((t) => tf.transpose(t, [0, 2, 1, 3]) as tf.Tensor4D);
    return compositeAttention(q, k, v, scale, bias, softcap);
  });
}

/** Gradients of sum(fn(...) * r) (a random r, so dy is not constant). */
function gradsOf(fn: (...a: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], r: tf.Tensor): tf.Tensor[] {
  return tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(fn(...a), r)))(inputs);
}

async function kernelsOf(fn: () => tf.Tensor | tf.Tensor[]): Promise<string[]> {
  const info = await tf.profile(() => fn());
  tf.dispose(info.result as tf.Tensor | tf.Tensor[]);
  return info.kernelNames;
}

const dataIds = (): number => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
const haveAddon = (() => {
  const a = loadNativeBlas().addon as unknown as Record<string, unknown> | undefined;
  return !!a && typeof a.attention === 'function';
})();
const envOff = ['off', '0', 'false', 'no'].includes((process.env.HIEDIT_ACCELERATOR ?? '').toLowerCase());

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
afterAll(() => uninstallAccelerator());

/** Forward and gradients (q, k, v) of attention() against the reference; returns the worst error. */
function compare(c: Case, seed: number): number {
  const next = rng(seed);
  const { q, k, v, bias } = make(c, next);
  const r = rand([c.B * c.Tq, c.H * c.hd], next);
  const before = tf.memory().numTensors;
  const ids = dataIds();
  const fn = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor): tf.Tensor => attention(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D, { scale: c.scale, bias, layouts: c.layouts, softcap: c.softcap });
  const got = [fn(q, k, v), ...gradsOf(fn, [q, k, v], r)];
  const want = [reference(c, bias)(q, k, v), ...gradsOf(reference(c, bias), [q, k, v], r)];
  let worst = 0;
  got.forEach((g, i) => {
    worst = Math.max(worst, maxErr(g, want[i]));
  });
  expect(got[1].shape).toEqual(q.shape);
  expect(got[2].shape).toEqual(k.shape);
  expect(got[3].shape).toEqual(v.shape);
  tf.dispose([...got, ...want]);
  expect(tf.memory().numTensors).toBe(before);
  expect(dataIds()).toBe(ids);
  tf.dispose([q, k, v, r, ...(bias ? [bias] : [])]);
  return worst;
}

/** flat: qkv as the (B*T, (H + 2 kvH) hd) projection output with opts.batch, instead of (B, T, H + 2 kvH, hd). */
function comparePacked(B: number, T: number, H: number, kvH: number, hd: number, withBias: boolean, seed: number, flat = false, softcap?: number): number {
  const next = rng(seed);
  const qkv = rand(flat ? [B * T, (H + 2 * kvH) * hd] : [B, T, H + 2 * kvH, hd], next);
  const bias = withBias ? mask(B, T, T, 0, Array.from({ length: B }, (_, b) => b)) : null;
  const r = rand([B * T, H * hd], next);
  const scale = 1 / Math.sqrt(hd);
  const before = tf.memory().numTensors;
  const ids = dataIds();
  const fn = (x: tf.Tensor): tf.Tensor => attentionPacked(x as tf.Tensor4D, { scale, bias, numHeads: H, numKvHeads: kvH, batch: flat ? B : undefined, softcap });
  const ref = packedReference(H, kvH, scale, bias, softcap);
  const refOf = (x: tf.Tensor): tf.Tensor => (flat ? tf.tidy(() => ref(tf.reshape(x, [B, T, H + 2 * kvH, hd]))) : ref(x));
  const got = [fn(qkv), ...gradsOf(fn, [qkv], r)];
  const want = [refOf(qkv), ...gradsOf(refOf, [qkv], r)];
  expect(got[1].shape).toEqual(qkv.shape);
  const worst = Math.max(...got.map((g, i) => maxErr(g, want[i])));
  tf.dispose([...got, ...want]);
  expect(tf.memory().numTensors).toBe(before);
  expect(dataIds()).toBe(ids);
  tf.dispose([qkv, r, ...(bias ? [bias] : [])]);
  return worst;
}

describe('attention: composite path (no native kernels)', () => {
  beforeAll(() => uninstallAccelerator());
  afterAll(() => {
    if (!envOff) installAccelerator('wasm');
  });

  test.each(CASES.map((c, i) => [c.name, c, i] as const))('%s: same as the reference, stock kernels only', async (_n, c, i) => {
    expect(attentionKernelsActive()).toBe(false);
    expect(compare(c, 100 + i)).toBeLessThan(1e-6);
    const { q, k, v, bias } = make(c, rng(1));
    const names = await kernelsOf(() => attention(q, k, v, { scale: c.scale, bias, layouts: c.layouts, softcap: c.softcap }));
    expect(names.some((n) => n.startsWith('Hiedit'))).toBe(false);
    tf.dispose([q, k, v, ...(bias ? [bias] : [])]);
  });

  test('packed: same as the reference', () => {
    expect(comparePacked(2, 5, 3, 3, 4, true, 7)).toBeLessThan(1e-6);
    expect(comparePacked(1, 4, 4, 2, 4, false, 8)).toBeLessThan(1e-6);
    expect(comparePacked(2, 5, 4, 2, 4, true, 9, true)).toBeLessThan(1e-6);
    expect(comparePacked(2, 5, 4, 2, 4, true, 10, true, 1.5)).toBeLessThan(1e-6);
  });

  test('bad arguments are clear errors', () => {
    const q = tf.zeros([1, 3, 4, 2]) as tf.Tensor4D;
    const k = tf.zeros([1, 3, 3, 2]) as tf.Tensor4D;
    const k2 = tf.zeros([1, 3, 2, 2]) as tf.Tensor4D;
    const b = tf.zeros([1, 1, 3, 4]) as tf.Tensor4D;
    expect(() => attention(q, k, k, { scale: 1 })).toThrow(/attention: q \[1,3,4,2\] \(bthd\), k \[1,3,3,2\].*do not fit/);
    expect(() => attention(q, k2, k2, { scale: Number.NaN })).toThrow(/scale must be a finite number/);
    expect(() => attention(q, k2, k2, { scale: 1, bias: b })).toThrow(/bias must be \(1 or 1, 1, 3, 3\), got \[1,1,3,4\]/);
    expect(() => attention(tf.zeros([3, 4, 2]) as unknown as tf.Tensor4D, k2, k2, { scale: 1 })).toThrow(/q must be rank 4/);
    const qkv = tf.zeros([1, 3, 5, 2]) as tf.Tensor4D;
    expect(() => attentionPacked(qkv, { scale: 1, numHeads: 2, numKvHeads: 2 })).toThrow(/attentionPacked: qkv must be \(B, T, H \+ 2 kvH = 6, hd\).*got \[1,3,5,2\]/);
    const flat = tf.zeros([6, 12]) as tf.Tensor2D;
    expect(() => attentionPacked(flat, { scale: 1, numHeads: 2, numKvHeads: 2 })).toThrow(/got \[6,12\] with batch 0/);
    expect(() => attentionPacked(flat, { scale: 1, numHeads: 2, numKvHeads: 2, batch: 4 })).toThrow(/batch B dividing its rows.*with batch 4/);
    flat.dispose();
    expect(() => attentionPacked(qkv, { scale: 1, numHeads: 3, numKvHeads: 2 })).toThrow(/multiple of numKvHeads/);
    tf.dispose([q, k, k2, b, qkv]);
  });
});

(haveAddon && !envOff ? describe : describe.skip)('attention: native kernels', () => {
  beforeAll(() => {
    uninstallAccelerator();
    expect(installAccelerator('wasm').active).toBe(true);
    expect(attentionKernelsFailure()).toBeUndefined();
    expect(attentionKernelsActive()).toBe(true);
  });

  test.each(CASES.map((c, i) => [c.name, c, i] as const))('%s: forward, dq, dk, dv within 1e-5 of the composite', (_n, c, i) => {
    expect(compare(c, 200 + i)).toBeLessThan(1e-5);
  });

  test('packed qkv (GPT-2 MHA and GQA): forward and dqkv within 1e-5 of the composite', () => {
    expect(comparePacked(2, 7, 4, 4, 8, true, 11)).toBeLessThan(1e-5);
    expect(comparePacked(2, 6, 4, 2, 8, true, 12)).toBeLessThan(1e-5);
    expect(comparePacked(1, 9, 4, 1, 4, false, 13)).toBeLessThan(1e-5);
    expect(comparePacked(2, 7, 4, 4, 8, true, 14, true)).toBeLessThan(1e-5);
    expect(comparePacked(3, 5, 6, 2, 4, true, 15, true)).toBeLessThan(1e-5);
  });

  test('packed qkv, soft-capped: forward and dqkv within 1e-5 of the composite', () => {
    expect(comparePacked(2, 7, 4, 2, 8, true, 16, false, 1.5)).toBeLessThan(1e-5);
    expect(comparePacked(2, 6, 4, 4, 8, true, 17, true, 4)).toBeLessThan(1e-5);
  });

  test('soft-capped: still one kernel forward and one backward, no Tanh', async () => {
    const c = CASES.find((x) => x.softcap !== undefined && x.bias === 'causal') as Case;
    const { q, k, v, bias } = make(c, rng(5));
    const opts = { scale: c.scale, bias, layouts: c.layouts, softcap: c.softcap };
    expect(await kernelsOf(() => attention(q, k, v, opts))).toEqual([ATTENTION_KERNELS.forward]);
    const bwd = await kernelsOf(() => tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(attention(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D, opts)))([q, k, v]));
    expect(bwd.filter((n) => n.startsWith('Hiedit'))).toEqual([ATTENTION_KERNELS.forward, ATTENTION_KERNELS.backward]);
    expect(bwd.some((n) => ['Tanh', 'Softmax', 'BatchMatMul'].includes(n))).toBe(false);
    tf.dispose([q, k, v, ...(bias ? [bias] : [])]);
  });

  test('a softcap beyond float32 range runs the composite path', async () => {
    const c = CASES[0];
    const { q, k, v, bias } = make(c, rng(6));
    for (const softcap of [1e-40, 1e300]) {
      const names = await kernelsOf(() => attention(q, k, v, { scale: c.scale, bias, softcap }));
      expect(names.some((n) => n.startsWith('Hiedit'))).toBe(false);
    }
    tf.dispose([q, k, v, ...(bias ? [bias] : [])]);
  });

  test('one kernel forward, one kernel backward', async () => {
    const c = CASES[1];
    const { q, k, v, bias } = make(c, rng(3));
    const opts = { scale: c.scale, bias, layouts: c.layouts };
    expect(await kernelsOf(() => attention(q, k, v, opts))).toEqual([ATTENTION_KERNELS.forward]);
    const bwd = await kernelsOf(() => tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(attention(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D, opts)))([q, k, v]));
    expect(bwd.filter((n) => n === ATTENTION_KERNELS.backward)).toHaveLength(1);
    expect(bwd.filter((n) => n === ATTENTION_KERNELS.forward)).toHaveLength(1);
    expect(bwd.some((n) => ['BatchMatMul', 'Softmax', 'Transpose'].includes(n))).toBe(false);
    const qkv = rand([1, 4, 6, 4], rng(4)) as tf.Tensor4D;
    const popts = { scale: 0.5, numHeads: 2, numKvHeads: 2 };
    expect(await kernelsOf(() => attentionPacked(qkv, popts))).toEqual([ATTENTION_KERNELS.forwardPacked]);
    const pb = await kernelsOf(() => tf.grad((x: tf.Tensor) => tf.sum(attentionPacked(x as tf.Tensor4D, popts)))(qkv));
    expect(pb.filter((n) => n.startsWith('Hiedit'))).toEqual([ATTENTION_KERNELS.forwardPacked, ATTENTION_KERNELS.backward]);
    expect(pb.some((n) => ['SplitV', 'Concat', 'Slice', 'Transpose'].includes(n))).toBe(false);
    tf.dispose([q, k, v, qkv, ...(bias ? [bias] : [])]);
  });

  test('the addon refuses operands outside the heap and malformed calls', () => {
    const addon = loadNativeBlas().addon as unknown as { attention: (...a: unknown[]) => void; attentionGrad: (...a: unknown[]) => void };
    // The fourth argument is the softcap (0: none).
    const heap = new ArrayBuffer(4096);
    // B=1, Tq=Tk=4, H=kvH=1, hd=4, dense (B, T, heads, hd) strides; q (64 bytes) at byte 4040 runs past the end.
    const params = (qOff: number): Uint32Array => new Uint32Array([qOff, 0, 64, 0, 0, 0, 128, 192, 1, 4, 4, 1, 1, 4, 16, 4, 4, 16, 4, 4, 16, 4, 4]);
    expect(() => addon.attention(heap, params(0), 1, 0)).not.toThrow();
    expect(() => addon.attention(heap, params(4032), 1, 0)).not.toThrow();
    expect(() => addon.attention(heap, params(4040), 1, 0)).toThrow(/out of heap bounds/);
    expect(() => addon.attention(heap, params(2), 1, 0)).toThrow(/out of heap bounds/);
    expect(() => addon.attention(heap, new Uint32Array(5), 1, 0)).toThrow(/expected \(heap, params/);
    expect(() => addon.attention(heap, params(0), Number.NaN, 0)).toThrow(/expected \(heap, params/);
    expect(() => addon.attention(heap, params(0), 1)).toThrow(/expected \(heap, params.*softcap >= 0/);
    expect(() => addon.attention(heap, params(0), 1, -1)).toThrow(/softcap >= 0/);
    expect(() => addon.attentionGrad(heap, params(0), 1, Number.POSITIVE_INFINITY)).toThrow(/softcap >= 0/);
    const grad = new Uint32Array([0, 0, 64, 192, 256, 320, 384, 3990, 1, 4, 4, 1, 1, 4, 16, 4, 4, 16, 4, 4, 16, 4, 4]);
    expect(() => addon.attentionGrad(heap, grad, 1, 0)).toThrow(/out of heap bounds/);
    // Extents whose 64-bit product wraps (B = H = 2^31, strides 0) must be refused, not written past the heap.
    const wrap = new Uint32Array(23);
    wrap.set([2 ** 31, 1, 1, 2 ** 31, 1, 1], 8);
    expect(() => addon.attention(heap, wrap, 1, 0)).toThrow(/out of heap bounds|32-bit range/);
    expect(() => addon.attentionGrad(heap, wrap, 1, 0)).toThrow(/out of heap bounds|32-bit range/);
    // A row stride shorter than the head size would make BLAS refuse the product and leave garbage: refused here.
    const short = params(0);
    short[15] = 2; // q's row stride 2 < hd 4
    expect(() => addon.attention(heap, short, 1, 0)).toThrow(/row stride shorter than the head size/);
  });

  test('no keys or no queries: zeros, like the composite', () => {
    const next = rng(21);
    const q = rand([1, 2, 2, 4], next) as tf.Tensor4D;
    const k0 = tf.zeros([1, 0, 1, 4]) as tf.Tensor4D;
    const q0 = tf.zeros([1, 0, 2, 4]) as tf.Tensor4D;
    const k = rand([1, 3, 1, 4], next) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const y = attention(q, k0, k0, { scale: 1 });
    expect(y.shape).toEqual([2, 8]);
    expect(Array.from(y.dataSync())).toEqual(new Array(16).fill(0));
    const [da, db] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(attention(q0 as tf.Tensor4D, a as tf.Tensor4D, b as tf.Tensor4D, { scale: 1 })))([k, k]);
    expect(da.shape).toEqual(k.shape);
    expect(Array.from(da.dataSync()).every((x) => x === 0) && Array.from(db.dataSync()).every((x) => x === 0)).toBe(true);
    tf.dispose([y, da, db]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k0, q0, k]);
  });

  test('kernels that compute the wrong thing are withdrawn by the registration self-test', () => {
    // Writes a constant instead of attention: registration must notice and fall back to the composite path.
    const wrong: NativeAttention = {
      attention: (heap, params) => new Float32Array(heap, params[6], 12).fill(0.5),
      attentionGrad: () => undefined,
    };
    try {
      registerAttentionKernels(wrong);
      expect(attentionKernelsActive()).toBe(false);
      expect(attentionKernelsFailure()).toMatch(/HieditAttentionPacked self-test mismatch/);
    } finally {
      registerAttentionKernels(loadNativeBlas().addon as unknown as NativeAttention);
    }
    expect(attentionKernelsActive()).toBe(true);
    expect(attentionKernelsFailure()).toBeUndefined();
  });

  test('an addon that ignores the softcap (built before soft-capping) is withdrawn by the self-test', () => {
    const real = loadNativeBlas().addon as unknown as NativeAttention;
    const uncapping: NativeAttention = {
      attention: (heap, params, scale) => real.attention(heap, params, scale, 0),
      attentionGrad: (heap, params, scale) => real.attentionGrad(heap, params, scale, 0),
    };
    try {
      registerAttentionKernels(uncapping);
      expect(attentionKernelsActive()).toBe(false);
      expect(attentionKernelsFailure()).toMatch(/self-test mismatch .* with softcap 1.5/);
    } finally {
      registerAttentionKernels(real);
    }
    expect(attentionKernelsActive()).toBe(true);
  });

  test('a gradient of q only, inside tidy, leaves no tensors behind', () => {
    const c = CASES[0];
    const { q, k, v, bias } = make(c, rng(9));
    const before = tf.memory().numTensors;
    const dq = tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(tf.square(attention(a as tf.Tensor4D, k, v, { scale: c.scale, bias }))))(q));
    const ref = tf.grad((a: tf.Tensor) => tf.sum(tf.square(reference(c, bias)(a, k, v))))(q);
    expect(maxErr(dq, ref)).toBeLessThan(1e-5);
    tf.dispose([dq, ref]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k, v, ...(bias ? [bias] : [])]);
  });
});

describe('attention: softcap (Gemma-2 attn_logit_softcapping)', () => {
  /** Host float64 softmax(cap * tanh(scale q.k / cap) + mask) v, (B=1) bthd layouts; (Tq, H * hd). */
  function hostCapped(q: number[], k: number[], v: number[], T: number, H: number, kvH: number, hd: number, scale: number, cap: number): number[] {
    const out: number[] = [];
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / kvH));
        const s: number[] = [];
        for (let j = 0; j <= t; j++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[(t * H + h) * hd + i] * k[(j * kvH + g) * hd + i];
          s.push(cap * Math.tanh((dot * scale) / cap));
        }
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hd; i++) out.push(e.reduce((a, w, j) => a + (w / z) * v[(j * kvH + g) * hd + i], 0));
      }
    }
    return out;
  }

  test('caps the scores before the mask (the fused kernel with the accelerator, composite without) and differentiates', async () => {
    const T = 6;
    const [H, kvH, hd, scale, cap] = [4, 2, 4, 0.9, 1.5];
    const next = rng(31);
    const q = rand([1, T, H, hd], next, 3) as tf.Tensor4D;
    const k = rand([1, T, kvH, hd], next, 3) as tf.Tensor4D;
    const v = rand([1, T, kvH, hd], next) as tf.Tensor4D;
    const bias = mask(1, T, T, 0, [0]);
    const opts = { scale, bias, softcap: cap };
    const got = attention(q, k, v, opts);
    const want = hostCapped(Array.from(q.dataSync()), Array.from(k.dataSync()), Array.from(v.dataSync()), T, H, kvH, hd, scale, cap);
    const data = got.dataSync();
    expect(Math.max(...want.map((w, i) => Math.abs(w - data[i])))).toBeLessThan(1e-5);
    // Without the cap the result differs: the scores are large enough for the cap to bite.
    const uncapped = attention(q, k, v, { scale, bias });
    expect(maxErr(uncapped, got)).toBeGreaterThan(1e-2);
    const names = await kernelsOf(() => attention(q, k, v, opts));
    expect(names.some((n) => n.startsWith('Hiedit'))).toBe(attentionKernelsActive());
    const dq = tf.grad((a: tf.Tensor) => tf.sum(attention(a as tf.Tensor4D, k, v, opts)))(q);
    expect(Array.from(dq.dataSync()).every(Number.isFinite)).toBe(true);
    expect(() => attention(q, k, v, { scale, softcap: 0 })).toThrow(/softcap must be a finite number > 0, got 0/);
    tf.dispose([q, k, v, bias, got, uncapped, dq]);
  });
});
