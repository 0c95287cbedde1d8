import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { currentWeightsDigest, initBackend, tf } from '@hiedit/tensor-core';
import { DEFAULT_CALIBRATION } from '@hiedit/rl-hierarchy';
import { tinyGpt2, tupleTokenizer } from '../../test/tiny';
import {
  createEditor, EDITOR_JSON, editorFactory, HIEDIT_GATE_PRIOR_WEIGHT, HIEDIT_KEY_PRECONDITIONER, LifelongEditor, loadEditorDir, modelShapeInfo,
  PolicyEditor, saveEditorDir, tokenizeRequest, validateRequest,
} from '../index';
import { applySelection, hashedRanking, standardized } from './policy/selection';
import { disposeProposal } from '../editors/types';

beforeAll(async () => { await initBackend(); });

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-ablations-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** Four candidates of two shapes, so k = 2 of 4 and the rules have room to differ. */
const MODULES = ['h.0.mlp.c_fc', 'h.0.mlp.c_proj', 'h.1.mlp.c_fc', 'h.1.mlp.c_proj'];
const SMALL = { policy: { seed: 3, low: { rank: 4, initEta: 0.05 }, high: { hidden: 8 } }, trainer: { epochs: 1, backDepth: 2 } };
const REQUESTS = [
  { prompt: 'Alice plays the', target: 'violin' },
  { prompt: 'Bob lives in', target: 'Rome', paraphrases: ['Bob is from'], locality: [{ prompt: 'Dave speaks', answer: 'French' }] },
  { prompt: 'Carol speaks', target: 'German', locality: [{ prompt: 'Erin plays', answer: 'golf' }] },
  { prompt: 'Frank works at', target: 'Paris' },
];
const tokenized = (i: number) => tokenizeRequest(validateRequest(REQUESTS[i]), tupleTokenizer, `r${i}`);
const SHAPES = { modules: [{ name: 'a', dIn: 16, dOut: 64 }, { name: 'b', dIn: 16, dOut: 64 }], residual: 16 };
const POLICY_KINDS = ['hiedit', 'hiedit-reference', 'rledit', 'mend', 'random-k', 'fixed-k', 'all'];

describe('selection rules', () => {
  const tuple = tupleTokenizer('Alice plays the', 'violin');
  const gate = { scores: Float32Array.from([0.1, 0.9, 0.5, 0.2]), selected: [false, true, true, false] };

  test('gate keeps the gate\'s choice, all takes every module, fixed its modules first', () => {
    expect(applySelection({ rule: 'gate' }, MODULES, 2, tuple, gate).selected).toEqual([false, true, true, false]);
    expect(applySelection({ rule: 'all' }, MODULES, 2, tuple, gate).selected).toEqual([true, true, true, true]);
    const fixed = applySelection({ rule: 'fixed', modules: ['h.1.mlp.c_proj', 'h.0.mlp.c_fc'] }, MODULES, 2, tuple, gate);
    expect(fixed.selected).toEqual([true, false, false, true]);
    // The fallback order after the chosen ones: the rest in policy order, never the gate's ranking.
    expect(fixed.scores[3]).toBeGreaterThan(fixed.scores[0]);
    expect(fixed.scores[1]).toBeGreaterThan(fixed.scores[2]);
    expect(() => applySelection({ rule: 'fixed', modules: null }, MODULES, 2, tuple, gate)).toThrow(/no module choice yet/);
  });

  test('random: a seeded hash of the request picks k modules, the same for the same request and seed', () => {
    const a = applySelection({ rule: 'random', seed: 5 }, MODULES, 2, tuple, gate);
    expect(a.selected.filter(Boolean)).toHaveLength(2);
    expect(applySelection({ rule: 'random', seed: 5 }, MODULES, 2, tupleTokenizer('Alice plays the', 'violin'), gate)).toEqual(a);
    expect(hashedRanking(5, tuple, 4)).toEqual(hashedRanking(5, tuple, 4));
    // Other seeds and other requests pick other sets (over a few, not all the same).
    const sets = new Set<string>();
    for (let seed = 0; seed < 12; seed++) sets.add(String(applySelection({ rule: 'random', seed }, MODULES, 2, tuple, gate).selected));
    for (const [p, t] of [['Bob lives in', 'Rome'], ['Carol speaks', 'German'], ['Erin plays', 'golf']]) {
      sets.add(String(applySelection({ rule: 'random', seed: 5 }, MODULES, 2, tupleTokenizer(p, t), gate).selected));
    }
    expect(sets.size).toBeGreaterThan(2);
  });

  test('settings: the rule is the method\'s, its parameters are validated naming the field', () => {
    const r = editorFactory('random-k').resolveSettings(SHAPES, { selection: { seed: 9 } });
    expect(r.selection).toEqual({ rule: 'random', seed: 9 });
    expect(editorFactory('random-k').resolveSettings(SHAPES, {}).selection).toEqual({ rule: 'random', seed: 0 });
    expect(editorFactory('all').resolveSettings(SHAPES, {}).selection).toEqual({ rule: 'all' });
    expect(editorFactory('fixed-k').resolveSettings(SHAPES, {}).selection).toEqual({ rule: 'fixed', modules: null });
    expect(editorFactory('fixed-k').resolveSettings(SHAPES, { selection: { modules: ['b'] } }).selection).toEqual({ rule: 'fixed', modules: ['b'] });
    expect(() => editorFactory('fixed-k').resolveSettings(SHAPES, { selection: { modules: ['z'] } })).toThrow(/fixed-k settings: selection.modules names z/);
    expect(() => editorFactory('random-k').resolveSettings(SHAPES, { selection: { seed: -1 } })).toThrow(/selection.seed must be a non-negative integer/);
    expect(() => editorFactory('random-k').resolveSettings(SHAPES, { selection: { modules: ['a'] } })).toThrow(/unknown field\(s\) modules/);
    expect(() => editorFactory('random-k').resolveSettings(SHAPES, { selection: { rule: 'all' } })).toThrow(/selection.rule is "random"/);
    // The gate takes only a prior (session 9); the ablations' parameters are refused by name.
    expect(() => editorFactory('hiedit').resolveSettings(SHAPES, { selection: { seed: 1 } })).toThrow(/hiedit settings: selection.seed is for the ablations/);
    expect(() => editorFactory('rledit').resolveSettings(SHAPES, { selection: {} })).toThrow(/rledit shifts every edit module/);
    // hiedit's resolved settings carry the default gate prior (session 9); weight 0 records no selection (what
    // editor.json recorded before the rules existed), and stored settings without one read back without one.
    expect(editorFactory('hiedit').resolveSettings(SHAPES, {}).selection).toEqual({ rule: 'gate', prior: { weight: HIEDIT_GATE_PRIOR_WEIGHT, merits: null } });
    expect(editorFactory('hiedit').resolveSettings(SHAPES, { selection: { prior: { weight: 0 } } })).not.toHaveProperty('selection');
    const { selection: _s, ...stored } = editorFactory('hiedit').resolveSettings(SHAPES, {});
    expect(editorFactory('hiedit').readStoredSettings(SHAPES, stored)).not.toHaveProperty('selection');
    // Not for a gate it was not measured with (adaptive), nor for the other methods with a gate rule.
    expect(editorFactory('hiedit').resolveSettings(SHAPES, { policy: { high: { adaptive: true } } })).not.toHaveProperty('selection');
    expect(editorFactory('hiedit-reference').resolveSettings(SHAPES, {})).not.toHaveProperty('selection');
  });

  test('gate prior: z(gate) + weight * z(merits) picks the k best; weight 0 is no prior; fields validated', () => {
    expect(Array.from(standardized([1, 1, 1]))).toEqual([0, 0, 0]);
    const z = standardized([1, 2, 3]);
    expect(z[1]).toBeCloseTo(0, 12);
    expect(z[2]).toBeCloseTo(Math.sqrt(1.5), 12);
    // merits favour modules 0 and 3, the gate 1 and 2: a small weight keeps the gate's choice, a large one the merits'.
    const merits = [0.9, 0.2, 0.3, 0.8];
    expect(applySelection({ rule: 'gate', prior: { weight: 0.1, merits } }, MODULES, 2, tuple, gate).selected).toEqual([false, true, true, false]);
    expect(applySelection({ rule: 'gate', prior: { weight: 10, merits } }, MODULES, 2, tuple, gate).selected).toEqual([true, false, false, true]);
    // Between the two: the gate's best (module 1) and the prior's best (module 0).
    const mid = applySelection({ rule: 'gate', prior: { weight: 1, merits } }, MODULES, 2, tuple, gate);
    expect(mid.selected).toEqual([true, true, false, false]);
    expect(mid.scores[0]).toBeCloseTo(standardized(gate.scores)[0] + standardized(merits)[0], 6);
    // No merits yet (untrained): the gate alone.
    expect(applySelection({ rule: 'gate', prior: { weight: 1, merits: null } }, MODULES, 2, tuple, gate)).toEqual({ scores: gate.scores, selected: gate.selected });
    expect(() => applySelection({ rule: 'gate', prior: { weight: 1, merits: [1, 2] } }, MODULES, 2, tuple, gate)).toThrow(/2 merits for 4 modules/);
    const hiedit = editorFactory('hiedit');
    expect(hiedit.resolveSettings(SHAPES, { selection: { prior: { weight: 2 } } }).selection).toEqual({ rule: 'gate', prior: { weight: 2, merits: null } });
    expect(hiedit.resolveSettings(SHAPES, { selection: { prior: { weight: 0 } } })).not.toHaveProperty('selection');
    expect(hiedit.resolveSettings(SHAPES, { selection: { prior: { weight: 1, merits: [0.5, 0.25] } } }).selection)
      .toEqual({ rule: 'gate', prior: { weight: 1, merits: [0.5, 0.25] } });
    expect(() => hiedit.resolveSettings(SHAPES, { selection: { prior: { weight: -1 } } })).toThrow(/selection.prior.weight must be a finite number >= 0, got -1/);
    expect(() => hiedit.resolveSettings(SHAPES, { selection: { prior: { weight: 1, merits: [1] } } })).toThrow(/selection.prior.merits has 1 values for 2 edit modules/);
    expect(() => hiedit.resolveSettings(SHAPES, { selection: { prior: { weight: 1, merits: ['x', 1] } } })).toThrow(/selection.prior.merits must be an array of finite numbers/);
    expect(() => hiedit.resolveSettings(SHAPES, { selection: { prior: { weigth: 1 } } })).toThrow(/selection.prior: unknown field\(s\) weigth/);
  });

  test('the ablations train exactly like hiedit: the same settings but the selection rule', () => {
    const { selection: gateRule, ...h } = editorFactory('hiedit').resolveSettings(SHAPES, SMALL, { seed: 2 });
    expect(gateRule).toMatchObject({ rule: 'gate' });
    for (const kind of ['random-k', 'fixed-k', 'all']) {
      const { selection, ...rest } = editorFactory(kind).resolveSettings(SHAPES, SMALL, { seed: 2 });
      expect(selection).toBeDefined();
      expect(rest).toEqual(h);
      expect(editorFactory(kind).trainable).toBe(true);
    }
  });
});

describe('ablation editors on a tiny GPT-2', () => {
  const none = { ...SMALL, machinery: 'none' };

  test('random-k: the same request gets the same modules, whatever the policy; tensors back to baseline', () => {
    const model = tinyGpt2(4);
    const a = createEditor('random-k', model, MODULES, { ...none, selection: { seed: 1 } });
    const b = createEditor('random-k', model, MODULES, { ...none, selection: { seed: 1 }, policy: { ...SMALL.policy, seed: 8 } });
    const baseline = tf.memory().numTensors;
    const picks = [0, 1, 2, 3].map((i) => {
      const p = a.propose(model, tokenized(i));
      const q = a.propose(model, tokenized(i));
      const r = b.propose(model, tokenized(i));
      expect(q.selected).toEqual(p.selected);
      expect(r.selected).toEqual(p.selected);
      expect(p.selected).toHaveLength(2);
      const expected = applySelection({ rule: 'random', seed: 1 }, MODULES, 2, tokenized(i).edit, { scores: new Float32Array(4), selected: [] });
      expect(p.selected).toEqual(MODULES.filter((_, j) => expected.selected[j]));
      for (const x of [p, q, r]) disposeProposal(x);
      return p.selected.join();
    });
    expect(tf.memory().numTensors).toBe(baseline);
    expect(new Set(picks).size).toBeGreaterThan(1);
    a.dispose();
    b.dispose();
    model.dispose();
  });

  test('all: every candidate; with calibration a miss is skipped (no module left to fall back to)', () => {
    const model = tinyGpt2(4);
    const ed = createEditor('all', model, MODULES, none);
    const p = ed.propose(model, tokenized(0));
    expect(p.selected).toEqual(MODULES);
    disposeProposal(p);
    ed.dispose();
    const cal = createEditor('all', model, MODULES, { ...SMALL, machinery: { calibration: { maxStrength: 1, minStrength: 1, onMiss: 'next' } } });
    const q = cal.propose(model, tokenized(0));
    expect([0, MODULES.length]).toContain(q.selected.length);
    expect(q.tries).toBe(1);
    disposeProposal(q);
    cal.dispose();
    model.dispose();
  });

  test('fixed-k: chosen on the training split when training finishes, recorded in editor.json, reloaded', async () => {
    const model = tinyGpt2(5);
    const le = LifelongEditor.create({ model, kind: 'fixed-k', tokenize: tupleTokenizer, modules: MODULES, settings: none });
    expect(() => le.edit(REQUESTS[0])).toThrow(/no module choice yet/);
    const digest = currentWeightsDigest(model);
    const paused = await le.train(REQUESTS, { seed: 1, stopAfter: 2 });
    expect(paused.finished).toBe(false);
    expect((le.editor.settings() as unknown as { selection: unknown }).selection).toEqual({ rule: 'fixed', modules: null });
    const r = await le.train(REQUESTS, { seed: 1 });
    expect(r.finished).toBe(true);
    expect(currentWeightsDigest(model)).toBe(digest);
    const chosen = (le.editor.settings() as unknown as { selection: { modules: string[] } }).selection.modules;
    expect(chosen).toHaveLength(2);
    expect(new Set(chosen).size).toBe(2);
    for (const n of chosen) expect(MODULES).toContain(n);
    saveEditorDir(dir, le.editor, model);
    expect(JSON.parse(fs.readFileSync(path.join(dir, EDITOR_JSON), 'utf8')).settings.selection).toEqual({ rule: 'fixed', modules: chosen });
    const { editor } = loadEditorDir(dir, model);
    expect(editor.settings()).toEqual(le.editor.settings());
    for (const i of [0, 1, 2]) {
      const p = editor.propose(model, tokenized(i));
      expect([...p.selected].sort()).toEqual([...chosen].sort());
      disposeProposal(p);
    }
    editor.dispose();
    le.dispose();
    model.dispose();
  });

  test('hiedit with a gate prior: merits measured on the training split when training finishes, recorded, reloaded', async () => {
    const model = tinyGpt2(5);
    const settings = { ...none, selection: { prior: { weight: 1 } } };
    const le = LifelongEditor.create({ model, kind: 'hiedit', tokenize: tupleTokenizer, modules: MODULES, settings });
    // Untrained: no merits yet, the gate alone chooses (the same modules as without a prior).
    const untrained = createEditor('hiedit', model, MODULES, settings);
    const gateOnly = createEditor('hiedit', model, MODULES, { ...none, selection: { prior: { weight: 0 } } });
    const [a, b] = [untrained, gateOnly].map((e) => e.propose(model, tokenized(0)));
    expect(a.selected).toEqual(b.selected);
    for (const x of [a, b]) disposeProposal(x);
    untrained.dispose();
    gateOnly.dispose();
    const digest = currentWeightsDigest(model);
    const r = await le.train(REQUESTS, { seed: 1 });
    expect(r.finished).toBe(true);
    expect(currentWeightsDigest(model)).toBe(digest);
    const prior = (le.editor.settings() as unknown as { selection: { prior: { weight: number; merits: number[] } } }).selection.prior;
    expect(prior.weight).toBe(1);
    expect(prior.merits).toHaveLength(MODULES.length);
    for (const m of prior.merits) expect(m).toBeGreaterThanOrEqual(0);
    for (const m of prior.merits) expect(m).toBeLessThanOrEqual(1);
    saveEditorDir(dir, le.editor, model);
    const { editor } = loadEditorDir(dir, model);
    expect(editor.settings()).toEqual(le.editor.settings());
    const baseline = tf.memory().numTensors;
    for (const i of [0, 1, 2]) {
      const p = editor.propose(model, tokenized(i));
      // The reported scores are the combined ones, and the chosen modules are their k best.
      expect(Object.keys(p.scores)).toEqual(MODULES);
      expect(p.selected).toHaveLength(2);
      const chosen = p.selected.map((n) => p.scores[n]);
      const rest = MODULES.filter((n) => !p.selected.includes(n)).map((n) => p.scores[n]);
      expect(Math.min(...chosen)).toBeGreaterThanOrEqual(Math.max(...rest));
      disposeProposal(p);
    }
    expect(tf.memory().numTensors).toBe(baseline);
    editor.dispose();
    le.dispose();
    model.dispose();
  });

  test('noop: applies nothing, leaves the weights bit for bit and the tensor count as they were; no training', async () => {
    const model = tinyGpt2(6);
    const digest = currentWeightsDigest(model);
    const le = LifelongEditor.create({ model, kind: 'noop', tokenize: tupleTokenizer });
    const baseline = tf.memory().numTensors;
    for (const r of REQUESTS) expect(le.edit(r).selected).toEqual([]);
    expect(tf.memory().numTensors).toBe(baseline);
    expect(currentWeightsDigest(model)).toBe(digest);
    expect(editorFactory('noop').trainable).toBe(false);
    await expect(le.editor.train(model, [], { seed: 1 })).rejects.toThrow(/noop has no training phase/);
    expect(() => editorFactory('noop').resolveSettings(SHAPES, { steps: 2 })).toThrow(/noop settings: unknown field\(s\) steps/);
    saveEditorDir(dir, le.editor, model);
    expect(loadEditorDir(dir, model).editor.kind).toBe('noop');
    le.dispose();
    model.dispose();
  });
});

describe('edit-time machinery: one group of options every policy editor accepts', () => {
  test('each policy editor takes "hiedit", "none" and the parts; hiedit\'s default is the "hiedit" preset', () => {
    const hiedit = editorFactory('hiedit');
    expect(hiedit.resolveSettings(SHAPES, { machinery: 'hiedit' }, { seed: 1 })).toEqual(hiedit.resolveSettings(SHAPES, {}, { seed: 1 }));
    for (const kind of POLICY_KINDS) {
      const f = editorFactory(kind);
      const on = f.resolveSettings(SHAPES, { machinery: 'hiedit' }) as unknown as Record<string, any>;
      expect(on.policy.low.keyPreconditioner).toEqual(HIEDIT_KEY_PRECONDITIONER);
      expect(on.policy.low.factorSpace).toBe('module');
      const calibration = on.trainer.mode === 'reference' ? on.editCalibration : on.trainer.calibration;
      expect(calibration).toEqual(DEFAULT_CALIBRATION);
      const off = f.resolveSettings(SHAPES, { machinery: 'none' }) as unknown as Record<string, any>;
      expect(off.policy.low.keyPreconditioner).toBeUndefined();
      expect(off.policy.low.factorSpace).toBeUndefined();
      expect(off.trainer.calibration).toBeNull();
      expect(off.editCalibration).toBeUndefined();
      const parts = f.resolveSettings(SHAPES, { machinery: { calibration: { onMiss: 'skip' } } }) as unknown as Record<string, any>;
      expect((parts.trainer.calibration ?? parts.editCalibration).onMiss).toBe('skip');
      expect(parts.policy.low.keyPreconditioner).toBeUndefined();
    }
  });

  test('today\'s defaults stand: rledit, mend and hiedit-reference have none of it unless asked', () => {
    for (const kind of ['rledit', 'mend', 'hiedit-reference']) {
      const r = editorFactory(kind).resolveSettings(SHAPES, {}) as unknown as Record<string, any>;
      expect(r.trainer.calibration).toBeNull();
      expect(r.policy.low.keyPreconditioner).toBeUndefined();
      expect(r).not.toHaveProperty('editCalibration');
      expect(editorFactory(kind).resolveSettings(SHAPES, { machinery: 'none' })).toEqual(r);
    }
  });

  test('errors name the field; machinery and the single fields are not given together', () => {
    const f = editorFactory('rledit');
    expect(() => f.resolveSettings(SHAPES, { machinery: 'most' })).toThrow(/rledit settings: machinery must be one of "hiedit", "none"/);
    expect(() => f.resolveSettings(SHAPES, { machinery: { keyPreconditioner: 3 } })).toThrow(/machinery.keyPreconditioner must be an object/);
    expect(() => f.resolveSettings(SHAPES, { machinery: { strength: 1 } })).toThrow(/machinery: unknown field\(s\) strength/);
    expect(() => f.resolveSettings(SHAPES, { machinery: { calibration: { margin: -1 } } })).toThrow(/calibration.margin must be a finite number >= 0/);
    expect(() => f.resolveSettings(SHAPES, { machinery: 'hiedit', trainer: { calibration: true } })).toThrow(/either as "machinery" or as trainer.calibration/);
    // hiedit's own default still lets single fields turn single parts off, as documented.
    const h = editorFactory('hiedit').resolveSettings(SHAPES, { trainer: { calibration: null } }) as unknown as Record<string, any>;
    expect(h.trainer.calibration).toBeNull();
    expect(h.policy.low.keyPreconditioner).toEqual(HIEDIT_KEY_PRECONDITIONER);
  });

  test('a reference-mode editor calibrates at edit time only, and its stored settings read back', () => {
    const model = tinyGpt2(7);
    const modules = ['h.0.mlp.c_proj', 'h.1.mlp.c_proj'];
    const f = editorFactory('hiedit-reference');
    const s = f.resolveSettings(modelShapeInfo(model, modules), { ...SMALL, trainer: {}, machinery: { calibration: true } });
    expect(s.trainer).toMatchObject({ mode: 'reference', calibration: null });
    expect(s.editCalibration).toEqual(DEFAULT_CALIBRATION);
    const ed = f.create(model, modules, s) as PolicyEditor;
    expect(ed.editCalibration).toEqual(DEFAULT_CALIBRATION);
    const p = ed.propose(model, tokenized(0));
    expect(p.tries).toBeGreaterThanOrEqual(1);
    disposeProposal(p);
    saveEditorDir(dir, ed, model);
    expect(loadEditorDir(dir, model).editor.settings()).toEqual(s);
    ed.dispose();
    model.dispose();
  });
});
