import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, initBackend, klDivergence } from '@hiedit/tensor-core';
import type { TokenizedEditRequest } from '@hiedit/tensor-core';
import { HiEditPolicy, PolicyTrainer, presetTrainerOptions, presetPolicyConfig } from '@hiedit/rl-hierarchy';
import { localityReference, windowWeights } from '../src/loss';
import type { PolicyConfigInput, TrainerOptions, TrainProgress, WindowItem } from '@hiedit/rl-hierarchy';
import { ToyLM, toyRequests } from './toy-lm';
import { expectGateTargetGradients, perturb } from './gate-target-check';

// the package default backend (wasm here); it must be initialized before any tensor is made
beforeAll(async () => {
  await initBackend();
});

const SPEC = { vocab: 11, dim: 6, ffn: 8, seed: 3 };
const POLICY: PolicyConfigInput = { low: { rank: 3, blocks: 1, initEta: 0.05 }, high: { hidden: 6, k: 2 }, seed: 5 };
const BASE_OPTS: Partial<TrainerOptions> = { epochs: 2, updateEvery: 2, backDepth: 3, metaLr: 1e-2, seed: 9, patience: 5 };

function hostParams(policy: HiEditPolicy): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const p of policy.params.toHost()) out[p.name] = Array.from(p.data);
  return out;
}

function run(opts: Partial<TrainerOptions>, train: TokenizedEditRequest[], val: TokenizedEditRequest[] = [], policyCfg = POLICY) {
  const model = new ToyLM(SPEC);
  const policy = new HiEditPolicy(model.modules, policyCfg);
  const trainer = new PolicyTrainer(model, policy, { ...BASE_OPTS, ...opts });
  const result = trainer.train(train, val);
  const params = hostParams(policy);
  trainer.dispose();
  policy.dispose();
  model.dispose();
  return { result, params };
}

describe('hiedit-mode gradients', () => {
  test('finite differences confirm the policies get the gradient of gen + loc + reg through W + mask*dW', () => {
    const model = new ToyLM(SPEC);
    const reqs = toyRequests(3, SPEC.vocab, 17);
    const policy = new HiEditPolicy(model.modules, { ...POLICY, low: { rank: 3, blocks: 1, initEta: 0.3 } });
    const opts = { ...BASE_OPTS, locCoef: 0.7, regCoef: 0.05, gamma: 0.8 };
    const trainer = new PolicyTrainer(model, policy, opts);
    // one earlier edit already in the weights, as in a trajectory
    const earlier = model.trace(reqs[0].edit, policy.moduleNames());
    const e0 = policy.computeEdit(earlier.features, { updateLowNormalizers: true, updateHighNormalizers: true });
    for (const [n, s] of e0.shifts) if (s.kind === 'lowRank') tf.tidy(() => model.addShift(n, tf.matMul(s.left, s.right)));
    const trace = model.trace(reqs[2].edit, policy.moduleNames());
    policy.updateNormalizers(trace.features, { low: true, high: true });
    perturb(policy, 18, 0.2);
    const window = reqs.slice(0, 3);
    const w = windowWeights(3, 0.8);
    const pBefore = localityReference(model, window);
    const items: WindowItem[] = window.map((r, i) => ({ request: r, weight: w[i], pBefore: pBefore[i] }));
    const step = trainer.hieditGradients(trace.features, items);

    // independent objective: hard mask (or its straight-through surrogate for the gate), dense shifts, the
    // model's own losses; written here without the trainer's loss code
    const gate0 = tf.tidy(() => Array.from(policy.high!.scores(trace.features).dataSync()));
    // the hard selection at the evaluation point: a perturbation must not flip it (the gradient is that of
    // the straight-through surrogate hard0 + g - g0, which is what the gate is meant to receive)
    const hard0 = (() => {
      const e = policy.computeEdit(trace.features);
      for (const s of e.shifts.values()) if (s.kind === 'lowRank') { s.left.dispose(); s.right.dispose(); }
      return e.mask.selected.slice();
    })();
    const objective = (): number =>
      tf.tidy(() => {
        const edit = policy.computeEdit(trace.features);
        const g = Array.from(policy.high!.scores(trace.features).dataSync());
        const shifts = new Map<string, tf.Tensor2D>();
        let reg = 0;
        policy.moduleNames().forEach((n, i) => {
          const s = edit.shifts.get(n)!;
          const m = (hard0[i] ? 1 : 0) + (g[i] - gate0[i]);
          const d = s.kind === 'lowRank' ? tf.mul(tf.matMul(s.left, s.right), m) : s.delta;
          reg += tf.sum(tf.mul(d, d)).dataSync()[0];
          shifts.set(n, d as tf.Tensor2D);
          if (s.kind === 'lowRank') {
            s.left.dispose();
            s.right.dispose();
          }
        });
        let total = opts.regCoef * reg;
        window.forEach((r, i) => {
          total += w[i] * model.lossUnderShifts(r.paraphrases, shifts).dataSync()[0];
          total += opts.locCoef * w[i] * klDivergence(pBefore[i]!, model.logProbsUnderShifts(r.locality, shifts)).dataSync()[0];
        });
        return total;
      });
    expect(Math.abs(objective() - step.loss)).toBeLessThan(1e-4 * Math.abs(step.loss));

    const probe = policy.computeEdit(trace.features);
    const selectedGroups = new Set(policy.modules.filter((_, i) => probe.mask.selected[i]).map((m) => `${m.dIn}x${m.dOut}`));
    for (const s of probe.shifts.values()) if (s.kind === 'lowRank') { s.left.dispose(); s.right.dispose(); }
    expect(selectedGroups.size).toBeGreaterThan(0);
    const h = 1e-2;
    let checked = 0;
    let skipped = 0;
    for (const name of policy.params.names()) {
      const grad = step.grads.get(name);
      expect(grad).toBeDefined();
      const g = grad!.dataSync() as Float32Array;
      let idx = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[idx])) idx = i;
      // every parameter must receive a gradient in this mode (the gate's too), except the low-level
      // networks of groups whose modules are all unselected (mask 0 multiplies their shift)
      const group = name.split('.')[1];
      const needed = name.startsWith('high.') || selectedGroups.has(group);
      if (!needed) {
        expect({ name, zero: Math.abs(g[idx]) === 0 }).toEqual({ name, zero: true });
        skipped++;
        continue;
      }
      expect({ name, receives: Math.abs(g[idx]) > 1e-4 }).toEqual({ name, receives: true });
      const v = policy.params.get(name);
      const orig = Float32Array.from(v.dataSync() as Float32Array);
      const at = (delta: number): number => {
        const x = orig.slice();
        x[idx] += delta;
        tf.tidy(() => v.assign(tf.tensor(x, v.shape)));
        return objective();
      };
      // step sized so the objective moves by ~1e-2 at most: large enough for float32, small enough that
      // higher-order terms (and ReLU kinks in the encoder) stay out of the difference
      const dx = Math.min(h, 1e-2 / Math.abs(g[idx]));
      const fd = (at(dx) - at(-dx)) / (2 * dx);
      tf.tidy(() => v.assign(tf.tensor(orig, v.shape)));
      // float32 objective ~1: central differences are good to ~1e-5 absolute here
      const ok = Math.abs(fd - g[idx]) <= 3e-2 * Math.abs(g[idx]) + 1e-4;
      if (!ok) console.log('FD mismatch', name, idx, fd, g[idx]);
      expect({ name, ok, fd, ad: g[idx] }).toMatchObject({ name, ok: true });
      checked++;
    }
    expect(checked).toBe(policy.params.names().length - skipped);
    expect(checked).toBeGreaterThanOrEqual(10);
    expect(step.grads.has('high.gate.W')).toBe(true);

    // reference mode: the chain-rule trick gives the same low-level gradient; the gate only sees the regularizer
    const edit = policy.computeEdit(trace.features);
    const ref = trainer.referenceGradients(trace.features, items, edit);
    for (const name of policy.lowParamNames()) {
      const a = step.grads.get(name)!.dataSync();
      const b = ref.grads.get(name)!.dataSync();
      let num = 0, den = 0;
      for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(a[i])); }
      expect(num).toBeLessThanOrEqual(1e-3 * den + 1e-7);
    }
    const gateRef = ref.grads.get('high.gate.W')!.dataSync();
    const gateHi = step.grads.get('high.gate.W')!.dataSync();
    expect(Array.from(gateRef)).not.toEqual(Array.from(gateHi));
    for (const s of [step, ref]) for (const t of s.grads.values()) t.dispose();
    for (const s of [...edit.shifts.values(), ...e0.shifts.values()]) if (s.kind === 'lowRank') { s.left.dispose(); s.right.dispose(); }
    for (const t of [...trace.features.values(), ...earlier.features.values()]) { t.keys.dispose(); t.valueGrads.dispose(); }
    pBefore.forEach((p) => p?.dispose());
    trainer.dispose();
    policy.dispose();
    model.dispose();
  });
});

describe("gateTarget 'counterfactual'", () => {
  test('the gate gets exactly the gradient of the target cross-entropy; the low level that of the hard-masked losses', () => {
    const target = Float32Array.from([0, 0.5, 0, 0.5]);
    expectGateTargetGradients(SPEC, { ...POLICY, low: { rank: 3, blocks: 1, initEta: 0.3 } }, { ...BASE_OPTS, gateTarget: 'counterfactual' }, target,
      (scores) => tf.neg(tf.sum(tf.mul(tf.tensor1d(target), tf.logSoftmax(scores)))) as tf.Scalar, (p) => perturb(p, 18, 0.2));
  });

  test('training with it is seeded, learns and leaks nothing; reference mode and adaptive k refuse it', () => {
    const train = toyRequests(5, SPEC.vocab, 40);
    const before = tf.memory().numTensors;
    const a = run({ gateTarget: 'counterfactual', calibration: { minStrength: 1 / 16, maxStrength: 16, margin: 0, tolerance: 0.25, onMiss: 'max' } }, train);
    expect(tf.memory().numTensors).toBe(before);
    const b = run({ gateTarget: 'counterfactual', calibration: { minStrength: 1 / 16, maxStrength: 16, margin: 0, tolerance: 0.25, onMiss: 'max' } }, train);
    expect(b.params).toEqual(a.params);
    const st = run({ calibration: { minStrength: 1 / 16, maxStrength: 16, margin: 0, tolerance: 0.25, onMiss: 'max' } }, train);
    expect(st.params['high.gate.W']).not.toEqual(a.params['high.gate.W']);
    const model = new ToyLM(SPEC);
    const policy = new HiEditPolicy(model.modules, POLICY);
    expect(() => new PolicyTrainer(model, policy, { mode: 'reference', gateTarget: 'counterfactual' })).toThrow(/'counterfactual' is a hiedit-mode option/);
    expect(() => new PolicyTrainer(model, policy, { gateTarget: 'oracle' as never })).toThrow(/gateTarget must be 'straightThrough', 'counterfactual' or 'reinforce'/);
    const adaptive = new HiEditPolicy(model.modules, { ...POLICY, high: { hidden: 6, adaptive: true } });
    expect(() => new PolicyTrainer(model, adaptive, { gateTarget: 'counterfactual' })).toThrow(/does not train an adaptive-k threshold/);
    adaptive.dispose();
    policy.dispose();
    model.dispose();
  });
});

describe('training', () => {
  const train = toyRequests(5, SPEC.vocab, 40);
  const val = toyRequests(2, SPEC.vocab, 41);

  test('deterministic: the same seed gives bitwise identical policy weights; it learns and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const events: TrainProgress[] = [];
    const a = run({ onProgress: (e) => events.push(e) }, train, val);
    expect(tf.memory().numTensors).toBe(before);
    const b = run({}, train, val);
    expect(b.params).toEqual(a.params);
    const c = run({ seed: 10 }, train, val);
    expect(c.params).not.toEqual(a.params);
    const init = (() => {
      const m = new ToyLM(SPEC);
      const p = new HiEditPolicy(m.modules, POLICY);
      const h = hostParams(p);
      p.dispose();
      m.dispose();
      return h;
    })();
    expect(a.params).not.toEqual(init);
    const steps = events.filter((e) => e.kind === 'step') as Extract<TrainProgress, { kind: 'step' }>[];
    expect(steps.length).toBe(10);
    expect(steps.every((s) => s.selected.length === 2 && Number.isFinite(s.loss) && s.advantage !== undefined)).toBe(true);
    expect(steps.filter((s) => s.updated).length).toBe(4);
    expect(events.filter((e) => e.kind === 'epoch' && e.validation !== undefined).length).toBe(2);
  });

  test('resume: stop at step s, resume from the saved state => same weights as uninterrupted', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlh-state-'));
    const full = run({}, train, val);
    const m1 = new ToyLM(SPEC);
    const p1 = new HiEditPolicy(m1.modules, POLICY);
    const t1 = new PolicyTrainer(m1, p1, { ...BASE_OPTS, maxSteps: 7 });
    expect(t1.train(train, val).status).toBe('maxSteps');
    // paused: the model is back at its base weights, the trajectory is held by the trainer
    const fresh = new ToyLM(SPEC);
    for (const m of m1.modules) {
      const [a, b] = [m1.readWeight(m.name), fresh.readWeight(m.name)];
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      a.dispose();
      b.dispose();
    }
    fresh.dispose();
    t1.saveState(dir);
    t1.dispose();
    p1.dispose();
    m1.dispose();
    const m2 = new ToyLM(SPEC);
    const p2 = new HiEditPolicy(m2.modules, { ...POLICY, seed: 999 }); // weights come from the state
    expect(() => new PolicyTrainer(m2, p2, BASE_OPTS).loadState(dir)).toThrow(/policy configuration differs/);
    p2.dispose();
    const p2b = new HiEditPolicy(m2.modules, POLICY);
    expect(() => new PolicyTrainer(m2, p2b, { ...BASE_OPTS, backDepth: 4 }).loadState(dir)).toThrow(/saved run used backDepth = 3/);
    // a version-1 state (raw eta, Adam moments of that parametrization) is refused, not resumed wrongly
    const stateFile = path.join(dir, 'train-state.json');
    const stateText = fs.readFileSync(stateFile, 'utf8');
    expect(JSON.parse(stateText).version).toBe(2);
    fs.writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(stateText), version: 1 }));
    expect(() => new PolicyTrainer(m2, p2b, BASE_OPTS).loadState(dir)).toThrow(/train-state\.json: field "version" is 1, this build resumes only version 2/);
    fs.writeFileSync(stateFile, stateText);
    // every run-defining option is compared, not only a chosen few; the stop point and checkpointing are not
    expect(() => new PolicyTrainer(m2, p2b, { ...BASE_OPTS, locCoef: 0.5 }).loadState(dir)).toThrow(/saved run used locCoef = 1, this trainer has 0\.5/);
    expect(() => new PolicyTrainer(m2, p2b, { ...BASE_OPTS, regCoef: 0.5 }).loadState(dir)).toThrow(/saved run used regCoef = 0\.01/);
    const saved = JSON.parse(stateText);
    expect(typeof saved.elapsedSeconds).toBe('number');
    expect(saved.elapsedSeconds).toBeGreaterThan(0);
    // the earlier sessions' time is carried over: pretend the first session took 1000 s
    fs.writeFileSync(stateFile, JSON.stringify({ ...saved, elapsedSeconds: 1000 }));
    p2b.dispose();
    const p3 = new HiEditPolicy(m2.modules, POLICY);
    const t3 = new PolicyTrainer(m2, p3, { ...BASE_OPTS, maxSteps: 100 });
    t3.loadState(dir);
    const r = t3.train(train, val);
    expect(r.status).toBe('done');
    expect(r.steps).toBe(10);
    expect(r.seconds).toBeGreaterThanOrEqual(1000);
    expect(r.seconds).toBeLessThan(1000 + 600);
    expect(hostParams(p3)).toEqual(full.params);
    t3.dispose();
    p3.dispose();
    m2.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('reference mode: Adam steps once per epoch; MEND and RLEdit presets run with the same trainer', () => {
    const before = tf.memory().numTensors;
    const events: TrainProgress[] = [];
    const ref = run({ ...presetTrainerOptions('hiedit-reference'), metaLr: 1e-2, onProgress: (e) => events.push(e) }, train);
    const steps = events.filter((e) => e.kind === 'step') as Extract<TrainProgress, { kind: 'step' }>[];
    expect(steps.length).toBe(5);
    expect(steps.some((s) => s.updated)).toBe(false);
    const init = run({ epochs: 1, metaLr: 0 }, train).params;
    expect(ref.params).not.toEqual(init);
    for (const kind of ['rledit', 'mend'] as const) {
      const ev: TrainProgress[] = [];
      run({ ...presetTrainerOptions(kind), epochs: 1, onProgress: (e) => ev.push(e) }, train, [], presetPolicyConfig(kind, POLICY));
      const st = ev.filter((e) => e.kind === 'step') as Extract<TrainProgress, { kind: 'step' }>[];
      expect(st.every((s) => s.selected.length === 4)).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  test('adaptive k with the sparsity reward, MALMEN style, checkpoints, and the MEND-variant reference schedule', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlh-ckpt-'));
    const before = tf.memory().numTensors;
    const events: TrainProgress[] = [];
    const cfg: PolicyConfigInput = { low: { style: 'malmen', rank: 3, blocks: 1, initEta: 0.05 }, high: { hidden: 6, adaptive: true, beta: 0.5, minK: 1, maxK: 3 }, seed: 5 };
    const a = run({ epochs: 1, checkpoint: { dir, everySteps: 2 }, onProgress: (e) => events.push(e) }, train, [], cfg);
    const steps = events.filter((e) => e.kind === 'step') as Extract<TrainProgress, { kind: 'step' }>[];
    expect(steps.every((s) => s.selected.length >= 1 && s.selected.length <= 3)).toBe(true);
    expect(events.filter((e) => e.kind === 'checkpoint').map((e) => (e as { step: number }).step)).toEqual([2, 4]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).length).toBe(1); // older states are removed
    expect(Object.keys(a.params)).toContain('high.threshold');
    // the reference preset zeroes the low-level gradient each step exactly for the MEND-style low level (spec §5)
    expect(presetTrainerOptions('hiedit-reference').zeroLowLevelGradEachStep).toBe(true);
    expect(presetTrainerOptions('hiedit-reference', 'mend').zeroLowLevelGradEachStep).toBe(true);
    expect(presetTrainerOptions('hiedit-reference', 'malmen').zeroLowLevelGradEachStep).toBe(false);
    const plain = run({ ...presetTrainerOptions('hiedit-reference', 'malmen'), metaLr: 1e-2 }, train);
    const mendVariant = run({ ...presetTrainerOptions('hiedit-reference', 'mend'), metaLr: 1e-2 }, train);
    const lowDiffers = Object.keys(plain.params).filter((n) => n.startsWith('low.') && JSON.stringify(plain.params[n]) !== JSON.stringify(mendVariant.params[n]));
    expect(lowDiffers.length).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('bad input is refused clearly', () => {
    const model = new ToyLM(SPEC);
    const policy = new HiEditPolicy(model.modules, POLICY);
    expect(() => new PolicyTrainer(model, policy, { backDepth: 0 })).toThrow(/backDepth must be a positive integer/);
    const trainer = new PolicyTrainer(model, policy, BASE_OPTS);
    const bad = [{ ...train[0], edit: { ids: [1, 2], labels: [-100, -100] } }];
    expect(() => trainer.train(bad)).toThrow(/training stream\[0\].*edit has no label positions/);
    // a poisoned policy stops training with a clear error naming the request, and leaks nothing
    const eta = policy.params.get('low.6x6.logEta');
    tf.tidy(() => eta.assign(tf.fill(eta.shape, NaN)));
    const n0 = tf.memory().numTensors;
    expect(() => trainer.train(train)).toThrow(/training request "req\d+" \(epoch 0, position 0\): non-finite policy gradient/);
    expect(tf.memory().numTensors).toBe(n0);
    const other = new HiEditPolicy([{ name: 'nope', dIn: 6, dOut: 6, layer: 0 }], { high: null });
    expect(() => new PolicyTrainer(model, other)).toThrow(/module nope, which the model does not have/);
    other.dispose();
    trainer.dispose();
    policy.dispose();
    model.dispose();
  });
});
