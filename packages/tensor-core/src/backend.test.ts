import * as tf from '@tensorflow/tfjs';
import { backendReport, initBackend, resetBackendSelectionForTests } from './backend';

/** backend.ts with its selection forgotten, so a test can select from scratch. */
function fresh(): { b: typeof import('./backend'); t: typeof tf } {
  resetBackendSelectionForTests();
  return { b: { initBackend, backendReport } as typeof import('./backend'), t: tf };
}

describe('backend selection', () => {
  const savedEnv = process.env.HIEDIT_BACKEND;
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.HIEDIT_BACKEND;
    else process.env.HIEDIT_BACKEND = savedEnv;
  });

  it('reports the uninitialized state without throwing', () => {
    const { b } = fresh();
    const r = b.backendReport();
    expect(r.active).toBe('');
    expect(r.candidates.map((c) => c.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('falls through the native peers to wasm by default, with reasons', async () => {
    delete process.env.HIEDIT_BACKEND;
    const { b, t } = fresh();
    const p1 = b.initBackend();
    const p2 = b.initBackend();
    expect(p2).toBe(p1); // concurrent calls share one promise
    const r = await p1;
    expect(b.initBackend()).toBe(p1); // and later ones too
    const byName = Object.fromEntries(r.candidates.map((c) => [c.name, c]));
    // tfjs-node is an optional peer: when it is absent the reason says so.
    let nodeInstalled = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      nodeInstalled = false;
    }
    if (!nodeInstalled) {
      expect(r.active).toBe('wasm');
      expect(byName['tensorflow'].available).toBe(false);
      expect(byName['tensorflow'].reason).toMatch(/@tensorflow\/tfjs-node is not installed/);
      expect(byName['tensorflow-gpu'].reason).toMatch(/tfjs-node-gpu/);
      expect(byName['wasm']).toEqual({ name: 'wasm', available: true, reason: 'active' });
      expect(byName['cpu'].reason).toMatch(/not tried: wasm is active/);
      expect(t.getBackend()).toBe('wasm');
      expect(r.versions['tfjs-backend-wasm']).toBe('4.22.0');
    }
    expect(r.versions['tfjs-core']).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof r.accelerator.active).toBe('boolean');
    expect(b.backendReport()).toEqual(r);
  });

  it('honours HIEDIT_BACKEND and refuses unknown values', async () => {
    process.env.HIEDIT_BACKEND = 'gpu-please';
    const { b } = fresh();
    await expect(b.initBackend()).rejects.toThrow(/HIEDIT_BACKEND="gpu-please" is not a backend/);
    process.env.HIEDIT_BACKEND = 'cpu';
    const r = await b.initBackend();
    expect(r.active).toBe('cpu');
    expect(r.candidates.find((c) => c.name === 'wasm')?.reason).toMatch(/not tried: backend cpu was requested/);
    // The cpu backend's "install tfjs-node" banner is silenced: hiedit reports the choice itself.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    tf.tensor1d([1, 2]).dispose();
    const banners = warn.mock.calls.filter((c) => String(c[0]).includes('looks like you are running TensorFlow.js'));
    warn.mockRestore();
    expect(banners).toEqual([]);
  });

  it('option beats the environment; switching later is refused', async () => {
    process.env.HIEDIT_BACKEND = 'wasm';
    const { b, t } = fresh();
    const r = await b.initBackend({ backend: 'cpu' });
    expect(r.active).toBe('cpu');
    expect(t.getBackend()).toBe('cpu');
    await expect(b.initBackend({ backend: 'wasm' })).rejects.toThrow(/already initialized as cpu; cannot switch to wasm/);
    await expect(b.initBackend({ backend: 'cpu' })).resolves.toEqual(r);
    await expect(b.initBackend({ backend: 'nope' as never })).rejects.toThrow(/unknown backend "nope"/);
  });

  it('a requested but missing native backend fails clearly and allows a retry', async () => {
    let nodeInstalled = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      nodeInstalled = false;
    }
    if (nodeInstalled) {
      // eslint-disable-next-line no-console
      console.log('skipping missing-backend test: @tensorflow/tfjs-node is installed here');
      return;
    }
    const { b } = fresh();
    await expect(b.initBackend({ backend: 'tensorflow' })).rejects.toThrow(
      /requested backend tensorflow is not available .*tfjs-node is not installed/,
    );
    expect((await b.initBackend({ backend: 'wasm' })).active).toBe('wasm');
  });
});

describe('wasm gradients needed by hiedit', () => {
  beforeAll(async () => {
    resetBackendSelectionForTests();
    await initBackend({ backend: 'wasm' });
  });

  /** Runs f's gradient on the active backend and on cpu; the two must agree. */
  async function compare(f: (x: tf.Tensor) => tf.Scalar, x: number[][]): Promise<void> {
    const run = (): Float32Array => {
      const t = tf.tidy(() => tf.grad(f)(tf.tensor2d(x)));
      const v = t.dataSync() as Float32Array;
      t.dispose();
      return v;
    };
    const before = tf.memory().numTensors;
    const g = tf.grad(f);
    const onWasm = tf.tidy(() => g(tf.tensor2d(x)));
    const wasmVals = Array.from(onWasm.dataSync());
    onWasm.dispose();
    await tf.setBackend('cpu');
    const cpuVals = Array.from(run());
    await tf.setBackend('wasm');
    expect(tf.memory().numTensors).toBe(before);
    expect(wasmVals.length).toBe(cpuVals.length);
    for (let i = 0; i < cpuVals.length; i++) expect(wasmVals[i]).toBeCloseTo(cpuVals[i], 5);
  }

  it('runs on wasm', () => {
    expect(backendReport().active).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('gather gradient (UnsortedSegmentSum) is right on wasm and cpu, with repeated, out-of-order ids', async () => {
    // d/dx sum(gather(x, ids) * w) puts row s of w onto row ids[s] of the gradient (summing repeats).
    const ids = [2, 0, 2, 1, 2];
    const w = Array.from({ length: 15 }, (_, i) => i * 0.5 - 3);
    const want = new Float32Array(3 * 3);
    ids.forEach((r, s) => {
      for (let j = 0; j < 3; j++) want[r * 3 + j] += w[s * 3 + j];
    });
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const base = tf.memory().numTensors;
      const g = tf.tidy(() =>
        tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, tf.tensor1d(ids, 'int32')), tf.tensor2d(w, [5, 3]))))(tf.zeros([3, 3])),
      );
      expect(Array.from(g.dataSync())).toEqual(Array.from(want));
      g.dispose();
      // gather along axis 1 and an int32 segment sum directly
      const g1 = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.gather(x, tf.tensor1d([1, 1, 0], 'int32'), 1))))(tf.tensor2d([[0.5, -2], [3, 1]])));
      expect(Array.from(g1.dataSync())).toEqual([1, -8, 6, 4]);
      g1.dispose();
      const seg = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([1, 0, 1, 3], 'int32'), 3));
      expect(Array.from(seg.dataSync())).toEqual([2, 4, 0]); // id 3 is out of range: dropped
      expect(seg.dtype).toBe('int32');
      seg.dispose();
      expect(tf.memory().numTensors).toBe(base);
    }
    await tf.setBackend('wasm');
  });

  it('embedding-sized gather gradients take a single pass (kernel count independent of the table size)', async () => {
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      // The stock cpu kernel needs one op chain per row; counting kernels (not timing them) tells the two apart.
      const kernelsFor = async (rows: number): Promise<number> => {
        const info = await tf.profile(() => {
          const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.gather(x, tf.tensor1d([5, 9, 5, rows - 1], 'int32'))))(tf.zeros([rows, 64])));
          const v = g.dataSync();
          expect(v[5 * 64]).toBe(2);
          expect(v[(rows - 1) * 64 + 63]).toBe(1);
          expect(v[6 * 64]).toBe(0);
          g.dispose();
        });
        return info.kernels.length;
      };
      const small = await kernelsFor(50);
      expect(await kernelsFor(5000)).toBe(small);
      expect(small).toBeLessThan(20);
    }
    await tf.setBackend('wasm');
  });

  it('matmul, softmax, logSoftmax, tanh, exp, rsqrt, mean gradients match cpu', async () => {
    const x = [
      [0.3, -1.2, 0.7, 2],
      [1.5, 0.1, -0.4, -2],
    ];
    const w = [
      [0.2, -0.1],
      [0.5, 0.3],
      [-0.7, 0.9],
      [0.05, 0.4],
    ];
    await compare((a) => tf.tidy(() => tf.sum(tf.tanh(tf.matMul(a, tf.tensor2d(w))))), x);
    await compare((a) => tf.tidy(() => tf.sum(tf.mul(tf.softmax(a), tf.range(0, 4)))), x);
    await compare((a) => tf.tidy(() => tf.sum(tf.mul(tf.logSoftmax(a), tf.range(0, 4)))), x);
    await compare((a) => tf.tidy(() => tf.sum(tf.exp(a))), x);
    await compare((a) => tf.tidy(() => tf.sum(tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), 1e-6))))), x);
    await compare((a) => tf.tidy(() => tf.sum(tf.sqrt(tf.add(tf.square(a), 1)))), x);
    await compare((a) => tf.tidy(() => tf.sum(tf.mul(tf.sigmoid(a), a))), x);
  });
});
