import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, initBackend, SeededRandom } from '@hiedit/tensor-core';
import type { EditableModel, TokenizedEditRequest, TokenizedTuple, TracePositions } from '@hiedit/tensor-core';
import { HiEditPolicy, PolicyTrainer } from '@hiedit/rl-hierarchy';
import { sampleModuleSets, reinforceGateLoss } from '../src/trainer/gate-reinforce';
import type { PolicyConfigInput, TrainerOptions } from '@hiedit/rl-hierarchy';
import { ToyLM, toyRequests } from './toy-lm';
import { expectGateTargetGradients, perturb } from './gate-target-check';

beforeAll(async () => {
  await initBackend();
});

const SPEC = { vocab: 11, dim: 6, ffn: 8, seed: 3 };

/**
 * The toy LM with every edit module but `live` disconnected from edits: shifts of the others change nothing, so
 * exactly one module can make an edit hold (its traces are the real model's, so the gate sees real features).
 */
class OneLiveModule implements EditableModel {
  constructor(private readonly lm: ToyLM, private readonly live: string) {}
  get modules() {
    return this.lm.modules;
  }
  module(name: string) {
    return this.lm.module(name);
  }
  trace(tuple: TokenizedTuple, modules: readonly string[], positions?: TracePositions) {
    return this.lm.trace(tuple, modules, positions);
  }
  private only(shifts?: ReadonlyMap<string, tf.Tensor2D>): ReadonlyMap<string, tf.Tensor2D> | undefined {
    const s = shifts?.get(this.live);
    return s ? new Map([[this.live, s]]) : undefined;
  }
  lossUnderShifts(tuples: readonly TokenizedTuple[], shifts?: ReadonlyMap<string, tf.Tensor2D>) {
    return this.lm.lossUnderShifts(tuples, this.only(shifts));
  }
  logProbsUnderShifts(tuples: readonly TokenizedTuple[], shifts?: ReadonlyMap<string, tf.Tensor2D>) {
    return this.lm.logProbsUnderShifts(tuples, this.only(shifts));
  }
  addShift(name: string, delta: tf.Tensor2D, scale?: number) {
    if (name === this.live) this.lm.addShift(name, delta, scale);
  }
  readWeight(name: string) {
    return this.lm.readWeight(name);
  }
  writeWeight(name: string, value: tf.Tensor2D) {
    this.lm.writeWeight(name, value);
  }
}

const POLICY: PolicyConfigInput = { low: { rank: 3, blocks: 1, initEta: 0.3 }, high: { hidden: 6, k: 1 }, seed: 5 };
const OPTS: Partial<TrainerOptions> = { epochs: 4, updateEvery: 1, backDepth: 2, metaLr: 3e-2, seed: 9, patience: 10, gateTarget: 'reinforce', reinforceSamples: 4 };

function hostParams(policy: HiEditPolicy): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const p of policy.params.toHost()) out[p.name] = Array.from(p.data);
  return out;
}

/** Share of `requests` for which the policy's gate ranks module `live` first (from the base model). */
function firstRate(model: EditableModel, policy: HiEditPolicy, requests: readonly TokenizedEditRequest[], live: string): number {
  let hits = 0;
  for (const r of requests) {
    const trace = model.trace(r.edit, policy.moduleNames());
    const edit = policy.computeEdit(trace.features);
    if (edit.mask.selected[policy.moduleNames().indexOf(live)]) hits++;
    for (const s of edit.shifts.values()) if (s.kind === 'lowRank') { s.left.dispose(); s.right.dispose(); }
    for (const f of trace.features.values()) { f.keys.dispose(); f.valueGrads.dispose(); }
  }
  return hits / requests.length;
}

/** Train on the toy problem where only `live` edits; the gate's rate of choosing it before and after, and the policy bits. */
function trainOneLive(opts: Partial<TrainerOptions>, train: readonly TokenizedEditRequest[], probe: readonly TokenizedEditRequest[], live = 'mlp.down') {
  const lm = new ToyLM(SPEC);
  const model = new OneLiveModule(lm, live);
  const policy = new HiEditPolicy(model.modules, POLICY);
  const trainer = new PolicyTrainer(model, policy, { ...OPTS, ...opts });
  const before = firstRate(model, policy, probe, live);
  trainer.train(train, []);
  const after = firstRate(model, policy, probe, live);
  const params = hostParams(policy);
  trainer.dispose();
  policy.dispose();
  lm.dispose();
  return { before, after, params };
}

describe('sampling module sets from the gate', () => {
  test('Gumbel-top-k draws k distinct modules, seeded, at the softmax rates', () => {
    const scores = [2, 0, 0, -1];
    const a = sampleModuleSets(scores, 2, 3000, new SeededRandom(4));
    expect(sampleModuleSets(scores, 2, 3000, new SeededRandom(4))).toEqual(a);
    expect(a.every((s) => s.length === 2 && s[0] !== s[1] && s.every((i) => Number.isInteger(i) && i >= 0 && i < 4))).toBe(true);
    // first draw ~ softmax(scores); second draw of module 1 after module 0: softmax over the rest
    const z = scores.map(Math.exp);
    const total = z.reduce((x, y) => x + y, 0);
    const first0 = a.filter((s) => s[0] === 0).length / a.length;
    expect(Math.abs(first0 - z[0] / total)).toBeLessThan(0.03);
    const after0 = a.filter((s) => s[0] === 0);
    const then1 = after0.filter((s) => s[1] === 1).length / after0.length;
    expect(Math.abs(then1 - z[1] / (total - z[0]))).toBeLessThan(0.04);
    expect(() => sampleModuleSets(scores, 5, 1, new SeededRandom(0))).toThrow(/k must be in 1\.\.4, got 5/);
  });

  test('the surrogate has the Plackett-Luce score-function gradient, weighted by the advantages', () => {
    const g = [0.3, -0.2, 1.1, 0.4];
    const target = { kind: 'reinforce' as const, samples: [[2, 0], [1, 3]], advantages: [0.5, -1.5] };
    const got = tf.tidy(() => Array.from(tf.grad((s: tf.Tensor) => reinforceGateLoss(s as tf.Tensor1D, target))(tf.tensor1d(g)).dataSync()));
    // host: d log P(i1, i2) / dg = e_i1 - softmax(g) + e_i2 - softmax(g without i1)
    const want = new Array(4).fill(0);
    target.samples.forEach((seq, s) => {
      const drawn = new Set<number>();
      for (const i of seq) {
        const avail = [0, 1, 2, 3].filter((m) => !drawn.has(m));
        const z = avail.reduce((acc, m) => acc + Math.exp(g[m]), 0);
        for (const m of avail) want[m] -= (target.advantages[s] * Math.exp(g[m])) / z / target.samples.length;
        want[i] += target.advantages[s] / target.samples.length;
        drawn.add(i);
      }
    });
    got.forEach((x, i) => expect(x).toBeCloseTo(want[i], 5));
  });
});

describe("gateTarget 'reinforce'", () => {
  const train = toyRequests(12, SPEC.vocab, 60);
  const probe = toyRequests(20, SPEC.vocab, 61);

  test('on a toy problem where one module alone can make an edit hold, the gate learns to put it first', () => {
    const numTensors = tf.memory().numTensors;
    // the same untrained gate (same policy seed) cannot prefer both modules: it learns which one edits
    for (const live of ['mlp.down', 'layers.1.proj']) {
      const r = trainOneLive({}, train, probe, live);
      expect(tf.memory().numTensors).toBe(numTensors);
      expect(r.before).toBeLessThan(0.5);
      expect(r.after).toBeGreaterThanOrEqual(0.9);
    }
  });

  test('same seed, same policy bits; another seed samples other sets', () => {
    const small = train.slice(0, 5);
    const a = trainOneLive({ epochs: 1 }, small, probe.slice(0, 2));
    const b = trainOneLive({ epochs: 1 }, small, probe.slice(0, 2));
    expect(b.params).toEqual(a.params);
    const c = trainOneLive({ epochs: 1, seed: 10, shuffle: false }, small, probe.slice(0, 2));
    const d = trainOneLive({ epochs: 1, seed: 11, shuffle: false }, small, probe.slice(0, 2));
    expect(d.params['high.gate.W']).not.toEqual(c.params['high.gate.W']);
  });

  test('the gate gets exactly the surrogate gradient; the low level that of the hard-masked losses', () => {
    const target = { kind: 'reinforce' as const, samples: [[1, 3], [0, 1]], advantages: [0.7, -0.7] };
    expectGateTargetGradients(SPEC, { ...POLICY, high: { hidden: 6, k: 2 } }, OPTS, target, (scores) => reinforceGateLoss(scores, target), (p) => perturb(p, 18, 0.2));
  });

  test('under calibration and with the all-modules baseline it trains, and a resumed run ends where an uninterrupted one does', () => {
    const small = train.slice(0, 4);
    const calibration = { minStrength: 1 / 16, maxStrength: 16, margin: 0, tolerance: 0.25, onMiss: 'skip' as const };
    const opts = { epochs: 2, calibration, reinforceBaseline: 'all' as const, reinforceSamples: 1 };
    const numTensors = tf.memory().numTensors;
    const full = trainOneLive(opts, small, probe.slice(0, 1));
    expect(tf.memory().numTensors).toBe(numTensors);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlh-reinforce-'));
    const lm1 = new ToyLM(SPEC);
    const p1 = new HiEditPolicy(lm1.modules, POLICY);
    const t1 = new PolicyTrainer(new OneLiveModule(lm1, 'mlp.down'), p1, { ...OPTS, ...opts, maxSteps: 5 });
    expect(t1.train(small).status).toBe('maxSteps');
    t1.saveState(dir);
    for (const x of [t1, p1, lm1]) x.dispose();
    const lm2 = new ToyLM(SPEC);
    const p2 = new HiEditPolicy(lm2.modules, POLICY);
    const t2 = new PolicyTrainer(new OneLiveModule(lm2, 'mlp.down'), p2, { ...OPTS, ...opts });
    t2.loadState(dir);
    expect(t2.train(small).status).toBe('done');
    expect(hostParams(p2)).toEqual(full.params);
    for (const x of [t2, p2, lm2]) x.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('options are validated with the field named', () => {
    const model = new ToyLM(SPEC);
    const policy = new HiEditPolicy(model.modules, POLICY);
    const make = (o: Partial<TrainerOptions>) => () => new PolicyTrainer(model, policy, o);
    expect(make({ gateTarget: 'oracle' as never })).toThrow(/trainer options: gateTarget must be 'straightThrough', 'counterfactual' or 'reinforce', got oracle/);
    expect(make({ mode: 'reference', gateTarget: 'reinforce' })).toThrow(/gateTarget 'reinforce' is a hiedit-mode option/);
    expect(make({ gateTarget: 'reinforce', reinforceSamples: 0 })).toThrow(/reinforceSamples must be a positive integer, got 0/);
    expect(make({ gateTarget: 'reinforce', reinforceSamples: 2.5 })).toThrow(/reinforceSamples must be a positive integer/);
    expect(make({ gateTarget: 'reinforce', reinforceSamples: 1 })).toThrow(/reinforceSamples must be at least 2 with reinforceBaseline 'mean'/);
    expect(make({ gateTarget: 'reinforce', reinforceBaseline: 'max' as never })).toThrow(/reinforceBaseline must be 'mean' or 'all', got max/);
    expect(make({ gateTarget: 'reinforce', reinforceSamples: 1, reinforceBaseline: 'all' })).not.toThrow();
    const adaptive = new HiEditPolicy(model.modules, { ...POLICY, high: { hidden: 6, adaptive: true } });
    expect(() => new PolicyTrainer(model, adaptive, { gateTarget: 'reinforce' })).toThrow(/gateTarget 'reinforce' trains a top-k gate/);
    adaptive.dispose();
    policy.dispose();
    model.dispose();
  });
});

describe('gateLr: the high level learns at its own rate', () => {
  const train = toyRequests(12, SPEC.vocab, 60);
  const probe = toyRequests(20, SPEC.vocab, 61);
  const changed = (a: Record<string, number[]>, b: Record<string, number[]>, prefix: string) =>
    Object.keys(a).filter((n) => n.startsWith(prefix) && JSON.stringify(a[n]) !== JSON.stringify(b[n]));

  test('null trains exactly as metaLr; 0 freezes the gate and leaves the low level as it was; its own rate moves only the gate', () => {
    const small = train.slice(0, 5);
    const opts = { epochs: 1, gateTarget: 'counterfactual' as const };
    const init = trainOneLive({ ...opts, metaLr: 0, gateLr: 0 }, small, probe.slice(0, 1)).params;
    const same = trainOneLive(opts, small, probe.slice(0, 1)).params;
    expect(trainOneLive({ ...opts, gateLr: null }, small, probe.slice(0, 1)).params).toEqual(same);
    expect(trainOneLive({ ...opts, gateLr: OPTS.metaLr }, small, probe.slice(0, 1)).params).toEqual(same);
    const frozen = trainOneLive({ ...opts, gateLr: 0 }, small, probe.slice(0, 1)).params;
    expect(changed(frozen, init, 'high.gate.')).toEqual([]);
    // counterfactual targets reach the low level through the hard mask only: with the gate frozen at init it follows
    // the same selections, so its parameters need not equal `same`'s; they did move
    expect(changed(frozen, init, 'low.').length).toBeGreaterThan(0);
    const fast = trainOneLive({ ...opts, gateLr: 10 * OPTS.metaLr! }, small, probe.slice(0, 1)).params;
    const step = (p: Record<string, number[]>) => Math.max(...p['high.gate.W'].map((v, i) => Math.abs(v - init['high.gate.W'][i])));
    expect(step(fast)).toBeGreaterThan(3 * step(same));
  });

  test('a faster gate learns the one live module where metaLr alone does not', () => {
    const slow = { epochs: 2, metaLr: 1e-4, gateTarget: 'counterfactual' as const };
    const numTensors = tf.memory().numTensors;
    const without = trainOneLive(slow, train, probe);
    const withGate = trainOneLive({ ...slow, gateLr: 3e-2 }, train, probe);
    expect(tf.memory().numTensors).toBe(numTensors);
    expect(without.after).toBeLessThan(0.9);
    expect(withGate.after).toBeGreaterThanOrEqual(0.9);
  });

  test('is validated with the field named', () => {
    const model = new ToyLM(SPEC);
    const policy = new HiEditPolicy(model.modules, POLICY);
    expect(() => new PolicyTrainer(model, policy, { gateLr: -1 })).toThrow(/trainer options: gateLr must be null or a finite non-negative number, got -1/);
    expect(() => new PolicyTrainer(model, policy, { gateLr: '0.1' as never })).toThrow(/gateLr must be null or a finite non-negative number, got "0\.1"/);
    policy.dispose();
    model.dispose();
  });
});
