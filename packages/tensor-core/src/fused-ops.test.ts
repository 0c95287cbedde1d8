import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installAccelerator, loadNativeBlas, uninstallAccelerator } from './accelerator';
import { FUSED_KERNELS, fusedKernelsActive } from './fused-kernels';
import {
  compositeGeluMul, compositeGeluTanh, compositeLayerNorm, compositeRmsNorm, compositeRotaryEmbedding, compositeSiluMul, geluMul, geluTanh, layerNorm, rmsNorm,
  rotaryEmbedding, siluMul, compositeSoftmaxCrossEntropy, softmaxCrossEntropy,
} from './fused-ops';
import { maxErr, randomTensor, rng } from '../test/helpers';
const rand = (shape: number[], next: () => number, scale = 2, shift = 0): tf.Tensor => randomTensor(shape, next, scale, shift);




/** Kernel names run by fn (tf.profile), to tell the fused path from the composite one. */
async function kernelsOf(fn: () => tf.Tensor): Promise<string[]> {
  const info = await tf.profile(() => fn());
  info.result && (info.result as tf.Tensor).dispose();
  return info.kernelNames;
}

interface Op {
  name: string;
  inputs: (next: () => number, shape: number[]) => tf.Tensor[];
  fused: (...a: tf.Tensor[]) => tf.Tensor;
  composite: (...a: tf.Tensor[]) => tf.Tensor;
  kernel: string;
  /** How many leading inputs are differentiated (default: all). */
  nDiff?: number;
}

const OPS: Op[] = [
  {
    name: 'layerNorm',
    // A shifted x (mean far from 0) exercises the variance's cancellation.
    inputs: (next, shape) => [rand(shape, next, 2, 3), rand([shape[shape.length - 1]], next), rand([shape[shape.length - 1]], next)],
    fused: (x, g, b) => layerNorm(x, g, b, 1e-5),
    composite: (x, g, b) => compositeLayerNorm(x, g, b, 1e-5),
    kernel: FUSED_KERNELS.layerNorm,
  },
  {
    name: 'rmsNorm',
    inputs: (next, shape) => [rand(shape, next), rand([shape[shape.length - 1]], next)],
    fused: (x, w) => rmsNorm(x, w, 1e-6),
    composite: (x, w) => compositeRmsNorm(x, w, 1e-6),
    kernel: FUSED_KERNELS.rmsNorm,
  },
  {
    name: 'rmsNorm (1 + w)',
    // Gemma's weights are offsets from 1: small, so 1 + w is near 1 and the offset dominates.
    inputs: (next, shape) => [rand(shape, next), rand([shape[shape.length - 1]], next, 0.2)],
    fused: (x, w) => rmsNorm(x, w, 1e-6, 1),
    composite: (x, w) => tf.tidy(() => compositeRmsNorm(x, tf.add(w, 1), 1e-6)),
    kernel: FUSED_KERNELS.rmsNorm,
  },
  {
    name: 'geluTanh',
    inputs: (next, shape) => [rand(shape, next, 6)],
    fused: (x) => geluTanh(x),
    composite: (x) => compositeGeluTanh(x),
    kernel: FUSED_KERNELS.geluTanh,
  },
  {
    name: 'siluMul',
    inputs: (next, shape) => [rand(shape, next, 6), rand(shape, next)],
    fused: (g, u) => siluMul(g, u),
    composite: (g, u) => compositeSiluMul(g, u),
    kernel: FUSED_KERNELS.siluMul,
  },
  {
    name: 'geluMul',
    inputs: (next, shape) => [rand(shape, next, 6), rand(shape, next)],
    fused: (g, u) => geluMul(g, u),
    composite: (g, u) => compositeGeluMul(g, u),
    kernel: FUSED_KERNELS.geluMul,
  },
  {
    name: 'rotaryEmbedding',
    // The last dim is doubled so head dims are even; tables are (T, headDim / 2).
    inputs: (next, shape) => {
      const s = [...shape.slice(0, -1), 2 * shape[shape.length - 1]];
      const T = s.length >= 2 ? s[s.length - 2] : 1;
      return [rand(s, next), rand([T, shape[shape.length - 1]], next, 1), rand([T, shape[shape.length - 1]], next, 1)];
    },
    fused: (x, c, sn) => rotaryEmbedding(x, c, sn),
    composite: (x, c, sn) => compositeRotaryEmbedding(x, c, sn),
    kernel: FUSED_KERNELS.rope,
    nDiff: 1,
  },
];

// One row, odd sizes, rank 3, and a large width.
const SHAPES: number[][] = [[1, 7], [5, 13], [2, 3, 9], [2, 8192]];

const haveAddon = !!loadNativeBlas().addon;
const envOff = ['off', '0', 'false', 'no'].includes((process.env.HIEDIT_ACCELERATOR ?? '').toLowerCase());

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
afterAll(() => uninstallAccelerator());

/** Gradients of sum(op(inputs) * r) for a random r (so dy is not constant) w.r.t. the first nDiff inputs. */
function gradsOf(fn: (...a: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], r: tf.Tensor, nDiff = inputs.length): tf.Tensor[] {
  const rest = inputs.slice(nDiff);
  return tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(fn(...a, ...rest), r)))(inputs.slice(0, nDiff));
}

describe('fused ops: composite path (no native kernels)', () => {
  test.each(OPS.map((o) => [o.name, o] as const))('%s equals its composite form and runs no fused kernel', async (_name, op) => {
    uninstallAccelerator();
    expect(fusedKernelsActive()).toBe(false);
    const inputs = op.inputs(rng(7), [2, 3, 10]);
    const before = tf.memory().numTensors;
    const got = op.fused(...inputs);
    const want = op.composite(...inputs);
    expect(maxErr(got, want)).toBe(0);
    const r = tf.onesLike(got);
    const g1 = gradsOf(op.fused, inputs, r, op.nDiff);
    const g2 = gradsOf(op.composite, inputs, r, op.nDiff);
    g1.forEach((g, i) => expect(maxErr(g, g2[i])).toBe(0));
    tf.dispose([got, want, r, ...g1, ...g2]);
    expect(tf.memory().numTensors).toBe(before);
    const names = await kernelsOf(() => op.fused(...inputs));
    expect(names.some((n) => n.startsWith('Hiedit'))).toBe(false);
    tf.dispose(inputs);
    if (!envOff) installAccelerator('wasm');
  });

  test('bad arguments are clear errors', () => {
    const x = tf.ones([2, 3]);
    const y = tf.ones([3, 2]);
    const w = tf.ones([3]);
    expect(() => siluMul(x, y)).toThrow(/siluMul: gate \[2,3\] and up \[3,2\]/);
    expect(() => geluMul(x, y)).toThrow(/geluMul: gate \[2,3\] and up \[3,2\]/);
    expect(() => rmsNorm(x, w, 1e-5, Number.NaN)).toThrow(/rmsNorm: weightOffset must be a finite number, got NaN/);
    expect(() => layerNorm(x, w, w, -1)).toThrow(/layerNorm: eps/);
    expect(() => rmsNorm(x, w, Number.NaN)).toThrow(/rmsNorm: eps/);
    expect(() => rmsNorm(tf.scalar(1), w, 1e-5)).toThrow(/at least one dimension/);
    tf.dispose([x, y, w]);
  });
});

(haveAddon && !envOff ? describe : describe.skip)('fused ops: native kernels', () => {
  beforeAll(() => {
    uninstallAccelerator();
    const st = installAccelerator('wasm');
    expect(st.active).toBe(true);
    expect(st.reason).toMatch(/fused LayerNorm\/RMSNorm \(also \(1 \+ w\)\)\/GELU\/SwiGLU\/GeGLU\/RoPE\/cross-entropy kernels, attention \(also soft-capped\)/);
    expect(fusedKernelsActive()).toBe(true);
  });

  const cases = OPS.flatMap((o) => SHAPES.map((s) => [o.name, JSON.stringify(s), o, s] as const));
  test.each(cases)('%s on %s: forward and gradients match the composite within 1e-5', async (_n, _s, op, shape) => {
    const next = rng(shape.reduce((a, b) => a * 31 + b, op.name.length));
    const inputs = op.inputs(next, shape);
    const r = rand(inputs[0].shape, next);
    const before = tf.memory().numTensors;
    // Backend-level temporaries (the sigmoid buffers of GELU / SwiGLU) are not engine tensors: count data ids too.
    const dataIds = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const idsBefore = dataIds();
    const got = op.fused(...inputs);
    const want = op.composite(...inputs);
    expect(maxErr(got, want)).toBeLessThan(1e-5);
    const g1 = gradsOf(op.fused, inputs, r, op.nDiff);
    const g2 = gradsOf(op.composite, inputs, r, op.nDiff);
    expect(g1.length).toBe(op.nDiff ?? inputs.length);
    g1.forEach((g, i) => {
      expect(g.shape).toEqual(inputs[i].shape);
      expect(maxErr(g, g2[i])).toBeLessThan(1e-5);
    });
    tf.dispose([got, want, ...g1, ...g2]);
    expect(tf.memory().numTensors).toBe(before);
    expect(dataIds()).toBe(idsBefore);
    const fwd = await kernelsOf(() => op.fused(...inputs));
    expect(fwd).toEqual([op.kernel]);
    const bwd = await kernelsOf(() => tf.tidy(() => tf.addN(gradsOf(op.fused, inputs, r, op.nDiff).map((g) => tf.sum(g)))));
    // RoPE's backward is the same kernel rotating the other way.
    expect(bwd).toContain(op.kernel === FUSED_KERNELS.rope ? op.kernel : `${op.kernel}Grad`);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...inputs, r]);
  });

  test('geluMul rounds exactly as the fused geluTanh times up, and (1 + w) RMSNorm as the fused RMSNorm of tf.add(w, 1), forward and backward', () => {
    const next = rng(41);
    const g = rand([3, 37], next, 6);
    const u = rand([3, 37], next);
    const w = rand([37], next, 0.2);
    const r = rand([3, 37], next);
    const before = tf.memory().numTensors;
    const pairs: [tf.Tensor[], tf.Tensor[]][] = [
      [[geluMul(g, u), ...gradsOf((a, b) => geluMul(a, b), [g, u], r)], [tf.tidy(() => tf.mul(geluTanh(g), u)), ...gradsOf((a, b) => tf.mul(geluTanh(a), b), [g, u], r)]],
      [[rmsNorm(g, w, 1e-6, 1), ...gradsOf((a, b) => rmsNorm(a, b, 1e-6, 1), [g, w], r)], [tf.tidy(() => rmsNorm(g, tf.add(w, 1), 1e-6)), ...gradsOf((a, b) => rmsNorm(a, tf.add(b, 1), 1e-6), [g, w], r)]],
    ];
    for (const [got, want] of pairs) {
      got.forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(Array.from(want[i].dataSync())));
      tf.dispose([...got, ...want]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([g, u, w, r]);
  });

  test('GELU and SwiGLU (own vectorised sigmoid) match tf.sigmoid at extreme inputs, forward and backward', () => {
    // Around and beyond the exponential's clamp at +-87, tiny values, zero, and a NaN that must propagate.
    const edge = [-1e4, -100, -90, -87.5, -87, -60, -20, -5, -1e-3, -1e-30, 0, 1e-30, 1e-3, 5, 20, 60, 87, 87.5, 90, 100, 1e4];
    const x = tf.tensor1d(edge);
    const up = tf.tensor1d(edge.map((_, i) => (i % 3) - 1.5));
    const before = tf.memory().numTensors;
    const got = [
      geluTanh(x), siluMul(x, up), geluMul(x, up),
      ...gradsOf((a) => geluTanh(a), [x], up), ...gradsOf((a, b) => siluMul(a, b), [x, up], x), ...gradsOf((a, b) => geluMul(a, b), [x, up], x),
    ];
    const want = [
      compositeGeluTanh(x), compositeSiluMul(x, up), compositeGeluMul(x, up),
      ...gradsOf((a) => compositeGeluTanh(a), [x], up), ...gradsOf((a, b) => compositeSiluMul(a, b), [x, up], x),
      ...gradsOf((a, b) => compositeGeluMul(a, b), [x, up], x),
    ];
    got.forEach((g, i) => expect(maxErr(g, want[i])).toBeLessThan(1e-5));
    tf.dispose([...got, ...want]);
    expect(tf.memory().numTensors).toBe(before);
    const nan = tf.tensor1d([Number.NaN, 1]);
    const [gn, sn, gm] = [geluTanh(nan), siluMul(nan, nan), geluMul(nan, nan)];
    expect(Number.isNaN(gn.dataSync()[0]) && Number.isNaN(sn.dataSync()[0]) && Number.isNaN(gm.dataSync()[0])).toBe(true);
    tf.dispose([x, up, nan, gn, sn, gm]);
  });

  test('the elementwise addon functions refuse operands outside the heap, overlapping outputs and bad arguments', () => {
    const addon = loadNativeBlas().addon as unknown as Record<string, (...a: unknown[]) => void>;
    const heap = new ArrayBuffer(4096);
    const f = new Float32Array(heap);
    f.set([0.5, -1, 2, 3], 0);
    addon.gelu(heap, 0, 64, 4);
    expect(f[16]).toBeCloseTo(0.5 / (1 + Math.exp(-0.5 * (1.5957691216057308 + 0.0713548162726 * 0.25))), 5);
    expect(() => addon.gelu(heap, 0, 4088, 4)).toThrow(/hiedit_fused\.gelu: operand out of heap bounds/);
    expect(() => addon.gelu(heap, 0, 8, 4)).toThrow(/hiedit_fused\.gelu: an output overlaps another operand/);
    expect(() => addon.swigluBackward(heap, 0, 64, 128, 192, 200, 4)).toThrow(/swigluBackward: an output overlaps another operand/);
    expect(() => addon.swiglu(heap, 0, 64)).toThrow(/expected \(heap, gateOff, upOff, yOff, n\)/);
    expect(() => addon.geglu(heap, 0, 64, 4090, 4)).toThrow(/hiedit_fused\.geglu: operand out of heap bounds/);
    expect(() => addon.gegluBackward(heap, 0, 64, 128, 192, 200, 4)).toThrow(/gegluBackward: an output overlaps another operand/);
    // The RMSNorm offset (Gemma's 1 + w) is a required, finite argument.
    expect(() => addon.rmsNorm(heap, 0, 64, 128, 1, 4, 1e-6)).toThrow(/expected \(heap, xOff, wOff, yOff, rows, d, eps, offset\)/);
    expect(() => addon.rmsNormGrad(heap, 0, 64, 128, 192, 256, 1, 4, 1e-6, Number.NaN)).toThrow(/rmsNormGrad: expected/);
  });

  test('outputs that force the wasm heap to grow are computed on the new heap', () => {
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    const heap = () => backend.wasm.HEAPU8.buffer.byteLength;
    // x as large as the whole current heap: its gradient kernel's outputs cannot fit without growing it again.
    const d = 1024;
    const rows = Math.ceil(heap() / 4 / d) + 8;
    const xv = new Float32Array(rows * d);
    for (let i = 0; i < xv.length; i++) xv[i] = Math.sin(i * 0.37) * 3;
    const x = tf.tensor2d(xv, [rows, d]);
    const w = tf.ones([d]);
    const before = heap();
    const [dx, dw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(rmsNorm(p, q, 1e-6)))([x, w]);
    expect(heap()).toBeGreaterThan(before);
    // Spot-check rows against a float64 reference of d/dx sum(rmsNorm(x)) = r - x r^3 mean(x).
    const got = dx.dataSync();
    for (const r of [0, Math.floor(rows / 2), rows - 1]) {
      let ss = 0;
      let sx = 0;
      for (let j = 0; j < d; j++) {
        ss += xv[r * d + j] * xv[r * d + j];
        sx += xv[r * d + j];
      }
      const rr = 1 / Math.sqrt(ss / d + 1e-6);
      for (const j of [0, 5, d - 1]) {
        const want = rr - xv[r * d + j] * rr * rr * rr * (sx / d);
        expect(Math.abs(got[r * d + j] - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
      }
    }
    expect(dw.shape).toEqual([d]);
    tf.dispose([x, w, dx, dw]);
  });

  test('gradient of one input only, inside tidy, leaves no tensors behind', () => {
    const next = rng(5);
    const [x, g, b] = OPS[0].inputs(next, [4, 6]);
    const before = tf.memory().numTensors;
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.square(layerNorm(xi, g, b, 1e-5))))(x);
    const ref = tf.grad((xi: tf.Tensor) => tf.sum(tf.square(compositeLayerNorm(xi, g, b, 1e-5))))(x);
    expect(maxErr(dx, ref)).toBeLessThan(1e-5);
    tf.dispose([dx, ref]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, g, b]);
  });

  test('parameters that are not [d] vectors, non-float32 inputs and empty inputs', async () => {
    const next = rng(11);
    const x = rand([3, 5], next);
    const g2 = rand([1, 5], next);
    const b2 = rand([1, 5], next);
    // [1, d] gamma broadcasts: composite path, same math.
    const names = await kernelsOf(() => layerNorm(x, g2, b2, 1e-5));
    expect(names).not.toContain(FUSED_KERNELS.layerNorm);
    const a = layerNorm(x, g2, b2, 1e-5);
    const c = compositeLayerNorm(x, g2, b2, 1e-5);
    expect(maxErr(a, c)).toBe(0);
    const xi = tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32');
    const gi = geluTanh(xi);
    expect(gi.dtype).toBe('float32');
    const empty = tf.zeros([0, 5]);
    const w = rand([5], next);
    const e1 = rmsNorm(empty, w, 1e-6);
    expect(e1.shape).toEqual([0, 5]);
    const [dx, dw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(rmsNorm(p, q, 1e-6)))([empty, w]);
    expect(dx.shape).toEqual([0, 5]);
    expect(Array.from(dw.dataSync())).toEqual([0, 0, 0, 0, 0]);
    const eg = geluTanh(empty);
    const es = siluMul(empty, empty);
    expect(eg.shape).toEqual([0, 5]);
    expect(es.shape).toEqual([0, 5]);
    tf.dispose([eg, es]);
    tf.dispose([x, g2, b2, a, c, xi, gi, empty, w, e1, dx, dw]);
  });

  test('rotaryEmbedding: the tables get no gradient, with a clear error', () => {
    const next = rng(3);
    const x = rand([1, 2, 3, 4], next);
    const c = rand([3, 2], next);
    const s = rand([3, 2], next);
    expect(() => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(rotaryEmbedding(p, q, s)))([x, c])).toThrow(/cos\/sin tables are constants/);
    expect(() => rotaryEmbedding(rand([2, 3], next), c, s)).toThrow(/even headDim/);
    tf.dispose([x, c, s]);
  });
});

/** Per-row logsumexp(x) - x[label] and its gradient (softmax - onehot) * dy, in float64. */
function refCrossEntropy(x: Float32Array, rows: number, v: number, labels: number[], dy: Float32Array): { loss: number[]; grad: Float64Array } {
  const loss: number[] = [];
  const grad = new Float64Array(rows * v);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, x[r * v + j]);
    let sum = 0;
    for (let j = 0; j < v; j++) sum += Math.exp(x[r * v + j] - m);
    loss.push(m + Math.log(sum) - x[r * v + labels[r]]);
    for (let j = 0; j < v; j++) grad[r * v + j] = (Math.exp(x[r * v + j] - m) / sum - (j === labels[r] ? 1 : 0)) * dy[r];
  }
  return { loss, grad };
}

describe('softmaxCrossEntropy', () => {
  // Widths up to GPT-2's vocabulary; logits spread +-20 so exponentials span many orders of magnitude.
  const cases: [number, number][] = [[1, 7], [5, 13], [3, 8192], [2, 50257]];
  const runBoth = (native: boolean) => test.each(cases)(`${native ? 'native kernel' : 'composite'}: %i x %i rows match a float64 reference, loss and gradient`, async (rows, v) => {
    uninstallAccelerator();
    if (native) expect(installAccelerator('wasm').active).toBe(true);
    const next = rng(rows * 7 + v);
    const x = rand([rows, v], next, 40);
    const labels = Array.from({ length: rows }, () => Math.floor(next() * v));
    const w = rand([rows], next);
    const before = tf.memory().numTensors;
    const loss = softmaxCrossEntropy(x as tf.Tensor2D, labels);
    const [g] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(softmaxCrossEntropy(t as tf.Tensor2D, labels), w)))([x]);
    const ref = refCrossEntropy(x.dataSync() as Float32Array, rows, v, labels, w.dataSync() as Float32Array);
    const lv = loss.dataSync();
    ref.loss.forEach((l, r) => expect(Math.abs(lv[r] - l)).toBeLessThan(1e-5 * (1 + Math.abs(l))));
    const gv = g.dataSync();
    let worst = 0;
    for (let i = 0; i < gv.length; i++) worst = Math.max(worst, Math.abs(gv[i] - ref.grad[i]));
    expect(worst).toBeLessThan(1e-6);
    tf.dispose([loss, g]);
    expect(tf.memory().numTensors).toBe(before);
    const names = await kernelsOf(() => softmaxCrossEntropy(x as tf.Tensor2D, labels));
    expect(names.includes(FUSED_KERNELS.crossEntropy)).toBe(native);
    tf.dispose([x, w]);
    if (!envOff) installAccelerator('wasm');
  });
  runBoth(false);
  if (haveAddon && !envOff) runBoth(true);

  test('labels must be integers in [0, V), one per row', () => {
    const x = tf.zeros([2, 3]) as tf.Tensor2D;
    expect(() => softmaxCrossEntropy(x, [0])).toThrow(/1 labels for 2 rows/);
    expect(() => softmaxCrossEntropy(x, [0, 3])).toThrow(/label 3 of row 1 is outside \[0, 3\)/);
    expect(() => softmaxCrossEntropy(x, [0, 1.5])).toThrow(/label 1.5 of row 1/);
    x.dispose();
  });

  test('the composite form is the one the native kernel replaces (same values on a small case)', () => {
    const x = tf.tensor2d([[0.5, -1, 2], [3, 0, -2]]);
    const a = softmaxCrossEntropy(x, [2, 1]);
    const b = compositeSoftmaxCrossEntropy(x, tf.tensor1d([2, 1], 'int32'));
    expect(maxErr(a, b)).toBeLessThan(1e-6);
    tf.dispose([x, a, b]);
  });
});
