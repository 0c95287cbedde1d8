import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '@hiedit/tensor-core';
import { DEFAULT_TRAINER_OPTIONS, HiEditPolicy } from '@hiedit/rl-hierarchy';
import { tinyGpt2, tupleTokenizer } from '../test/tiny';
import { defaultEditModules, createEditor, EDITOR_JSON, loadEditorDir, saveEditorDir, tokenizeRequest, validateRequest } from './index';

beforeAll(async () => { await initBackend(); });

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-settings-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const POLICY = { low: { rank: 4 }, high: { hidden: 8 } };

function policyParams(editor: unknown): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const p of (editor as { policy: HiEditPolicy }).policy.params.toHost()) out[p.name] = Array.from(p.data);
  return out;
}

describe('policy editor settings', () => {
  test('settings() records every resolved trainer option (defaults and preset included), not only the user\'s', () => {
    const model = tinyGpt2(4);
    const modules = defaultEditModules(model);
    const hiedit = createEditor('hiedit', model, modules, { policy: POLICY, trainer: { gamma: 0.5 } });
    const t = hiedit.settings().trainer as Record<string, unknown>;
    // every option but the seed, which each train() call takes from the run
    expect(Object.keys(t).sort()).toEqual(Object.keys(DEFAULT_TRAINER_OPTIONS).filter((k) => k !== 'seed').sort());
    expect(t).toMatchObject({ gamma: 0.5, mode: 'hiedit', backDepth: DEFAULT_TRAINER_OPTIONS.backDepth, epochs: DEFAULT_TRAINER_OPTIONS.epochs });
    for (const k of ['maxSteps', 'checkpoint', 'onProgress', 'seed']) expect(t).not.toHaveProperty(k);
    const mend = createEditor('mend', model, modules, { policy: { low: { rank: 4 } } });
    expect(mend.settings().trainer).toMatchObject({ backDepth: 1, accumulateEdits: false, computeBaseline: false });
    hiedit.dispose();
    mend.dispose();
    model.dispose();
  });

  test("hiedit takes the REINFORCE gate target and its options through its settings, validated by rl-hierarchy", () => {
    const model = tinyGpt2(4);
    const modules = defaultEditModules(model);
    const trainer = { gateTarget: 'reinforce' as const, reinforceSamples: 3, reinforceBaseline: 'all' as const };
    const hiedit = createEditor('hiedit', model, modules, { policy: POLICY, trainer });
    expect(hiedit.settings().trainer).toMatchObject(trainer);
    expect(() => createEditor('hiedit', model, modules, { policy: POLICY, trainer: { gateTarget: 'reinforce', reinforceBaseline: 'best' as never } }))
      .toThrow(/trainer options: reinforceBaseline must be 'mean' or 'all', got best/);
    expect(() => createEditor('hiedit', model, modules, { policy: POLICY, trainer: { gateTarget: 'reinforce', reinforceSamples: 1 } }))
      .toThrow(/reinforceSamples must be at least 2 with reinforceBaseline 'mean'/);
    hiedit.dispose();
    model.dispose();
  });

  test('hiedit-reference zeroes the low-level gradient each step for the MEND-style low level only (spec §5)', () => {
    const model = tinyGpt2(4);
    const modules = defaultEditModules(model);
    const ref = createEditor('hiedit-reference', model, modules, { policy: POLICY });
    expect(ref.settings().trainer).toMatchObject({ mode: 'reference', metaLr: 1e-5, zeroLowLevelGradEachStep: true });
    const malmen = createEditor('hiedit-reference', model, modules, { policy: { ...POLICY, low: { rank: 4, style: 'malmen' } } });
    expect(malmen.settings().trainer).toMatchObject({ mode: 'reference', zeroLowLevelGradEachStep: false });
    const own = createEditor('hiedit-reference', model, modules, { policy: POLICY, trainer: { zeroLowLevelGradEachStep: false } });
    expect(own.settings().trainer).toMatchObject({ zeroLowLevelGradEachStep: false });
    ref.dispose();
    malmen.dispose();
    own.dispose();
    model.dispose();
  });

  test('the trainer of hiedit-reference really runs with the zeroed low-level gradient (saved run options)', async () => {
    const model = tinyGpt2(4);
    const ref = createEditor('hiedit-reference', model, defaultEditModules(model), { policy: POLICY });
    const req = tokenizeRequest(validateRequest({ prompt: 'Alice plays the', target: 'violin' }), tupleTokenizer, 'r1');
    const ckpt = path.join(dir, 'ckpt');
    const r = await ref.train(model, [req, { ...req, id: 'r2' }], { seed: 1, checkpointDir: ckpt, stopAfter: 1 });
    expect(r.finished).toBe(false);
    const state = JSON.parse(fs.readFileSync(path.join(ckpt, 'train-state.json'), 'utf8'));
    expect(state.options.zeroLowLevelGradEachStep).toBe(true);
    expect(state.options.mode).toBe('reference');
    ref.dispose();
    model.dispose();
  });

  test('an editor.json written with the old (user-only) trainer settings still loads and then resolves fully', () => {
    const model = tinyGpt2(5);
    const editor = createEditor('hiedit', model, defaultEditModules(model), { policy: { ...POLICY, seed: 3 } });
    const d = path.join(dir, 'old');
    saveEditorDir(d, editor, model);
    const file = path.join(d, EDITOR_JSON);
    const desc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const full = desc.settings.trainer;
    expect(full.backDepth).toBe(DEFAULT_TRAINER_OPTIONS.backDepth);
    // what settings() used to write: only the user's options plus the size-scaled metaLr
    fs.writeFileSync(file, JSON.stringify({ ...desc, settings: { ...desc.settings, trainer: { metaLr: full.metaLr } } }));
    const { editor: loaded } = loadEditorDir(d, model);
    // Options the old file lacks take DEFAULT_TRAINER_OPTIONS. Calibration, a HiEdit creation default since session 4,
    // is off there, as it was for every editor written before it existed.
    expect(full.calibration).not.toBeNull();
    // Likewise the gate target: an editor written before it existed trained its gate by straight-through; and before
    // gateLr existed the gate learned at metaLr (null).
    expect(full.gateTarget).toBe('counterfactual');
    expect(full.gateLr).toBe(1e-3);
    expect(loaded.settings().trainer).toEqual({ ...full, calibration: null, gateTarget: 'straightThrough', gateLr: null });
    expect(policyParams(loaded)).toEqual(policyParams(editor));
    editor.dispose();
    loaded.dispose();
    model.dispose();
  });

  test('policy.seed decides the initial policy: two seeds differ, the same seed is identical', () => {
    const model = tinyGpt2(6);
    const modules = defaultEditModules(model);
    const before = tf.memory().numTensors;
    const make = (seed: number) => createEditor('hiedit', model, modules, { policy: { ...POLICY, seed } });
    const [a, b, c] = [make(1), make(1), make(2)];
    expect(policyParams(a)).toEqual(policyParams(b));
    expect(policyParams(c)).not.toEqual(policyParams(a));
    expect((a.settings().policy as { seed: number }).seed).toBe(1);
    for (const e of [a, b, c]) e.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
