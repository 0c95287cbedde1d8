import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, initBackend, SeededRandom, randomNormal } from '@hiedit/tensor-core';
import type { EditFeatures, ModuleDescriptor } from '@hiedit/tensor-core';
import {
  HiEditPolicy,
  disposeShifts,
  ridgeShift,
  solveSpd,
  savePolicy,
  loadPolicy,
  POLICY_VERSION,
} from '@hiedit/rl-hierarchy';
import { shiftToDense } from '@hiedit/tensor-core';
import { topKMask, thresholdMask } from '../src/high-level';
import { POLICY_JSON, POLICY_WEIGHTS } from '../src/persist';
import { readHostTensors, writeHostTensors } from '../src/persist';

// the package default backend (wasm here); it must be initialized before any tensor is made
beforeAll(async () => {
  await initBackend();
});

const MODULES: ModuleDescriptor[] = [
  { name: 'a.0', dIn: 6, dOut: 4, layer: 0 },
  { name: 'a.1', dIn: 6, dOut: 4, layer: 1 },
  { name: 'b.0', dIn: 4, dOut: 7, layer: 1 },
];

function makeFeatures(seed: number, T = 3): Map<string, EditFeatures> {
  const rng = new SeededRandom(seed);
  const out = new Map<string, EditFeatures>();
  for (const m of MODULES) {
    out.set(m.name, {
      keys: randomNormal([T, m.dIn], rng.fork(`${m.name}.k`)) as tf.Tensor2D,
      valueGrads: randomNormal([T, m.dOut], rng.fork(`${m.name}.g`), 0.5) as tf.Tensor2D,
    });
  }
  return out;
}

function disposeFeatures(f: Map<string, EditFeatures>): void {
  for (const x of f.values()) {
    x.keys.dispose();
    x.valueGrads.dispose();
  }
}

/** Move every parameter away from its init so nothing is trivially zero or one. */
function perturb(policy: HiEditPolicy, seed: number, std = 0.3): void {
  const rng = new SeededRandom(seed);
  for (const n of policy.params.names()) {
    const v = policy.params.get(n);
    tf.tidy(() => v.assign(tf.add(v, randomNormal(v.shape, rng.fork(n), std))));
  }
}

function host(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

describe('low-level policy (MEND style)', () => {
  test('is the identity at initialization', () => {
    const policy = new HiEditPolicy(MODULES, { low: { rank: 3, blocks: 2 }, high: null, seed: 1 });
    const f = makeFeatures(2);
    policy.updateNormalizers(f, { low: true, high: false });
    const g = policy.groups.get('6x4')!;
    tf.tidy(() => {
      const feat = f.get('a.1')!;
      const x = g.normalizedInput(feat.keys, feat.valueGrads);
      const out = g.transform(x, 1);
      const back = tf.concat([out.keys, out.grads], 1);
      expect(Array.from(host(back))).toEqual(Array.from(host(x)));
      // the normalizer really normalized (so the identity is not trivially on raw features)
      expect(maxRelDiff(host(x), host(tf.concat([feat.keys, feat.valueGrads], 1)))).toBeGreaterThan(1e-3);
    });
    // once perturbed, the same call is no longer the identity: the test above can fail
    perturb(policy, 3);
    tf.tidy(() => {
      const feat = f.get('a.1')!;
      const x = g.normalizedInput(feat.keys, feat.valueGrads);
      const out = g.transform(x, 1);
      expect(maxRelDiff(host(tf.concat([out.keys, out.grads], 1)), host(x))).toBeGreaterThan(1e-3);
    });
    disposeFeatures(f);
    policy.dispose();
  });

  test('shift equals -eta K~^T G~ computed directly on the host', () => {
    const policy = new HiEditPolicy(MODULES, { low: { rank: 3, blocks: 2, initEta: 0.1 }, high: null, seed: 4 });
    // at init every module's eta = exp(logEta) is the configured initEta (up to float32 rounding of the log)
    for (const g of policy.groups.values()) {
      for (const v of host(policy.params.get(g.p('logEta')))) expect(Math.abs(Math.exp(v) - 0.1)).toBeLessThan(1e-7);
    }
    const f = makeFeatures(5);
    policy.updateNormalizers(f, { low: true, high: false });
    perturb(policy, 6);
    const edit = policy.computeEdit(f);
    for (const m of MODULES) {
      const g = policy.groups.get(`${m.dIn}x${m.dOut}`)!;
      const i = g.indexOf(m.name);
      const D = m.dIn + m.dOut;
      const x = tf.tidy(() => g.normalizedInput(f.get(m.name)!.keys, f.get(m.name)!.valueGrads));
      const T = x.shape[0];
      let h = Array.from(host(x));
      x.dispose();
      const P = (n: string) => host(policy.params.get(g.p(n)));
      for (let b = 0; b < 2; b++) {
        const A = P(`block${b}.A`), B = P(`block${b}.B`), c = P(`block${b}.c`), s = P(`block${b}.scale`), o = P(`block${b}.shift`);
        const r = g.rank;
        const next = h.slice();
        for (let t = 0; t < T; t++) {
          const ha = new Array(r).fill(0);
          for (let k = 0; k < r; k++) for (let d = 0; d < D; d++) ha[k] += h[t * D + d] * A[d * r + k];
          for (let d = 0; d < D; d++) {
            let z = c[d];
            for (let k = 0; k < r; k++) z += ha[k] * B[k * D + d];
            next[t * D + d] += Math.max(z, 0) * s[i * D + d] + o[i * D + d];
          }
        }
        h = next;
      }
      // the step size is parametrized as eta = exp(logEta): positive, and the config's initEta at init
      const eta = Math.exp(P('logEta')[i]);
      expect(eta).toBeGreaterThan(0);
      const expected = new Float64Array(m.dIn * m.dOut);
      for (let a = 0; a < m.dIn; a++) for (let bb = 0; bb < m.dOut; bb++) {
        let sum = 0;
        for (let t = 0; t < T; t++) sum += h[t * D + a] * h[t * D + m.dIn + bb];
        expected[a * m.dOut + bb] = -eta * sum;
      }
      const shift = edit.shifts.get(m.name)!;
      expect(shift.kind).toBe('lowRank');
      const dense = shiftToDense(shift);
      expect(maxRelDiff(host(dense), expected)).toBeLessThan(1e-5);
      dense.dispose();
    }
    disposeShifts(edit.shifts);
    disposeFeatures(f);
    policy.dispose();
  });
});

describe('low-level policy (MALMEN style)', () => {
  test('T x T ridge solve equals the d_in x d_in normal equations', () => {
    const rng = new SeededRandom(7);
    tf.tidy(() => {
      const K = randomNormal([3, 8], rng.fork('K')) as tf.Tensor2D;
      const V = randomNormal([3, 5], rng.fork('V')) as tf.Tensor2D;
      const lam = tf.scalar(-1.3);
      const a = ridgeShift(K, V, lam, 'tokens');
      const b = ridgeShift(K, V, lam, 'normal');
      expect(a.left.shape).toEqual([8, 3]);
      const da = tf.matMul(a.left, a.right);
      const db = tf.matMul(b.left, b.right);
      expect(maxRelDiff(host(da), host(db))).toBeLessThan(1e-4);
      // independent check: db satisfies (K^T K + e^l I) dW = K^T V
      const lhs = tf.matMul(tf.add(tf.matMul(K, K, true, false), tf.mul(tf.eye(8), Math.exp(-1.3))), da);
      expect(maxRelDiff(host(lhs), host(tf.matMul(K, V, true, false)))).toBeLessThan(1e-4);
    });
  });

  test('the solve is differentiable in the system and the right-hand side', () => {
    const rng = new SeededRandom(8);
    tf.tidy(() => {
      const K = randomNormal([4, 4], rng.fork('K')) as tf.Tensor2D;
      const S0 = tf.add(tf.matMul(K, K, false, true), tf.eye(4)) as tf.Tensor2D;
      const V0 = randomNormal([4, 2], rng.fork('V')) as tf.Tensor2D;
      const C = randomNormal([4, 2], rng.fork('C'));
      const f = (S: tf.Tensor2D, V: tf.Tensor2D) => tf.sum(tf.mul(solveSpd(S, V), C)) as tf.Scalar;
      const [gS, gV] = tf.grads((S: tf.Tensor, V: tf.Tensor) => f(S as tf.Tensor2D, V as tf.Tensor2D))([S0, V0]);
      const h = 1e-2;
      const check = (which: 0 | 1, idx: number, analytic: number) => {
        const base = which === 0 ? S0 : V0;
        const e = tf.oneHot(tf.tensor1d([idx], 'int32'), base.size).reshape(base.shape).mul(h);
        const plus = which === 0 ? f(tf.add(S0, e) as tf.Tensor2D, V0) : f(S0, tf.add(V0, e) as tf.Tensor2D);
        const minus = which === 0 ? f(tf.sub(S0, e) as tf.Tensor2D, V0) : f(S0, tf.sub(V0, e) as tf.Tensor2D);
        const fd = (plus.dataSync()[0] - minus.dataSync()[0]) / (2 * h);
        expect(Math.abs(fd - analytic)).toBeLessThan(2e-3 * Math.max(1, Math.abs(analytic)));
      };
      check(0, 5, host(gS)[5]);
      check(1, 3, host(gV)[3]);
    });
  });

  test('the policy uses the ridge solve and keeps a rank-T factorization', () => {
    const policy = new HiEditPolicy(MODULES, { low: { style: 'malmen', rank: 3, blocks: 1, initEta: 0.1 }, high: null, seed: 9 });
    const f = makeFeatures(10);
    policy.updateNormalizers(f, { low: true, high: false });
    const e1 = policy.computeEdit(f, { ridgeForm: 'tokens' });
    const e2 = policy.computeEdit(f, { ridgeForm: 'normal' });
    const s = e1.shifts.get('a.0')!;
    expect(s.kind === 'lowRank' && s.left.shape).toEqual([6, 3]);
    for (const m of MODULES) {
      const a = shiftToDense(e1.shifts.get(m.name)!);
      const b = shiftToDense(e2.shifts.get(m.name)!);
      expect(maxRelDiff(host(a), host(b))).toBeLessThan(1e-4);
      expect(tf.tidy(() => tf.norm(a).dataSync()[0])).toBeGreaterThan(0);
      a.dispose();
      b.dispose();
    }
    disposeShifts(e1.shifts);
    disposeShifts(e2.shifts);
    disposeFeatures(f);
    policy.dispose();
  });
});

describe('high-level policy (HiNet)', () => {
  test('top-k mask has exactly k ones, ties broken deterministically', () => {
    const rng = new SeededRandom(11);
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + rng.int(12);
      const scores = Array.from({ length: n }, () => (rng.next() < 0.3 ? 0.5 : rng.normal()));
      const k = 1 + rng.int(n);
      const m = topKMask(scores, k);
      expect(m.reduce((a, b) => a + b, 0)).toBe(k);
      const chosen = [...m].map((v, i) => (v ? scores[i] : Infinity));
      const rest = [...m].map((v, i) => (v ? -Infinity : scores[i]));
      expect(Math.min(...chosen)).toBeGreaterThanOrEqual(Math.max(...rest));
    }
    expect(() => topKMask([1, 2], 3)).toThrow(/k must be in 1\.\.2/);
    const a = thresholdMask([0.1, 2, -1, 3], 0.5, 1, 3);
    expect(Array.from(a)).toEqual([0, 1, 0, 1]);
    expect(Array.from(thresholdMask([-5, -4, -3], 0, 1, 3))).toEqual([0, 0, 1]);
  });

  test('policy selects exactly k modules and reports scores', () => {
    const policy = new HiEditPolicy(MODULES, { low: { rank: 2, blocks: 1 }, high: { hidden: 8, k: 2 }, seed: 12 });
    const f = makeFeatures(13);
    const edit = policy.computeEdit(f, { updateLowNormalizers: true, updateHighNormalizers: true });
    expect(edit.mask.selected.filter(Boolean).length).toBe(2);
    expect(edit.mask.scores.length).toBe(3);
    expect(edit.mask.modules).toEqual(['a.0', 'a.1', 'b.0']);
    disposeShifts(edit.shifts);
    disposeFeatures(f);
    policy.dispose();
  });

  test.each([false, true])("straight-through mask's gradient equals the gate scores' gradient (adaptive=%s)", (adaptive) => {
    const policy = new HiEditPolicy(MODULES, { low: { rank: 2, blocks: 1 }, high: { hidden: 8, k: 2, adaptive }, seed: 14 });
    const f = makeFeatures(15);
    policy.updateNormalizers(f, { low: true, high: true });
    perturb(policy, 16, 0.1);
    const hi = policy.high!;
    const names = policy.highParamNames().filter((n) => n !== 'high.threshold');
    const vars = names.map((n) => policy.params.get(n));
    const c = tf.tensor1d([0.7, -1.3, 2.1]);
    const viaMask = tf.variableGrads(() => {
      const g = hi.select(hi.scores(f));
      expect(Array.from(g.mask.dataSync())).toEqual(Array.from(g.hard)); // forward is exactly hard
      return tf.sum(tf.mul(g.mask, c)) as tf.Scalar;
    }, vars);
    const viaScores = tf.variableGrads(() => tf.sum(tf.mul(hi.scores(f), c)) as tf.Scalar, vars);
    let nonzero = 0;
    for (const v of vars) {
      const a = host(viaMask.grads[v.name]);
      const b = host(viaScores.grads[v.name]);
      expect(Array.from(a)).toEqual(Array.from(b));
      nonzero += b.some((x) => x !== 0) ? 1 : 0;
    }
    expect(nonzero).toBeGreaterThan(0);
    for (const r of [viaMask, viaScores]) {
      r.value.dispose();
      Object.values(r.grads).forEach((g) => g.dispose());
    }
    c.dispose();
    disposeFeatures(f);
    policy.dispose();
  });
});

describe('policy persistence', () => {
  test('save/load round trip gives bitwise the same edit; mismatches are clear errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlh-policy-'));
    const policy = new HiEditPolicy(MODULES, { low: { rank: 3, blocks: 2, style: 'malmen' }, high: { hidden: 8, k: 1 }, seed: 21 });
    const f = makeFeatures(22);
    policy.updateNormalizers(f, { low: true, high: true });
    perturb(policy, 23, 0.1);
    savePolicy(policy, dir);
    const loaded = loadPolicy(dir, (n) => {
      const m = MODULES.find((x) => x.name === n);
      if (!m) throw new Error(`no module ${n}`);
      return m;
    });
    const a = policy.computeEdit(f);
    const b = loaded.computeEdit(f);
    for (const m of MODULES) {
      const da = shiftToDense(a.shifts.get(m.name)!);
      const db = shiftToDense(b.shifts.get(m.name)!);
      expect(Array.from(host(db))).toEqual(Array.from(host(da)));
      da.dispose();
      db.dispose();
    }
    expect(Array.from(b.mask.scores)).toEqual(Array.from(a.mask.scores));
    expect(b.mask.selected).toEqual(a.mask.selected);
    disposeShifts(a.shifts);
    disposeShifts(b.shifts);
    loaded.dispose();

    expect(() => loadPolicy(dir, (n) => ({ name: n, dIn: 6, dOut: n.startsWith('b') ? 8 : 4 }))).toThrow(/module b\.0 is 4x7 in the policy but 6x8 in the model/);
    expect(() => loadPolicy(dir, (n) => { if (n === 'a.1') throw new Error('unknown module a.1'); return MODULES.find((x) => x.name === n)!; })).toThrow(/edits module a\.1, which the model does not have/);
    const json = JSON.parse(fs.readFileSync(path.join(dir, POLICY_JSON), 'utf8'));
    json.checksum = 'deadbeef';
    fs.writeFileSync(path.join(dir, POLICY_JSON), JSON.stringify(json));
    expect(() => loadPolicy(dir)).toThrow(/checksum/);
    disposeFeatures(f);
    policy.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('version-1 files (raw eta) load converted to logEta; non-positive etas and unknown versions are refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlh-policy-v1-'));
    const policy = new HiEditPolicy(MODULES, { low: { rank: 3, blocks: 1 }, high: { hidden: 8, k: 1 }, seed: 41 });
    const f = makeFeatures(42);
    policy.updateNormalizers(f, { low: true, high: true });
    perturb(policy, 43, 0.1);
    savePolicy(policy, dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, POLICY_JSON), 'utf8')).version).toBe(POLICY_VERSION);
    // rewrite the save the way version 1 stored it: low.<group>.eta = exp(logEta)
    const v2Json = fs.readFileSync(path.join(dir, POLICY_JSON), 'utf8');
    const cur = readHostTensors(path.join(dir, POLICY_WEIGHTS), undefined);
    const writeV1 = (etaOf: (logEta: number, i: number) => number): void => {
      const json = JSON.parse(v2Json);
      const v1 = [...cur.values()].map((t) => t.name.endsWith('.logEta')
        ? { name: t.name.replace(/\.logEta$/, '.eta'), shape: t.shape, data: Float32Array.from(t.data, etaOf) }
        : t);
      json.version = 1;
      json.params = v1.map((t) => ({ name: t.name, shape: t.shape }));
      json.checksum = writeHostTensors(path.join(dir, POLICY_WEIGHTS), v1, { format: 'hiedit-policy' });
      fs.writeFileSync(path.join(dir, POLICY_JSON), JSON.stringify(json));
    };
    writeV1((l) => Math.exp(l));
    const loaded = loadPolicy(dir);
    expect(loaded.params.has('low.6x4.logEta')).toBe(true);
    expect(loaded.params.has('low.6x4.eta')).toBe(false);
    const a = policy.computeEdit(f);
    const b = loaded.computeEdit(f);
    for (const m of MODULES) {
      const da = shiftToDense(a.shifts.get(m.name)!);
      const db = shiftToDense(b.shifts.get(m.name)!);
      // exp(log(eta)) in float32 is eta up to an ulp or two: the converted policy edits the same way
      expect(maxRelDiff(host(db), host(da))).toBeLessThan(1e-5);
      da.dispose();
      db.dispose();
    }
    disposeShifts(a.shifts);
    disposeShifts(b.shifts);
    loaded.dispose();
    // a negative eta of the old raw parametrization has no log: a clear error naming file, tensor and value
    writeV1((l, i) => (i === 1 ? -0.002 : Math.exp(l)));
    expect(() => loadPolicy(dir)).toThrow(/policy\.safetensors: version-1 policy has low\.\d+x\d+\.eta\[1\] = -0\.002.*must be positive/);
    const json = JSON.parse(fs.readFileSync(path.join(dir, POLICY_JSON), 'utf8'));
    json.version = POLICY_VERSION + 1;
    fs.writeFileSync(path.join(dir, POLICY_JSON), JSON.stringify(json));
    expect(() => loadPolicy(dir)).toThrow(new RegExp(`field "version" is ${POLICY_VERSION + 1}, this build reads versions 1 to ${POLICY_VERSION}`));
    disposeFeatures(f);
    policy.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a non-positive initEta is refused (eta is exp(logEta))', () => {
    expect(() => new HiEditPolicy(MODULES, { low: { initEta: 0 }, high: null })).toThrow(/low\.initEta must be > 0/);
    expect(() => new HiEditPolicy(MODULES, { low: { initEta: -1e-3 }, high: null })).toThrow(/low\.initEta must be > 0/);
  });

  test('no tensor leaks: creating, using and disposing policies returns numTensors to baseline', () => {
    const f = makeFeatures(30);
    const before = tf.memory().numTensors;
    for (const style of ['mend', 'malmen'] as const) {
      const policy = new HiEditPolicy(MODULES, { low: { rank: 2, blocks: 2, style }, high: { hidden: 4, adaptive: style === 'malmen' }, seed: 31 });
      const afterCreate = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const e = policy.computeEdit(f, { updateLowNormalizers: true, updateHighNormalizers: true });
        disposeShifts(e.shifts);
      }
      expect(tf.memory().numTensors).toBe(afterCreate);
      policy.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeFeatures(f);
  });

  test('bad configuration and features give clear errors', () => {
    expect(() => new HiEditPolicy(MODULES, { high: { k: 5 } })).toThrow(/high\.k = 5 exceeds the number of edit modules \(3\)/);
    expect(() => new HiEditPolicy([...MODULES, MODULES[0]])).toThrow(/listed twice/);
    const policy = new HiEditPolicy(MODULES, { low: { rank: 2, blocks: 1 }, high: null });
    const f = makeFeatures(40);
    const missing = new Map(f);
    missing.delete('b.0');
    expect(() => policy.computeEdit(missing)).toThrow(/no features for module b\.0/);
    disposeFeatures(f);
    policy.dispose();
  });
});
