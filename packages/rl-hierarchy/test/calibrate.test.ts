import { tf, initBackend, IGNORE_INDEX } from '@hiedit/tensor-core';
import type { EditFeatures, ParameterShift, TokenizedTuple } from '@hiedit/tensor-core';
import {
  calibrateScale, calibrateSelection, DEFAULT_CALIBRATION, disposeShifts, HiEditPolicy, PolicyTrainer, resolveCalibration, resolvePolicyConfig, scaleShifts,
} from '@hiedit/rl-hierarchy';
import type { CalibrationSettings, PolicyEdit } from '@hiedit/rl-hierarchy';
import { ToyLM, toyRequests } from './toy-lm';

beforeAll(async () => {
  await initBackend();
});

const SPEC = { vocab: 11, dim: 6, ffn: 8, seed: 3 };

function disposeFeatures(f: Map<string, EditFeatures>): void {
  for (const x of f.values()) {
    x.keys.dispose();
    x.valueGrads.dispose();
  }
}

/** Smallest margin of the answer tokens over their best competitor under W + scale * shift (host-side reference). */
function margin(model: ToyLM, tuple: TokenizedTuple, shifts: Map<string, tf.Tensor2D>, scale: number): number {
  const scaled = new Map([...shifts].map(([n, d]) => [n, tf.mul(d, scale) as tf.Tensor2D]));
  const lp = model.logProbsUnderShifts([tuple], scaled);
  const rows = lp.arraySync();
  lp.dispose();
  for (const t of scaled.values()) t.dispose();
  const labels = tuple.labels.filter((l) => l !== IGNORE_INDEX);
  return Math.min(...labels.map((l, i) => rows[i][l] - Math.max(...rows[i].filter((_, j) => j !== l))));
}

/** The plain gradient shift -K^T G of `modules` for `tuple`. */
function gradientShifts(model: ToyLM, tuple: TokenizedTuple, modules: string[]): Map<string, ParameterShift> {
  const tr = model.trace(tuple, modules, 'all');
  const out = new Map<string, ParameterShift>();
  for (const [n, f] of tr.features) out.set(n, { kind: 'dense', delta: tf.tidy(() => tf.neg(tf.matMul(f.keys, f.valueGrads, true, false)) as tf.Tensor2D) });
  disposeFeatures(tr.features);
  return out;
}

describe('edit-strength calibration', () => {
  let model: ToyLM;
  let reqs: ReturnType<typeof toyRequests>;
  beforeAll(() => {
    model = new ToyLM(SPEC);
    reqs = toyRequests(12, SPEC.vocab, 21);
  });
  afterAll(() => model.dispose());

  test('finds the smallest strength (to the tolerance) at which the edit holds with the margin; nothing leaks', () => {
    const settings: CalibrationSettings = { ...DEFAULT_CALIBRATION, margin: 0.3, tolerance: 0.1, minStrength: 2 ** -20, maxStrength: 2 ** 20 };
    let checked = 0;
    for (const r of reqs) {
      const shifts = gradientShifts(model, r.edit, ['mlp.down', 'layers.1.proj']);
      const dense = new Map([...shifts].map(([n, s]) => [n, (s as { delta: tf.Tensor2D }).delta]));
      const before = tf.memory().numTensors;
      const c = calibrateScale(model, r.edit, shifts, settings);
      expect(tf.memory().numTensors).toBe(before);
      if (margin(model, r.edit, dense, 0) >= settings.margin) {
        // already holds without any shift: the search goes all the way down
        expect(c.scale).toBe(settings.minStrength);
      } else if (!c.holds) {
        // a miss is only allowed when the bound itself does not hold (tanh saturates in the toy model)
        expect(margin(model, r.edit, dense, settings.maxStrength)).toBeLessThan(settings.margin);
      } else {
        expect(margin(model, r.edit, dense, c.scale)).toBeGreaterThanOrEqual(settings.margin);
        // one tolerance step lower does not hold: the strength is minimal to the tolerance
        expect(margin(model, r.edit, dense, c.scale * 2 ** -settings.tolerance)).toBeLessThan(settings.margin);
        expect(c.forwards).toBeLessThan(20);
        checked++;
      }
      disposeShifts(shifts);
    }
    expect(checked).toBeGreaterThanOrEqual(3); // otherwise the test could not fail
  });

  test("an edit that cannot hold within the range is skipped ('skip') or applied at the bound ('max')", () => {
    const r = reqs[0];
    const shifts = gradientShifts(model, r.edit, ['mlp.down']);
    const tight = { ...DEFAULT_CALIBRATION, margin: 1e6 }; // no strength reaches a margin of a million nats
    expect(calibrateScale(model, r.edit, shifts, { ...tight, onMiss: 'skip' })).toMatchObject({ scale: 0, holds: false });
    expect(calibrateScale(model, r.edit, shifts, { ...tight, onMiss: 'max' })).toMatchObject({ scale: tight.maxStrength, holds: false });
    expect(calibrateScale(model, r.edit, new Map(), DEFAULT_CALIBRATION)).toMatchObject({ scale: 0, holds: false });
    disposeShifts(shifts);
  });

  test("calibrateSelection: 'next' walks the gate's ranking in sets of k until one holds; 'skip' and 'max' stay with the gate's choice", () => {
    const settings: CalibrationSettings = { ...DEFAULT_CALIBRATION, margin: 0.3, minStrength: 2 ** -20, maxStrength: 2 ** 20 };
    const mods = ['layers.0.proj', 'layers.1.proj', 'mlp.down'];
    // a request the unedited model does not already answer, whose mlp.down gradient makes it hold
    const r = reqs.find((q) => {
      const g = gradientShifts(model, q.edit, ['mlp.down']);
      const d = new Map([...g].map(([n, s]) => [n, (s as { delta: tf.Tensor2D }).delta]));
      const ok = margin(model, q.edit, d, 0) < settings.margin && calibrateScale(model, q.edit, g, settings).holds;
      disposeShifts(g);
      return ok;
    });
    expect(r).toBeDefined();
    const make = (selected: boolean[]): PolicyEdit => {
      const g = gradientShifts(model, r!.edit, ['mlp.down']);
      const zero = (n: string): ParameterShift => ({ kind: 'dense', delta: tf.zeros([model.module(n).dIn, model.module(n).dOut]) as tf.Tensor2D });
      // layers.0.proj is the gate's choice and layers.1.proj its second: both zero shifts, which never hold
      const shifts = new Map<string, ParameterShift>([['layers.0.proj', zero('layers.0.proj')], ['layers.1.proj', zero('layers.1.proj')], ['mlp.down', g.get('mlp.down')!]]);
      return { shifts, mask: { modules: mods, scores: Float32Array.from([0.9, 0.5, 0.1]), selected } };
    };
    const edit = make([true, false, false]);
    const alone = calibrateScale(model, r!.edit, new Map([['mlp.down', edit.shifts.get('mlp.down')!]]), settings);
    const before = tf.memory().numTensors;
    const next = calibrateSelection(model, r!.edit, edit, { ...settings, onMiss: 'next' });
    expect(tf.memory().numTensors).toBe(before);
    expect(next).toMatchObject({ selected: ['mlp.down'], tries: 3, holds: true, scale: alone.scale });
    expect(calibrateSelection(model, r!.edit, edit, { ...settings, onMiss: 'skip' })).toMatchObject({ selected: [], tries: 1, scale: 0 });
    expect(calibrateSelection(model, r!.edit, edit, { ...settings, onMiss: 'max' })).toMatchObject({ selected: ['layers.0.proj'], scale: settings.maxStrength, holds: false });
    disposeShifts(edit.shifts);
    // k = 2: the gate's pair misses, the remaining module (a smaller last set) holds
    const pair = make([true, true, false]);
    expect(calibrateSelection(model, r!.edit, pair, { ...settings, onMiss: 'next' })).toMatchObject({ selected: ['mlp.down'], tries: 2 });
    disposeShifts(pair.shifts);
    // every module selected (no gate): nothing to fall back to
    const all = make([true, true, true]);
    expect(calibrateSelection(model, r!.edit, all, { ...settings, onMiss: 'next' })).toMatchObject({ selected: mods, tries: 1, holds: true });
    disposeShifts(all.shifts);
  });

  test('scaleShifts scales dense and low-rank shifts in place, releasing the originals', () => {
    const shifts = new Map<string, ParameterShift>([
      ['a', { kind: 'dense', delta: tf.tensor2d([[1, 2]]) }],
      ['b', { kind: 'lowRank', left: tf.tensor2d([[1], [2]]), right: tf.tensor2d([[3]]) }],
    ]);
    const before = tf.memory().numTensors;
    scaleShifts(shifts, 0.5);
    expect(tf.memory().numTensors).toBe(before);
    expect((shifts.get('a') as { delta: tf.Tensor }).delta.arraySync()).toEqual([[0.5, 1]]);
    const b = shifts.get('b') as { left: tf.Tensor; right: tf.Tensor };
    expect(tf.matMul(b.left as tf.Tensor2D, b.right as tf.Tensor2D).arraySync()).toEqual([[1.5], [3]]);
    disposeShifts(shifts);
  });

  test('settings are validated with the field named', () => {
    expect(resolveCalibration(undefined)).toBeNull();
    expect(resolveCalibration(false)).toBeNull();
    expect(resolveCalibration(true)).toEqual(DEFAULT_CALIBRATION);
    expect(resolveCalibration({ margin: 2 })).toEqual({ ...DEFAULT_CALIBRATION, margin: 2 });
    expect(() => resolveCalibration({ margins: 2 })).toThrow(/unknown calibration field\(s\) margins/);
    expect(() => resolveCalibration({ margin: -1 })).toThrow(/calibration.margin/);
    expect(() => resolveCalibration({ maxStrength: 0.5 })).toThrow(/minStrength <= 1 <= maxStrength/);
    expect(() => resolveCalibration({ tolerance: 0 })).toThrow(/calibration.tolerance/);
    expect(() => resolveCalibration({ onMiss: 'drop' })).toThrow(/onMiss must be one of "skip", "max", "next"/);
    expect(resolveCalibration({ onMiss: 'next' })?.onMiss).toBe('next');
    expect(() => resolveCalibration(3, 'x')).toThrow(/^x: calibration must be/);
  });

  test('trainer: calibrated training runs, is seeded, and releases every tensor; reference mode refuses it', () => {
    const run = () => {
      const policy = new HiEditPolicy(model.modules, { low: { rank: 3, blocks: 1, initEta: 0.05, factorSpace: 'module' }, high: { hidden: 6, k: 2 }, seed: 5 });
      const before = tf.memory().numTensors;
      const trainer = new PolicyTrainer(model, policy, { epochs: 1, updateEvery: 2, backDepth: 2, metaLr: 1e-2, seed: 4, calibration: true as unknown as CalibrationSettings });
      trainer.train(reqs, []);
      trainer.dispose();
      expect(tf.memory().numTensors).toBe(before);
      const w = policy.params.names().map((n) => Array.from(policy.params.get(n).dataSync()));
      policy.dispose();
      return w;
    };
    expect(run()).toEqual(run());
    const p = new HiEditPolicy(model.modules, { low: { rank: 3, blocks: 1 }, high: null, seed: 1 });
    expect(() => new PolicyTrainer(model, p, { mode: 'reference', calibration: DEFAULT_CALIBRATION })).toThrow(/calibration is a hiedit-mode option/);
    p.dispose();
  });
});

describe("low.factorSpace 'module'", () => {
  let model: ToyLM;
  let reqs: ReturnType<typeof toyRequests>;
  beforeAll(() => {
    model = new ToyLM(SPEC);
    reqs = toyRequests(4, SPEC.vocab, 8);
  });
  afterAll(() => model.dispose());

  test('an identity network gives the module\'s own gradient -eta K^T G once the normalizer has statistics', () => {
    const mods = ['mlp.down', 'mlp.up'];
    const policy = new HiEditPolicy(model.modules.filter((m) => mods.includes(m.name)), { low: { rank: 3, blocks: 2, initEta: 0.1, factorSpace: 'module' }, high: null, seed: 2 });
    for (const r of reqs.slice(1)) {
      const t = model.trace(r.edit, mods, 'all');
      policy.updateNormalizers(t.features, { low: true, high: false });
      disposeFeatures(t.features);
    }
    const t = model.trace(reqs[0].edit, mods, 'all');
    const edit = policy.computeEdit(t.features);
    for (const n of mods) {
      const f = t.features.get(n)!;
      const expected = tf.tidy(() => tf.mul(tf.matMul(f.keys, f.valueGrads, true, false), -0.1));
      const got = tf.tidy(() => { const s = edit.shifts.get(n)!; return s.kind === 'dense' ? s.delta.clone() : tf.matMul(s.left, s.right); });
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]);
      const scale = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]);
      expect(scale).toBeGreaterThan(0);
      expect(err).toBeLessThan(1e-4 * scale);
      expected.dispose();
      got.dispose();
    }
    disposeShifts(edit.shifts);
    disposeFeatures(t.features);
    policy.dispose();
  });

  test('is recorded only when set, and refused for the MALMEN style', () => {
    expect(resolvePolicyConfig({}, 2).low.factorSpace).toBeUndefined();
    expect(resolvePolicyConfig({ low: { factorSpace: 'normalized' } }, 2).low.factorSpace).toBeUndefined();
    expect(resolvePolicyConfig({ low: { factorSpace: 'module' } }, 2).low.factorSpace).toBe('module');
    expect(() => resolvePolicyConfig({ low: { factorSpace: 'raw' as never } }, 2)).toThrow(/low.factorSpace must be/);
    expect(() => resolvePolicyConfig({ low: { factorSpace: 'module', style: 'malmen' } }, 2)).toThrow(/'mend' shift style only/);
  });
});
