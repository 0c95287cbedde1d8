import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installAccelerator, uninstallAccelerator } from './accelerator';
import { registerWasmKernelPatches } from './wasm-kernels';
import { rng } from '../test/helpers';

const envOff = ['off', '0', 'false', 'no'].includes((process.env.HIEDIT_ACCELERATOR ?? '').toLowerCase());


/** Runs fn with the stock kernels and with the fast ones; returns both results as plain arrays with shapes. */
function bothWays(fn: () => tf.Tensor): { stock: { shape: number[]; data: number[] }; fast: { shape: number[]; data: number[] } } {
  const grab = (): { shape: number[]; data: number[] } => {
    const t = fn();
    const r = { shape: t.shape, data: Array.from(t.dataSync() as ArrayLike<number>) };
    t.dispose();
    return r;
  };
  uninstallAccelerator();
  const stock = grab();
  expect(installAccelerator('wasm').reason).toMatch(/block-copy Slice\/SplitV\/GatherV2/);
  const fast = grab();
  return { stock, fast };
}

(envOff ? describe.skip : describe)('block-copy Slice and GatherV2 (wasm)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    registerWasmKernelPatches(); // the gradient of gather needs UnsortedSegmentSum
  });
  afterAll(() => uninstallAccelerator());

  test('Slice equals the stock kernel on random boxes of ranks 1 to 5 and three dtypes', () => {
    const next = rng(11);
    for (let trial = 0; trial < 60; trial++) {
      const rank = 1 + (trial % 5);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(next() * 5));
      const begin = shape.map((d) => Math.floor(next() * d));
      // Some dims whole (merged into runs), some partial, some -1 (to the end), some empty.
      const size = shape.map((d, i) => {
        const r = next();
        if (r < 0.3) return d - begin[i];
        if (r < 0.4) return -1;
        if (r < 0.45) return 0;
        return Math.floor(next() * (d - begin[i] + 1));
      });
      const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3];
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? Number(i % 3 === 0) : i * 1.5 - 7));
      const x = tf.tensor(values, shape, dtype);
      const before = tf.memory().numTensors;
      const r = bothWays(() => tf.slice(x, begin, size));
      expect(r.fast).toEqual(r.stock);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
  });

  test('Slice of leading rows of a large table is one contiguous copy with the right values', () => {
    const table = tf.tensor2d(Float32Array.from({ length: 1024 * 64 }, (_, i) => i), [1024, 64]);
    const r = bothWays(() => tf.slice(table, [3, 0], [32, 64]));
    expect(r.fast.shape).toEqual([32, 64]);
    expect(r.fast.data[0]).toBe(3 * 64);
    expect(r.fast).toEqual(r.stock);
    table.dispose();
  });

  test('SplitV equals the stock kernel for equal and uneven pieces along every axis', () => {
    const next = rng(23);
    for (let trial = 0; trial < 30; trial++) {
      const rank = 1 + (trial % 4);
      const shape = Array.from({ length: rank }, () => 2 + Math.floor(next() * 4));
      const axis = Math.floor(next() * rank);
      const d = shape[axis];
      const first = Math.floor(next() * (d + 1));
      const splits = trial % 2 === 0 ? [first, d - first] : 1;
      const n = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(Array.from({ length: n }, (_, i) => i * 0.5), shape);
      const before = tf.memory().numTensors;
      const r = bothWays(() => tf.tidy(() => tf.concat(tf.split(x, splits, axis).map((p, i) => tf.add(tf.reshape(p, [-1]), i * 1000)), 0)));
      expect(r.fast).toEqual(r.stock);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
  });

  test('GatherV2 equals the stock kernel for every axis, repeated indices and index tensors of rank 2', () => {
    const next = rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const rank = 1 + (trial % 4);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(next() * 5));
      const axis = Math.floor(next() * rank);
      const idxShape = trial % 2 === 0 ? [1 + Math.floor(next() * 6)] : [2, 1 + Math.floor(next() * 3)];
      const ids = Array.from({ length: idxShape.reduce((a, b) => a * b, 1) }, () => Math.floor(next() * shape[axis]));
      const n = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(Array.from({ length: n }, (_, i) => i - 3), shape, trial % 3 === 0 ? 'int32' : 'float32');
      const idx = tf.tensor(ids, idxShape, 'int32');
      const before = tf.memory().numTensors;
      const r = bothWays(() => tf.gather(x, idx, axis));
      expect(r.fast).toEqual(r.stock);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, idx]);
    }
  });

  test('GatherV2 refuses an out-of-range index with the stock message, and its gradient still works', () => {
    installAccelerator('wasm');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const bad = tf.tensor1d([0, 3], 'int32');
    expect(() => tf.gather(x, bad)).toThrow(/GatherV2: the index value 3 is not in \[0, 2\]/);
    const idx = tf.tensor1d([2, 0, 2], 'int32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, idx)))(x);
    expect(Array.from(g.dataSync())).toEqual([1, 1, 0, 0, 2, 2]);
    tf.dispose([x, bad, idx, g]);
  });

  test('outputs that grow the wasm heap are written to the new heap', () => {
    installAccelerator('wasm');
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    const rows = Math.ceil(backend.wasm.HEAPU8.buffer.byteLength / 4 / 256) + 4;
    const x = tf.tensor2d(Float32Array.from({ length: rows * 256 }, (_, i) => i % 1000), [rows, 256]);
    const heapBefore = backend.wasm.HEAPU8.buffer.byteLength;
    // A slice as large as the heap forces growth while the kernel runs.
    const s = tf.slice(x, [1, 0], [rows - 1, 256]);
    expect(backend.wasm.HEAPU8.buffer.byteLength).toBeGreaterThan(heapBefore);
    const sv = s.dataSync();
    expect(sv[0]).toBe(256 % 1000);
    expect(sv[sv.length - 1]).toBe((rows * 256 - 1) % 1000);
    tf.dispose([x, s]);
  });
});
