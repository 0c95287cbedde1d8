import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { acceleratorStatus, addonMissingReason, installAccelerator, loadNativeBlas, uninstallAccelerator } from './accelerator';
import { rng } from '../test/helpers';


function randomValues(n: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = next() * 2 - 1;
  return out;
}

const addon = loadNativeBlas();
const haveAddon = !!addon.addon;
if (!haveAddon) {
  // eslint-disable-next-line no-console
  console.log(`accelerator tests skipped: ${addon.reason}`);
}
const describeNative = haveAddon ? describe : describe.skip;

/** Float64 reference of tf.matMul with numpy-style batch broadcasting. */
function refMatMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): { shape: number[]; data: Float64Array } {
  const av = a.dataSync();
  const bv = b.dataSync();
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  const rank = Math.max(ra, rb) - 2;
  const pa = [...new Array(rank - (ra - 2)).fill(1), ...a.shape.slice(0, -2)];
  const pb = [...new Array(rank - (rb - 2)).fill(1), ...b.shape.slice(0, -2)];
  const outBatch = pa.map((x, i) => Math.max(x, pb[i]));
  const total = outBatch.reduce((x, y) => x * y, 1);
  const data = new Float64Array(total * m * n);
  for (let o = 0; o < total; o++) {
    let rem = o;
    let ia = 0;
    let ib = 0;
    let sa = 1;
    let sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const idx = rem % outBatch[d];
      rem = Math.floor(rem / outBatch[d]);
      ia += (pa[d] === 1 ? 0 : idx) * sa;
      ib += (pb[d] === 1 ? 0 : idx) * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let q = 0; q < k; q++) {
          const x = av[ia * m * k + (ta ? q * m + i : i * k + q)];
          const y = bv[ib * k * n + (tb ? j * k + q : q * n + j)];
          acc += x * y;
        }
        data[(o * m + i) * n + j] = acc;
      }
    }
  }
  return { shape: [...outBatch, m, n], data };
}

/** Runs fn twice, once on the stock wasm kernels and once accelerated, and returns both results. */
function bothWays(fn: () => tf.Tensor): { stock: Float32Array; fast: Float32Array; shapeStock: number[]; shapeFast: number[] } {
  uninstallAccelerator();
  const s = fn();
  const stock = s.dataSync() as Float32Array;
  const shapeStock = s.shape;
  s.dispose();
  const st = installAccelerator('wasm');
  expect(st.active).toBe(true);
  const f = fn();
  const fast = f.dataSync() as Float32Array;
  const shapeFast = f.shape;
  f.dispose();
  return { stock, fast, shapeStock, shapeFast };
}

function expectClose(got: Float32Array, want: Float32Array, tol = 1e-4): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i]));
    if (!(err <= worst)) worst = err;
  }
  expect(worst).toBeLessThan(tol);
}

const envOff = ['off', '0', 'false', 'no'].includes((process.env.HIEDIT_ACCELERATOR ?? '').toLowerCase());
if (envOff) {
  // eslint-disable-next-line no-console
  console.log('wasm fast-path tests skipped: HIEDIT_ACCELERATOR=off');
}

// The JS fast paths need no addon: they run for users without a compiler too.
(envOff ? describe.skip : describe)('wasm fast paths (no native addon needed)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(() => uninstallAccelerator());

  test('zero-copy Identity: clones share data safely, gradients and tensor counts are unchanged', () => {
    uninstallAccelerator();
    const stockIdentity = tf.getKernel('Identity', 'wasm').kernelFunc;
    const st = installAccelerator('wasm', { native: false });
    expect(st.active).toBe(false);
    expect(st.reason).toMatch(/zero-copy Identity/);
    expect(tf.getKernel('Identity', 'wasm').kernelFunc).not.toBe(stockIdentity);
    // BatchMatMul stays stock with native: false.
    const before = tf.memory().numTensors;
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    const init = tf.tensor1d([1, 2]);
    const v = tf.variable(init);
    const snapshot = tf.clone(v);
    const update = tf.tensor1d([5, 6]);
    v.assign(update);
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([5, 6]);
    tf.dispose([y, v, snapshot, init, update]);
    expect(tf.memory().numTensors).toBe(before);

    const next = rng(99);
    const w1 = tf.tensor2d(randomValues(6 * 5, next), [6, 5]);
    const w2 = tf.tensor2d(randomValues(5 * 3, next), [5, 3]);
    const inp = tf.tensor2d(randomValues(4 * 6, next), [4, 6]);
    const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(tf.tanh(tf.matMul(inp, a)), b)));
    const grads = () => tf.tidy(() => tf.concat(tf.grads(loss)([w1, w2]).map((g) => g.flatten())));
    const fast = grads();
    uninstallAccelerator();
    expect(tf.getKernel('Identity', 'wasm').kernelFunc).toBe(stockIdentity);
    const ref = grads();
    expectClose(fast.dataSync() as Float32Array, ref.dataSync() as Float32Array, 1e-6);
    tf.dispose([w1, w2, inp, fast, ref]);
    expect(installAccelerator('wasm').active).toBe(haveAddon);
  });

});

describeNative('native accelerator (BatchMatMul / _FusedMatMul on the wasm heap)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(() => uninstallAccelerator());

  test('installs on wasm, reports itself, and replaces the registered kernels', () => {
    uninstallAccelerator();
    const stockKernel = tf.getKernel('BatchMatMul', 'wasm').kernelFunc;
    const st = installAccelerator('wasm');
    expect(st).toEqual(expect.objectContaining({ name: 'native-blas', active: true }));
    expect(st.reason).toMatch(/BatchMatMul/);
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).not.toBe(stockKernel);
    expect(acceleratorStatus().active).toBe(true);
    uninstallAccelerator();
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).toBe(stockKernel);
    expect(installAccelerator('cpu').active).toBe(false);
  });

  test('HIEDIT_ACCELERATOR=off disables it', () => {
    const prev = process.env.HIEDIT_ACCELERATOR;
    process.env.HIEDIT_ACCELERATOR = 'off';
    try {
      const st = installAccelerator('wasm');
      expect(st.active).toBe(false);
      expect(st.reason).toMatch(/HIEDIT_ACCELERATOR=off/);
    } finally {
      if (prev === undefined) delete process.env.HIEDIT_ACCELERATOR;
      else process.env.HIEDIT_ACCELERATOR = prev;
    }
    expect(installAccelerator('wasm').active).toBe(true);
  });

  // [aShape, bShape, transposeA, transposeB]
  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[1, 9], [9, 1], false, false],
    [[1, 9], [9, 33], false, false], // one row: the sgemv path
    [[9, 1], [33, 9], true, true],
    [[4, 1, 9], [4, 9, 5], false, false], // one row per batch
    [[3, 4, 6], [6, 5], false, false], // shared B: collapsed into one tall GEMM
    [[3, 6, 4], [6, 5], true, false], // shared B but transposed A: per-batch
    [[4, 6], [3, 6, 5], false, false], // A broadcast over B's batch
    [[2, 3, 4, 6], [2, 3, 5, 6], false, true],
    [[2, 1, 4, 6], [3, 6, 5], false, false], // both broadcast
    [[1, 3, 6, 4], [2, 1, 6, 5], true, false],
    [[2, 1, 3, 4, 6], [1, 2, 1, 5, 6], false, true],
    [[3, 33, 65], [3, 65, 17], false, false],
    [[0, 4], [4, 3], false, false],
    [[3, 0], [0, 2], false, false], // K = 0: zeros
  ];
  test.each(cases)('matMul a%j b%j transposeA=%s transposeB=%s matches the stock kernel', (as, bs, ta, tb) => {
    const next = rng(as.length * 1000 + bs.reduce((x, y) => x * 7 + y, 0) + (ta ? 1 : 0) + (tb ? 2 : 0));
    const a = tf.tensor(randomValues(as.reduce((x, y) => x * y, 1), next), as);
    const b = tf.tensor(randomValues(bs.reduce((x, y) => x * y, 1), next), bs);
    const before = tf.memory().numTensors;
    const r = bothWays(() => tf.matMul(a, b, ta, tb));
    expect(tf.memory().numTensors).toBe(before);
    const ref = refMatMul(a, b, ta, tb);
    expect(r.shapeFast).toEqual(ref.shape);
    expectClose(r.fast, Float32Array.from(ref.data));
    // The stock kernel itself is wrong when both operands broadcast and when K = 0 (it returns too few or
    // uninitialised values), so it is the reference only where it is well-formed.
    const stockSound = r.stock.length === ref.data.length && (ta ? as[as.length - 2] : as[as.length - 1]) > 0;
    if (stockSound) expectClose(r.fast, r.stock);
    a.dispose();
    b.dispose();
  });

  const activations = ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu', 'prelu'] as const;
  test.each(activations)('fused matMul with bias and %s activation matches a float64 reference', (activation) => {
    const next = rng(activation.length * 31);
    const a = tf.tensor3d(randomValues(2 * 5 * 8, next), [2, 5, 8]);
    const b = tf.tensor3d(randomValues(2 * 8 * 6, next), [2, 8, 6]).mul(4) as tf.Tensor3D; // spread values past relu6's clip
    const bias = tf.tensor1d(randomValues(6, next));
    const alpha = tf.tensor1d(randomValues(6, next));
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const A = ta ? tf.transpose(a, [0, 2, 1]) : a;
      const B = tb ? tf.transpose(b, [0, 2, 1]) : b;
      const r = bothWays(() =>
        tf.fused.matMul({
          a: A, b: B, transposeA: ta, transposeB: tb, bias, activation,
          leakyreluAlpha: 0.15, preluActivationWeights: activation === 'prelu' ? alpha : undefined,
        }),
      );
      const ref = refMatMul(A, B, ta, tb);
      const bv = bias.dataSync();
      const av = alpha.dataSync();
      const want = new Float32Array(ref.data.length);
      for (let i = 0; i < want.length; i++) {
        const x = ref.data[i] + bv[i % 6];
        const act: Record<string, number> = {
          linear: x, relu: Math.max(0, x), relu6: Math.min(6, Math.max(0, x)), leakyrelu: x < 0 ? 0.15 * x : x,
          sigmoid: 1 / (1 + Math.exp(-x)), elu: x < 0 ? Math.expm1(x) : x, prelu: x < 0 ? av[i % 6] * x : x,
        };
        want[i] = act[activation];
      }
      expectClose(r.fast, want);
      // No comparison with r.stock here: the stock fused kernel is wrong for batch > 1 with a bias.
      if (A !== a) A.dispose();
      if (B !== b) B.dispose();
    }
    tf.dispose([a, b, bias, alpha]);
  });

  test('fused matMul of one row (the sgemv path) adds a per-column or a scalar bias', () => {
    const next = rng(77);
    const a = tf.tensor2d(randomValues(9, next), [1, 9]);
    const b = tf.tensor2d(randomValues(9 * 7, next), [9, 7]);
    for (const bias of [tf.tensor1d(randomValues(7, next)), tf.tensor1d([0.75])]) {
      for (const tb of [false, true]) {
        const B = tb ? tf.transpose(b) : b;
        const got = tf.tidy(() => tf.fused.matMul({ a, b: B, transposeB: tb, bias, activation: 'relu' }).dataSync());
        const ref = refMatMul(a, B, false, tb);
        const bv = bias.dataSync();
        expectClose(got as Float32Array, Float32Array.from(ref.data, (x, i) => Math.max(0, x + bv[bv.length === 1 ? 0 : i % 7])));
        if (B !== b) B.dispose();
      }
      bias.dispose();
    }
    tf.dispose([a, b]);
  });

  test('fused matMul without bias and with a broadcast [1, N] bias', () => {
    const next = rng(77);
    const a = tf.tensor2d(randomValues(4 * 3, next), [4, 3]);
    const b = tf.tensor2d(randomValues(3 * 5, next), [3, 5]);
    const bias = tf.tensor2d(randomValues(5, next), [1, 5]);
    const noBias = bothWays(() => tf.fused.matMul({ a, b, activation: 'relu' }));
    expectClose(noBias.fast, noBias.stock);
    // The stock wasm kernel refuses rank-2 biases, so compare with the unfused ops instead.
    installAccelerator('wasm');
    const got = tf.tidy(() => Array.from(tf.fused.matMul({ a, b, bias, activation: 'relu' }).dataSync()));
    uninstallAccelerator();
    const want = tf.tidy(() => Array.from(tf.relu(tf.add(tf.matMul(a, b), bias)).dataSync()));
    installAccelerator('wasm');
    expectClose(Float32Array.from(got), Float32Array.from(want));
    tf.dispose([a, b, bias]);
  });

  // tfjs's own BatchMatMul gradient does not reduce broadcast batch dims, so gradients use equal batches.
  test('gradients through batched matmuls match the stock kernels', () => {
    const next = rng(5);
    const a = tf.tensor(randomValues(2 * 3 * 4 * 6, next), [2, 3, 4, 6]);
    const b = tf.tensor(randomValues(2 * 3 * 5 * 6, next), [2, 3, 5, 6]);
    const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(tf.matMul(x, y, false, true)));
    const ga = bothWays(() => tf.grad((x: tf.Tensor) => f(x, b))(a));
    const gb = bothWays(() => tf.grad((y: tf.Tensor) => f(a, y))(b));
    expectClose(ga.fast, ga.stock);
    expectClose(gb.fast, gb.stock);
    tf.dispose([a, b]);
  });

  test('an output that forces the wasm heap to grow is computed on the new heap', () => {
    installAccelerator('wasm');
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    const heapBefore = backend.wasm.HEAPU8.buffer.byteLength;
    // An output larger than the whole current heap cannot fit without growing it.
    const n = Math.ceil(Math.sqrt(heapBefore / 4)) + 64;
    const next = rng(11);
    const a = tf.tensor2d(randomValues(n * 4, next), [n, 4]);
    const b = tf.tensor2d(randomValues(4 * n, next), [4, n]);
    const grown = backend.wasm.HEAPU8.buffer.byteLength;
    const c = tf.matMul(a, b);
    expect(backend.wasm.HEAPU8.buffer.byteLength).toBeGreaterThan(grown);
    // Spot-check rows against a float64 reference rather than a second huge stock product.
    const av = a.dataSync();
    const bv = b.dataSync();
    const rows = [0, 1, Math.floor(n / 2), n - 1];
    const got = tf.tidy(() => Array.from(tf.gather(c, rows).dataSync()));
    rows.forEach((r, ri) => {
      for (const j of [0, 7, n - 1]) {
        let s = 0;
        for (let q = 0; q < 4; q++) s += av[r * 4 + q] * bv[q * n + j];
        expect(Math.abs(got[ri * n + j] - s)).toBeLessThan(1e-4);
      }
    });
    tf.dispose([a, b, c]);
  });
});

describe('addonMissingReason', () => {
  const how = /install a C compiler and OpenBLAS \(Debian\/Ubuntu: apt-get install build-essential python3 libopenblas-dev;.*run `npm rebuild @hiedit\/tensor-core`; using the wasm matmul kernels$/;

  it("repeats the install's reason, then how to build the addon", () => {
    const r = addonMissingReason({ built: false, line: 'native accelerator not built: HIEDIT_ACCELERATOR=off was set at install; using the wasm kernels.' });
    expect(r).toMatch(/^native addon not built at install: HIEDIT_ACCELERATOR=off was set at install; to build it, /);
    expect(r).toMatch(how);
    const cc = addonMissingReason({ built: false, line: 'native accelerator not built: no C compiler found (cc/gcc/clang); using the wasm kernels.' });
    expect(cc).toMatch(/^native addon not built at install: no C compiler found \(cc\/gcc\/clang\); to build it/);
  });

  it('says only how to build it when the install left no record (or recorded a build since removed)', () => {
    expect(addonMissingReason(undefined)).toMatch(/^native addon not built; to build it, /);
    expect(addonMissingReason({ built: true, line: 'native accelerator built (OpenBLAS).' })).toMatch(/^native addon not built; to build it, /);
    expect(addonMissingReason(undefined)).toMatch(how);
  });
});
