import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend';
import { RunningNormalizer, clipByGlobalNorm, klDivergence, maskedCrossEntropy } from './numerics';
import { SeededRandom, randomNormal } from './random';

beforeAll(async () => {
  await initBackend();
});

/** Hand reference: -log softmax(row)[label]. */
function ce(row: number[], label: number): number {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
  return lse - row[label];
}

describe('maskedCrossEntropy', () => {
  it('averages over non-ignored positions only', () => {
    const rows = [
      [1, 2, 3],
      [0.5, -1, 0],
      [10, 0, -10],
      [0, 0, 0],
    ];
    const labels = [2, -100, 0, 1];
    const base = tf.memory().numTensors;
    const logits = tf.tensor2d(rows);
    const lab = tf.tensor1d(labels, 'int32');
    const loss = maskedCrossEntropy(logits, lab);
    const want = (ce(rows[0], 2) + ce(rows[2], 0) + ce(rows[3], 1)) / 3;
    expect(loss.dataSync()[0]).toBeCloseTo(want, 5);
    // hand check of one term: uniform logits over 3 classes -> log 3
    expect(ce(rows[3], 1)).toBeCloseTo(Math.log(3), 12);
    tf.dispose([logits, lab, loss]);
    expect(tf.memory().numTensors).toBe(base);
  });

  it('handles (B, T, V) batches, huge logits, and a custom ignore index', () => {
    const logits = tf.tensor3d([[[1000, 0], [0, 1000]], [[3, 3], [-1000, 1000]]]);
    const labels = tf.tensor2d([[0, 0], [1, -1]], undefined, 'int32');
    const loss = maskedCrossEntropy(logits, labels, -1);
    // terms: 0, 1000, log 2 (ignored -1 dropped): mean = (1000 + log 2) / 3
    expect(loss.dataSync()[0]).toBeCloseTo((1000 + Math.log(2)) / 3, 3);
    expect(Number.isFinite(loss.dataSync()[0])).toBe(true);
    tf.dispose([logits, labels, loss]);
  });

  it('all-ignored gives 0 with zero gradient, not NaN', () => {
    const logits = tf.tensor2d([[1, 2], [3, 4]]);
    const labels = tf.tensor1d([-100, -100], 'int32');
    const loss = maskedCrossEntropy(logits, labels);
    expect(loss.dataSync()[0]).toBe(0);
    const g = tf.grad((x: tf.Tensor) => maskedCrossEntropy(x, labels))(logits);
    expect(Array.from(g.dataSync()).every((v) => v === 0)).toBe(true); // +0 or -0, never NaN
    tf.dispose([logits, labels, loss, g]);
  });

  it('gradient equals (softmax - onehot) / count', () => {
    const rows = [
      [0.2, -0.3, 1.1],
      [2, 0, 1],
    ];
    const logits = tf.tensor2d(rows);
    const labels = tf.tensor1d([1, 2], 'int32');
    const g = tf.grad((x: tf.Tensor) => maskedCrossEntropy(x, labels))(logits);
    const got = g.dataSync();
    rows.forEach((row, r) => {
      const z = row.reduce((a, v) => a + Math.exp(v), 0);
      row.forEach((v, j) => {
        const want = (Math.exp(v) / z - (j === [1, 2][r] ? 1 : 0)) / 2;
        expect(got[r * 3 + j]).toBeCloseTo(want, 5);
      });
    });
    tf.dispose([logits, labels, g]);
  });

  it('refuses bad labels and shapes clearly', () => {
    const logits = tf.tensor2d([[1, 2]]);
    const bad = tf.tensor1d([5], 'int32');
    const badShape = tf.tensor1d([0, 1], 'int32');
    expect(() => maskedCrossEntropy(logits, bad)).toThrow(/label 5 at flat index 0 is outside \[0, 2\)/);
    expect(() => maskedCrossEntropy(logits, badShape)).toThrow(/labels shape \[2\] must equal logits shape without its last axis \[1\]/);
    tf.dispose([logits, bad, badShape]);
  });
});

describe('klDivergence', () => {
  it('matches a hand-computed value and is 0 for equal inputs', () => {
    const p = [0.5, 0.25, 0.25];
    const q = [0.25, 0.5, 0.25];
    const base = tf.memory().numTensors;
    const lp = tf.tidy(() => tf.log(tf.tensor2d([p, q])));
    const lq = tf.tidy(() => tf.log(tf.tensor2d([q, q])));
    const kl = klDivergence(lp as tf.Tensor2D, lq as tf.Tensor2D);
    // row 0: 0.5 ln 2 + 0.25 ln 0.5 = 0.25 ln 2; row 1: 0
    expect(kl.dataSync()[0]).toBeCloseTo((0.25 * Math.log(2)) / 2, 6);
    const same = klDivergence(lq as tf.Tensor2D, lq as tf.Tensor2D);
    expect(same.dataSync()[0]).toBeCloseTo(0, 7);
    tf.dispose([lp, lq, kl, same]);
    expect(tf.memory().numTensors).toBe(base);
  });

  it('treats p = 0 (log p = -Inf) as contributing nothing', () => {
    const lp = tf.tensor2d([[0, -Infinity]]);
    const lq = tf.tensor2d([[Math.log(0.5), Math.log(0.5)]]);
    const kl = klDivergence(lp, lq);
    expect(kl.dataSync()[0]).toBeCloseTo(Math.log(2), 6);
    tf.dispose([lp, lq, kl]);
  });

  it('refuses mismatched shapes', () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([2, 4]) as tf.Tensor2D;
    expect(() => klDivergence(a, b)).toThrow(/same shape/);
    tf.dispose([a, b]);
  });
});

describe('RunningNormalizer', () => {
  function rows(rng: SeededRandom, n: number, d: number, offset: number): number[][] {
    return Array.from({ length: n }, () => Array.from({ length: d }, (_, j) => Math.fround(offset + j * 3 + rng.normal() * (j + 1))));
  }

  it('parallel update equals the two-pass mean/var of all rows (large offset, uneven batches)', () => {
    const rng = new SeededRandom(7);
    const d = 4;
    const batches = [rows(rng, 5, d, 1e6), rows(rng, 1, d, 1e6), rows(rng, 13, d, 1e6), rows(rng, 2, d, 1e6)];
    const all = batches.flat();
    const norm = new RunningNormalizer(d);
    const base = tf.memory().numTensors;
    for (const b of batches) {
      const t = tf.tensor2d(b);
      norm.update(t);
      t.dispose();
    }
    expect(tf.memory().numTensors).toBe(base);
    expect(norm.count).toBe(all.length);
    const n = all.length;
    const mean = norm.means();
    const std = norm.std();
    for (let j = 0; j < d; j++) {
      const m = all.reduce((a, r) => a + r[j], 0) / n;
      const v = all.reduce((a, r) => a + (r[j] - m) * (r[j] - m), 0) / (n - 1);
      expect(Math.abs(mean[j] - m)).toBeLessThan(1e-9 * Math.abs(m));
      expect(Math.abs(std[j] - Math.sqrt(v))).toBeLessThan(1e-8 * Math.sqrt(v));
    }
    // Normalizing the same rows against their own statistics gives mean 0 / std 1 per feature
    // (moderate offset: near 1e6 float32 inputs alone would carry 0.03 of rounding error).
    const small = batches.flat().map((r) => r.map((v) => v - 1e6 + 10));
    const norm2 = new RunningNormalizer(d);
    const x = tf.tensor2d(small);
    norm2.update(x);
    const z = norm2.normalize(x);
    const zs = z.arraySync();
    for (let j = 0; j < d; j++) {
      const col = zs.map((r) => r[j]);
      const cm = col.reduce((a, b) => a + b, 0) / n;
      const cs = Math.sqrt(col.reduce((a, b) => a + (b - cm) * (b - cm), 0) / (n - 1));
      expect(Math.abs(cm)).toBeLessThan(1e-5);
      expect(Math.abs(cs - 1)).toBeLessThan(1e-4);
    }
    tf.dispose([x, z]);
    expect(tf.memory().numTensors).toBe(base);
  });

  it('is safe with fewer than two rows and floors the std at eps', () => {
    const norm = new RunningNormalizer(2, 1e-3);
    const x = tf.tensor2d([[5, 7]]);
    const z0 = norm.normalize(x);
    expect(Array.from(z0.dataSync())).toEqual([5, 7]);
    norm.update(x);
    const z1 = norm.normalize(x);
    expect(Array.from(z1.dataSync())).toEqual([5, 7]);
    norm.update(x); // two identical rows: variance 0 -> std floored at eps
    expect(Array.from(norm.std())).toEqual([1e-3, 1e-3]);
    const z2 = norm.normalize(x);
    expect(Array.from(z2.dataSync())).toEqual([0, 0]);
    tf.dispose([x, z0, z1, z2]);
  });

  it('denormalize inverts normalize (identity below two rows), refuses bad shapes and leaks nothing', () => {
    const rng = new SeededRandom(5);
    const norm = new RunningNormalizer(3, 1e-6);
    const x = tf.tensor2d(rows(rng, 4, 3, 2));
    const copy = norm.denormalize(x);
    expect(Array.from(copy.dataSync())).toEqual(Array.from(x.dataSync()));
    norm.update(x);
    const base = tf.memory().numTensors;
    const z = norm.normalize(x);
    const back = norm.denormalize(z);
    const xv = x.dataSync();
    back.dataSync().forEach((v, i) => expect(v).toBeCloseTo(xv[i], 4));
    // it is the inverse, not the identity: on normalized data the two differ
    expect(Array.from(back.dataSync())).not.toEqual(Array.from(z.dataSync()));
    tf.dispose([z, back]);
    expect(tf.memory().numTensors).toBe(base);
    const wrong = tf.zeros([1, 2]) as tf.Tensor2D;
    expect(() => norm.denormalize(wrong)).toThrow(/RunningNormalizer.denormalize: expected \(rows, 3\), got \[1, 2\]/);
    tf.dispose([x, copy, wrong]);
    norm.dispose();
  });

  it('round trips through JSON exactly and validates input', () => {
    const rng = new SeededRandom(3);
    const norm = new RunningNormalizer(3, 1e-6);
    const t = tf.tensor2d(rows(rng, 9, 3, 0.1));
    norm.update(t);
    t.dispose();
    const json = JSON.parse(JSON.stringify(norm.toJSON()));
    const back = RunningNormalizer.fromJSON(json);
    expect(back.toJSON()).toEqual(norm.toJSON());
    expect(Array.from(back.std())).toEqual(Array.from(norm.std()));
    expect(() => RunningNormalizer.fromJSON({ ...json, mean: [1, 2] })).toThrow(/invalid or missing field "mean"/);
    expect(() => RunningNormalizer.fromJSON({ ...json, count: -1 })).toThrow(/"count"/);
    const wrong = tf.zeros([2, 4]) as tf.Tensor2D;
    expect(() => norm.update(wrong)).toThrow(/expected \(rows, 3\), got \[2, 4\]/);
    const nan = tf.tensor2d([[1, NaN, 2]]);
    expect(() => norm.update(nan)).toThrow(/non-finite value NaN at row 0, feature 1/);
    tf.dispose([wrong, nan]);
    norm.dispose();
    const x = tf.zeros([1, 3]) as tf.Tensor2D;
    expect(() => norm.normalize(x)).toThrow(/disposed/);
    x.dispose();
  });
});

describe('clipByGlobalNorm', () => {
  it('scales to maxNorm when above and copies when below', () => {
    const base = tf.memory().numTensors;
    const a = tf.tensor1d([3, 0]);
    const b = tf.tensor2d([[0, 4]]);
    const { clipped, norm } = clipByGlobalNorm([a, b], 1);
    expect(norm).toBeCloseTo(5, 5);
    const coef = 1 / (5 + 1e-6);
    expect(clipped[0].dataSync()[0]).toBeCloseTo(3 * coef, 6);
    expect(clipped[1].dataSync()[1]).toBeCloseTo(4 * coef, 6);
    expect(clipped[1].shape).toEqual([1, 2]);
    const r2 = clipByGlobalNorm([a, b], 10);
    expect(Array.from(r2.clipped[0].dataSync())).toEqual([3, 0]);
    expect(r2.clipped[0]).not.toBe(a);
    tf.dispose([a, b, ...clipped, ...r2.clipped]);
    expect(tf.memory().numTensors).toBe(base);
    expect(() => clipByGlobalNorm([], 0)).toThrow(/maxNorm must be finite and > 0/);
  });
});

describe('randomNormal', () => {
  it('is seeded and has the right moments', () => {
    const base = tf.memory().numTensors;
    const t1 = randomNormal([100, 50], new SeededRandom(11), 0.5);
    const t2 = randomNormal([100, 50], new SeededRandom(11), 0.5);
    const t3 = randomNormal([100, 50], new SeededRandom(12), 0.5);
    const v1 = t1.dataSync() as Float32Array;
    expect(Array.from(t2.dataSync())).toEqual(Array.from(v1));
    expect(Array.from(t3.dataSync())).not.toEqual(Array.from(v1));
    const m = v1.reduce((a, b) => a + b, 0) / v1.length;
    const s = Math.sqrt(v1.reduce((a, b) => a + (b - m) * (b - m), 0) / v1.length);
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(s - 0.5)).toBeLessThan(0.03);
    tf.dispose([t1, t2, t3]);
    expect(tf.memory().numTensors).toBe(base);
    expect(() => randomNormal([-1], new SeededRandom(1))).toThrow(/invalid shape/);
  });
});
