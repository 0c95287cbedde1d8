import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '@hiedit/tensor-core';
import { DEFAULT_TRAINER_OPTIONS, EditorKind, presetTrainerOptions, presetUsesHighLevel } from '@hiedit/rl-hierarchy';
import { tinyGpt2 } from '../../test/tiny';
import { createEditor, defaultEditModules, hieditFactory, mendFactory, EDITOR_JSON, editorFactory, editorKinds, loadEditorDir, modelShapeInfo, saveEditorDir } from '../index';
import { HIEDIT_REFERENCE } from './hiedit-reference/settings';
import { MEND } from './mend/settings';
import { RLEDIT } from './rledit/settings';
import { HIEDIT, readStored as readStoredHiedit, resolve as resolveHiedit } from './hiedit/settings';

beforeAll(async () => { await initBackend(); });

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-methods-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** The shapes of the world-model-like tiny GPT-2's default edit modules, without a model. */
const SHAPES = { modules: [{ name: 'a', dIn: 16, dOut: 64 }, { name: 'b', dIn: 16, dOut: 64 }], residual: 16 };

describe('method settings', () => {
  test('the run\'s seed becomes policy.seed unless the settings give one; methods without a policy ignore it', () => {
    // (moved from the benchmark runner's editorSettingsWithSeed test, which the factories' resolve replaces)
    const hiedit = hieditFactory;
    expect(hiedit.resolveSettings(SHAPES, { policy: { seed: 7, low: { rank: 2 } } }, { seed: 4 }).policy).toMatchObject({ seed: 7, low: { rank: 2 } });
    const seeded = hiedit.resolveSettings(SHAPES, { policy: { low: { rank: 2 } }, checkpointEvery: 3 }, { seed: 4 });
    expect(seeded.policy).toMatchObject({ seed: 4, low: { rank: 2 } });
    expect(seeded.checkpointEvery).toBe(3);
    expect(hiedit.resolveSettings(SHAPES, {}).policy).toMatchObject({ seed: 0 });
    const ft = editorFactory('ft').resolveSettings(SHAPES, { steps: 2 }, { seed: 4 });
    expect(ft).toEqual({ settingsVersion: 1, steps: 2, lr: 3e-2, relNorm: 1, maxNorm: 0, earlyStop: true });
    expect(() => hiedit.resolveSettings(SHAPES, { policy: 3 }, { seed: 4 })).toThrow(/field "policy" must be an object/);
    expect(() => hiedit.resolveSettings(SHAPES, { trainer: [] })).toThrow(/field "trainer" must be an object/);
    expect(() => hiedit.resolveSettings(SHAPES, { trainer: { gamma: -1 } })).toThrow(/hiedit settings: trainer options: gamma/);
    expect(() => editorFactory('ft').resolveSettings(SHAPES, { lr: 0 })).toThrow(/ft settings: lr must be a positive number/);
    expect(() => editorFactory('ft').resolveSettings(SHAPES, { steps: 1e12, earlyStop: false }))
      .toThrow(/^ft settings: steps must be at most 10000 \(the default is 40\), got 1000000000000$/);
    expect(editorFactory('ft').resolveSettings(SHAPES, { steps: 10_000 }).steps).toBe(10_000);
  });

  test('resolve is pure and plain JSON: the same input gives the same object, which survives a JSON round trip', () => {
    for (const kind of editorKinds()) {
      const f = editorFactory(kind);
      const a = f.resolveSettings(SHAPES, {}, { seed: 2 });
      expect(a.settingsVersion).toBe(1);
      expect(f.resolveSettings(SHAPES, {}, { seed: 2 })).toEqual(a);
      expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    }
    expect(resolveHiedit({}, SHAPES)).toEqual(editorFactory('hiedit').resolveSettings(SHAPES, {}));
  });

  test('the resolved trainer options are complete (every option but the run\'s seed) and take the method\'s preset', () => {
    const r = mendFactory.resolveSettings(SHAPES, { trainer: { gamma: 0.5 } });
    expect(Object.keys(r.trainer).sort()).toEqual(Object.keys(DEFAULT_TRAINER_OPTIONS).filter((k) => k !== 'seed').sort());
    expect(r.trainer).toMatchObject({ gamma: 0.5, backDepth: 1, accumulateEdits: false, computeBaseline: false });
    expect(r.policy.high).toBeNull();
    // A gated method always has a gate, even when the settings turn it off.
    expect(hieditFactory.resolveSettings(SHAPES, { policy: { high: null } }).policy.high).not.toBeNull();
    // The reference schedule's values when a user asks for reference mode, as the trainer merges them.
    expect(editorFactory('rledit').resolveSettings(SHAPES, { trainer: { mode: 'reference' } }).trainer)
      .toMatchObject({ mode: 'reference', epochs: 1, shuffle: false, computeBaseline: false });
  });

  test('editor.json records exactly the resolved settings; create and load refuse unresolved settings', () => {
    const model = tinyGpt2(3);
    const modules = defaultEditModules(model);
    const f = editorFactory('hiedit');
    const resolved = f.resolveSettings(modelShapeInfo(model, modules), { policy: { low: { rank: 4 }, high: { hidden: 8 } } }, { seed: 5 });
    const editor = f.create(model, modules, resolved);
    const desc = saveEditorDir(dir, editor, model);
    expect(JSON.parse(fs.readFileSync(path.join(dir, EDITOR_JSON), 'utf8')).settings).toEqual(resolved);
    expect(desc.settings).toBe(resolved);
    const { editor: loaded } = loadEditorDir(dir, model);
    expect(loaded.settings()).toEqual(resolved);
    expect(() => f.create(model, modules, { policy: {} } as never)).toThrow(/take resolved settings/);
    expect(() => f.load(dir, model, modules, { policy: {} } as never)).toThrow(/take resolved settings/);
    editor.dispose();
    loaded.dispose();
    model.dispose();
  });

  test('stored settings: no settingsVersion reads as version 1, a newer version is refused naming the file', () => {
    const model = tinyGpt2(3);
    const editor = createEditor('ft', model, defaultEditModules(model), { steps: 3 });
    saveEditorDir(dir, editor, model);
    const file = path.join(dir, EDITOR_JSON);
    const desc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const { settingsVersion: _v, ...unversioned } = desc.settings;
    fs.writeFileSync(file, JSON.stringify({ ...desc, settings: { steps: 3 } }));
    expect(loadEditorDir(dir, model).editor.settings()).toEqual(desc.settings);
    fs.writeFileSync(file, JSON.stringify({ ...desc, settings: unversioned }));
    expect(loadEditorDir(dir, model).editor.settings()).toEqual(desc.settings);
    fs.writeFileSync(file, JSON.stringify({ ...desc, settings: { ...desc.settings, settingsVersion: 2 } }));
    expect(() => loadEditorDir(dir, model)).toThrow(/editor\.json: field "settings": ft settings: settingsVersion 2 is not supported/);
    expect(() => readStoredHiedit({ settingsVersion: 'x' }, SHAPES)).toThrow(/settingsVersion "x" is not supported/);
    editor.dispose();
    model.dispose();
  });

  test('each policy method\'s preset is rl-hierarchy\'s named configuration of the same kind', () => {
    for (const m of [HIEDIT, HIEDIT_REFERENCE, RLEDIT, MEND]) {
      for (const style of ['mend', 'malmen'] as const) expect(m.trainerPreset(style)).toEqual(presetTrainerOptions(m.kind as EditorKind, style));
      expect(m.usesHighLevel).toBe(presetUsesHighLevel(m.kind as EditorKind));
    }
  });
});
