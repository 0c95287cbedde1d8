import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, initBackend, SeededRandom, randomNormal } from '@hiedit/tensor-core';
import type { EditFeatures, TokenizedEditRequest } from '@hiedit/tensor-core';
import {
  HiEditPolicy,
  PolicyTrainer,
  disposeShifts,
  estimateKeyCovariances,
  loadPolicy,
  preconditionerInverse,
  resolvePolicyConfig,
  savePolicy,
  POLICY_VERSION,
} from '@hiedit/rl-hierarchy';
import { covarianceTuples } from '../src/key-precond';
import { POLICY_JSON } from '../src/persist';
import type { PolicyConfigInput, TrainerOptions } from '@hiedit/rl-hierarchy';
import { ToyLM, toyRequests } from './toy-lm';

beforeAll(async () => {
  await initBackend();
});

const SPEC = { vocab: 11, dim: 6, ffn: 8, seed: 3 };
const OPTS: Partial<TrainerOptions> = { epochs: 1, updateEvery: 2, backDepth: 2, metaLr: 1e-2, seed: 4, patience: 5 };
const policyCfg = (lambda: number | null, high = true): PolicyConfigInput => ({
  low: { rank: 3, blocks: 1, initEta: 0.05, ...(lambda === null ? {} : { keyPreconditioner: { lambda } }) },
  high: high ? { hidden: 6, k: 2 } : null,
  seed: 5,
});

function disposeFeatures(f: Map<string, EditFeatures>): void {
  for (const x of f.values()) {
    x.keys.dispose();
    x.valueGrads.dispose();
  }
}

/** Left factors of every module for one trace, as host arrays. */
function lefts(policy: HiEditPolicy, features: Map<string, EditFeatures>): Map<string, Float32Array> {
  const edit = policy.computeEdit(features);
  const out = new Map<string, Float32Array>();
  for (const [n, s] of edit.shifts) if (s.kind === 'lowRank') out.set(n, Float32Array.from(s.left.dataSync() as Float32Array));
  disposeShifts(edit.shifts);
  return out;
}

const frob = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));

describe('key preconditioner config', () => {
  test('off by default and absent from the resolved config; bad values are refused with the field named', () => {
    expect('keyPreconditioner' in resolvePolicyConfig({}, 4).low).toBe(false);
    expect('keyPreconditioner' in resolvePolicyConfig({ low: { keyPreconditioner: null as never } }, 4).low).toBe(false);
    expect(resolvePolicyConfig({ low: { keyPreconditioner: { lambda: 0.01 } } }, 4).low.keyPreconditioner).toEqual({ lambda: 0.01, rescale: 'frobenius' });
    expect(resolvePolicyConfig({ low: { keyPreconditioner: { lambda: 2, rescale: 'response' } } }, 4).low.keyPreconditioner).toEqual({ lambda: 2, rescale: 'response' });
    expect(() => resolvePolicyConfig({ low: { keyPreconditioner: { lambda: 1, rescale: 'l2' } as never } }, 4)).toThrow(/rescale must be 'frobenius' or 'response', got "l2"/);
    for (const lambda of [0, -1, NaN, Infinity, '0.1']) {
      expect(() => resolvePolicyConfig({ low: { keyPreconditioner: { lambda } as never } }, 4)).toThrow(/low\.keyPreconditioner\.lambda must be a finite number > 0/);
    }
    expect(() => resolvePolicyConfig({ low: { keyPreconditioner: { lambda: 1, lamda: 2 } as never } }, 4)).toThrow(/unknown field\(s\) lamda/);
    expect(() => resolvePolicyConfig({ low: { keyPreconditioner: 0.1 as never } }, 4)).toThrow(/must be an object/);
    expect(() => resolvePolicyConfig({ low: { style: 'malmen', keyPreconditioner: { lambda: 1 } } }, 4)).toThrow(/'mend' shift style only/);
  });

  test('preconditionerInverse inverts C + lambda tr(C)/d I and refuses a zero covariance', () => {
    const d = 3;
    const C = Float32Array.from([2, 0.5, 0, 0.5, 1, 0.2, 0, 0.2, 3]);
    const inv = preconditionerInverse(C, d, 0.1);
    const ridge = (0.1 * 6) / 3;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (C[i * d + k] + (i === k ? ridge : 0)) * inv[k * d + j];
      expect(s).toBeCloseTo(i === j ? 1 : 0, 5);
    }
    expect(() => preconditionerInverse(new Float32Array(9), 3, 0.1)).toThrow(/trace is 0/);
  });
});

describe('key preconditioner in the policy', () => {
  test('C is the mean k k^T over every position of the edit and locality prompts', () => {
    const model = new ToyLM(SPEC);
    const reqs = toyRequests(3, SPEC.vocab, 21);
    const tuples = covarianceTuples(reqs);
    expect(tuples.length).toBe(3 + reqs.reduce((s, r) => s + r.locality.length, 0));
    const covs = estimateKeyCovariances(model, ['layers.0.proj', 'mlp.down'], tuples);
    // independent computation: stack every traced key row and form K^T K / N in plain JS
    const rows: number[][] = [];
    for (const t of tuples) {
      const tr = model.trace(t, ['mlp.down'], 'all');
      const k = tr.features.get('mlp.down')!.keys;
      rows.push(...(k.arraySync() as number[][]));
      disposeFeatures(tr.features);
    }
    const d = SPEC.ffn;
    const c = covs.get('mlp.down')!;
    expect(c.length).toBe(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
      const want = rows.reduce((s, r) => s + r[i] * r[j], 0) / rows.length;
      expect(c[i * d + j]).toBeCloseTo(want, 5);
      expect(c[i * d + j]).toBe(c[j * d + i]);
    }
    model.dispose();
  });

  test('shifts are finite and deterministic, keep the Frobenius norm, change the direction, and leave no tensors', () => {
    const model = new ToyLM(SPEC);
    const reqs = toyRequests(4, SPEC.vocab, 22);
    const plain = new HiEditPolicy(model.modules, policyCfg(null));
    const pre = new HiEditPolicy(model.modules, policyCfg(0.01));
    const huge = new HiEditPolicy(model.modules, policyCfg(1e9));
    const trace = model.trace(reqs[3].edit, plain.moduleNames());
    // Before C is estimated (an untrained policy) the shift is the plain one, and the policy says so.
    expect(pre.needsKeyCovariances()).toBe(true);
    expect(pre.keyPreconditionerReady).toBe(false);
    {
      const fresh = [new HiEditPolicy(model.modules, policyCfg(null)), new HiEditPolicy(model.modules, policyCfg(0.01))];
      for (const p of fresh) p.updateNormalizers(trace.features, { low: true, high: true });
      const [l0, l1] = fresh.map((p) => lefts(p, trace.features));
      for (const n of plain.moduleNames()) expect(Array.from(l1.get(n)!)).toEqual(Array.from(l0.get(n)!));
      for (const p of fresh) p.dispose();
    }
    pre.estimateKeyCovariances(model, reqs.slice(0, 3));
    huge.estimateKeyCovariances(model, reqs.slice(0, 3));
    expect(pre.needsKeyCovariances()).toBe(false);
    expect(pre.keyPreconditionerReady).toBe(true);
    for (const p of [plain, pre, huge]) p.updateNormalizers(trace.features, { low: true, high: true });
    const before = tf.memory().numTensors;
    const a = lefts(pre, trace.features);
    const b = lefts(pre, trace.features);
    const ref = lefts(plain, trace.features);
    const h = lefts(huge, trace.features);
    expect(tf.memory().numTensors).toBe(before);
    for (const n of plain.moduleNames()) {
      const [x, y, r, z] = [a.get(n)!, b.get(n)!, ref.get(n)!, h.get(n)!];
      expect(x.every(Number.isFinite)).toBe(true);
      expect(Array.from(x)).toEqual(Array.from(y));
      expect(frob(x)).toBeCloseTo(frob(r), 4);
      // lambda -> infinity: the preconditioner is a multiple of I, rescaled away
      const diff = Math.sqrt(z.reduce((s, v, i) => s + (v - r[i]) * (v - r[i]), 0)) / frob(r);
      expect(diff).toBeLessThan(1e-4);
      // a real lambda changes the direction (otherwise this feature would be a no-op)
      const diffPre = Math.sqrt(x.reduce((s, v, i) => s + (v - r[i]) * (v - r[i]), 0)) / frob(r);
      expect(diffPre).toBeGreaterThan(1e-2);
    }
    disposeFeatures(trace.features);
    for (const p of [plain, pre, huge]) p.dispose();
    model.dispose();
  });

  test("rescale 'response' keeps the edit's own response norm ||K left||_F; huge lambda again gives the plain shift", () => {
    const model = new ToyLM(SPEC);
    const reqs = toyRequests(4, SPEC.vocab, 27);
    const cfg = (lambda: number | null): PolicyConfigInput => ({ ...policyCfg(null, false), low: { rank: 3, blocks: 1, initEta: 0.05, ...(lambda === null ? {} : { keyPreconditioner: { lambda, rescale: 'response' as const } }) } });
    const plain = new HiEditPolicy(model.modules, cfg(null));
    const pre = new HiEditPolicy(model.modules, cfg(0.01));
    const huge = new HiEditPolicy(model.modules, cfg(1e9));
    pre.estimateKeyCovariances(model, reqs.slice(0, 3));
    huge.estimateKeyCovariances(model, reqs.slice(0, 3));
    const trace = model.trace(reqs[3].edit, plain.moduleNames());
    for (const p of [plain, pre, huge]) p.updateNormalizers(trace.features, { low: true, high: false });
    const before = tf.memory().numTensors;
    const [a, r, h] = [lefts(pre, trace.features), lefts(plain, trace.features), lefts(huge, trace.features)];
    expect(tf.memory().numTensors).toBe(before);
    for (const m of plain.modules) {
      const K = trace.features.get(m.name)!.keys;
      const resp = (left: Float32Array) => tf.tidy(() => Math.sqrt(tf.sum(tf.square(tf.matMul(K, tf.tensor2d(left, [m.dIn, left.length / m.dIn])))).dataSync()[0]));
      expect(resp(a.get(m.name)!) / resp(r.get(m.name)!)).toBeCloseTo(1, 4);
      const [z, y, x] = [h.get(m.name)!, r.get(m.name)!, a.get(m.name)!];
      expect(Math.sqrt(z.reduce((s, v, i) => s + (v - y[i]) * (v - y[i]), 0)) / frob(y)).toBeLessThan(1e-4);
      // not the Frobenius rescale: the factor's norm grows where C^-1 shrank the response
      expect(Math.abs(frob(x) / frob(y) - 1)).toBeGreaterThan(1e-2);
    }
    disposeFeatures(trace.features);
    for (const p of [plain, pre, huge]) p.dispose();
    model.dispose();
  });

  test.each(['frobenius', 'response'] as const)('the gradient flows through the preconditioned left factor, rescale %s (finite differences)', (rescale) => {
    const model = new ToyLM(SPEC);
    const reqs = toyRequests(3, SPEC.vocab, 25);
    const policy = new HiEditPolicy(model.modules, { ...policyCfg(0.05, false), low: { rank: 3, blocks: 1, initEta: 0.3, keyPreconditioner: { lambda: 0.05, rescale } } });
    policy.estimateKeyCovariances(model, reqs);
    const trace = model.trace(reqs[2].edit, policy.moduleNames());
    policy.updateNormalizers(trace.features, { low: true, high: false });
    // B starts at zero (the network is the identity there); move it so the keys depend on A
    const rng = new SeededRandom(26);
    for (const n of policy.params.names()) {
      const v = policy.params.get(n);
      tf.tidy(() => v.assign(tf.add(v, randomNormal(v.shape, rng.fork(n), 0.3))));
    }
    const probes = policy.modules.map((m, i) => randomNormal([m.dIn, trace.features.get(m.name)!.keys.shape[0]], rng.fork(`probe${i}`)));
    const f = (): tf.Scalar => {
      const out = policy.forward(trace.features);
      return out.shifts.reduce((acc: tf.Scalar, s, i) => tf.add(acc, tf.sum(tf.mul(s.left, probes[i]))) as tf.Scalar, tf.scalar(0));
    };
    const vars = policy.params.names().map((n) => policy.params.get(n));
    const { value, grads } = tf.variableGrads(f, vars);
    value.dispose();
    let checked = 0;
    for (const name of policy.lowParamNames().filter((n) => /block0\.A|logEta/.test(n))) {
      const v = policy.params.get(name);
      const g = grads[v.name].dataSync();
      for (const j of [0, Math.floor(v.size / 2), v.size - 1]) {
        const h = 1e-2;
        const at = (delta: number): number => {
          const buf = Float32Array.from(v.dataSync() as Float32Array);
          const orig = buf[j];
          buf[j] = orig + delta;
          tf.tidy(() => v.assign(tf.tensor(buf, v.shape)));
          const y = tf.tidy(() => f().dataSync()[0]);
          buf[j] = orig;
          tf.tidy(() => v.assign(tf.tensor(buf, v.shape)));
          return y;
        };
        // Richardson extrapolation of two central differences: O(h^4) truncation, so float32 rounding dominates
        const fd = (4 * (at(h / 2) - at(-h / 2)) / h - (at(h) - at(-h)) / (2 * h)) / 3;
        expect(Math.abs(fd - g[j])).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    Object.values(grads).forEach((t) => t.dispose());
    probes.forEach((t) => t.dispose());
    disposeFeatures(trace.features);
    policy.dispose();
    model.dispose();
  });

  test('training estimates C once from the base model, keeps it frozen, and a saved policy round-trips bitwise', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlh-kp-'));
    const model = new ToyLM(SPEC);
    const train = toyRequests(4, SPEC.vocab, 23);
    const expected = estimateKeyCovariances(model, model.modules.map((m) => m.name), covarianceTuples(train));
    const before = tf.memory().numTensors;
    const policy = new HiEditPolicy(model.modules, policyCfg(0.01));
    const trainer = new PolicyTrainer(model, policy, OPTS);
    const r = trainer.train(train);
    expect(r.status).toBe('done');
    trainer.dispose();
    const got = new Map(policy.keyCovariancesToHost().map((t) => [t.name.replace(/^keycov\./, ''), t.data] as const));
    for (const [n, c] of expected) expect(Array.from(got.get(n)!)).toEqual(Array.from(c));
    savePolicy(policy, dir);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, POLICY_JSON), 'utf8'));
    expect(manifest.version).toBe(POLICY_VERSION);
    expect(manifest.config.low.keyPreconditioner).toEqual({ lambda: 0.01, rescale: 'frobenius' });
    expect(manifest.keyCovariances).toEqual(model.modules.map((m) => m.name));
    const loaded = loadPolicy(dir, (n) => model.module(n));
    expect(loaded.keyCovariancesToHost().map((t) => Array.from(t.data))).toEqual(policy.keyCovariancesToHost().map((t) => Array.from(t.data)));
    const trace = model.trace(train[0].edit, policy.moduleNames());
    const x = lefts(policy, trace.features);
    const y = lefts(loaded, trace.features);
    for (const n of policy.moduleNames()) expect(Array.from(y.get(n)!)).toEqual(Array.from(x.get(n)!));
    disposeFeatures(trace.features);
    loaded.dispose();
    policy.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // a manifest that disagrees with the weights file is refused, naming the field
    fs.writeFileSync(path.join(dir, POLICY_JSON), JSON.stringify({ ...manifest, keyCovariances: [] }));
    expect(() => loadPolicy(dir)).toThrow(/field "keyCovariances" lists \[\]/);
    // covariances in a policy without a preconditioner are refused
    const { keyPreconditioner: _k, ...lowOff } = manifest.config.low;
    fs.writeFileSync(path.join(dir, POLICY_JSON), JSON.stringify({ ...manifest, config: { ...manifest.config, low: lowOff } }));
    expect(() => loadPolicy(dir)).toThrow(/no low\.keyPreconditioner/);
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('resume restores C from the training state: same weights as an uninterrupted run (RLEdit configuration)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlh-kp-state-'));
    const train: TokenizedEditRequest[] = toyRequests(4, SPEC.vocab, 24);
    const hostOf = (p: HiEditPolicy) => p.params.toHost().map((t) => Array.from(t.data));
    const m0 = new ToyLM(SPEC);
    const p0 = new HiEditPolicy(m0.modules, policyCfg(0.1, false));
    const t0 = new PolicyTrainer(m0, p0, OPTS);
    t0.train(train);
    const full = hostOf(p0);
    t0.dispose();
    p0.dispose();
    m0.dispose();
    const m1 = new ToyLM(SPEC);
    const p1 = new HiEditPolicy(m1.modules, policyCfg(0.1, false));
    const t1 = new PolicyTrainer(m1, p1, { ...OPTS, maxSteps: 2 });
    expect(t1.train(train).status).toBe('maxSteps');
    t1.saveState(dir);
    const c1 = p1.keyCovariancesToHost();
    t1.dispose();
    p1.dispose();
    const p2 = new HiEditPolicy(m1.modules, policyCfg(0.1, false));
    const t2 = new PolicyTrainer(m1, p2, OPTS);
    t2.loadState(dir);
    expect(p2.needsKeyCovariances()).toBe(false);
    expect(p2.keyCovariancesToHost().map((t) => Array.from(t.data))).toEqual(c1.map((t) => Array.from(t.data)));
    expect(t2.train(train).status).toBe('done');
    expect(hostOf(p2)).toEqual(full);
    t2.dispose();
    p2.dispose();
    m1.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
