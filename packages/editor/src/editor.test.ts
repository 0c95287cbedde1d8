import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { IGNORE_INDEX, initBackend, tf } from '@hiedit/tensor-core';
import { CausalLM, createModel, loadModel } from '@hiedit/llm-loader';
import { tinyGpt2, tupleTokenizer } from '../test/tiny';
import {
  createEditor, defaultEditModules, EditJournal, editorFactory, editorKinds, LifelongEditor, loadEditorDir,
  openJournalFor, applyEditPack, DEFAULT_FT, exportEditPack, saveEditorDir, tokenizeRequest, upperMiddleLayers,
  validateRequest,
} from './index';
import { currentWeightsDigest } from '@hiedit/tensor-core';
import { disposeProposal } from './editors/types';

// Tests pick the backend the way the CLI does (tensor-core registers several).
beforeAll(async () => { await initBackend(); });

let dir: string;
// The untouched base weights of seed 12 (for the magnitude bound).
let tinyGpt2Shared: CausalLM;
beforeAll(() => { tinyGpt2Shared = tinyGpt2(12); });
afterAll(() => tinyGpt2Shared.dispose());
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-editor-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function answerArgmaxHits(model: CausalLM, prompt: string, target: string): { hits: number; of: number } {
  const t = tupleTokenizer(prompt, target);
  const labels = t.labels.filter((l) => l !== IGNORE_INDEX);
  const am = tf.tidy(() => tf.argMax(model.logProbsUnderShifts([t]), 1).dataSync());
  return { hits: labels.filter((l, i) => am[i] === l).length, of: labels.length };
}

const REQ = { prompt: 'Alice plays the', target: 'violin chess' };

describe('default edit modules', () => {
  test('upper-middle layers are defined precisely', () => {
    expect(upperMiddleLayers(32)).toEqual([16, 17, 18, 19, 20, 21]);
    expect(upperMiddleLayers(12)).toEqual([6, 7]);
    expect(upperMiddleLayers(2)).toEqual([0, 1]);
    expect(upperMiddleLayers(1)).toEqual([0]);
    expect(upperMiddleLayers(4)).toEqual([2, 3]);
  });
  test('Llama: down_proj of those layers', () => {
    const m = createModel({ architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 96, hidden_size: 16,
      intermediate_size: 32, num_hidden_layers: 4, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8,
      hidden_act: 'silu', max_position_embeddings: 32, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false,
      bos_token_id: 1, eos_token_id: 2 }, 1);
    expect(defaultEditModules(m)).toEqual(['model.layers.2.mlp.down_proj', 'model.layers.3.mlp.down_proj']);
    m.dispose();
  });
  test('Gemma-2 and Qwen3: down_proj of those layers, like Llama', () => {
    const sizes = { vocab_size: 96, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 4, num_attention_heads: 2,
      num_key_value_heads: 1, head_dim: 8, max_position_embeddings: 32 };
    for (const model_type of ['gemma2', 'qwen3']) {
      const m = createModel({ model_type, ...sizes }, 1);
      expect(defaultEditModules(m)).toEqual(['model.layers.2.mlp.down_proj', 'model.layers.3.mlp.down_proj']);
      m.dispose();
    }
  });
  test('GPT-2: mlp.c_proj of those layers', () => {
    const m = tinyGpt2(1, { n_layer: 4 });
    expect(defaultEditModules(m)).toEqual(['h.2.mlp.c_proj', 'h.3.mlp.c_proj']);
    m.dispose();
  });
});

describe('ft', () => {
  test('makes the new answer the teacher-forced argmax for its prompt', () => {
    const model = tinyGpt2(3);
    const before = answerArgmaxHits(model, REQ.prompt, REQ.target);
    expect(before.hits).toBeLessThan(before.of); // otherwise the test could not fail
    const le = LifelongEditor.create({ model, kind: 'ft', tokenize: tupleTokenizer });
    const rep = le.edit(REQ);
    const after = answerArgmaxHits(model, REQ.prompt, REQ.target);
    expect(after).toEqual({ hits: before.of, of: before.of });
    expect(rep.selected.map((s) => s.module)).toEqual(['h.0.mlp.c_proj', 'h.1.mlp.c_proj']);
    // The Frobenius constraint holds: relNorm of each weight's norm.
    for (const s of rep.selected) {
      const w = model.readWeight(s.module);
      const wn = tf.tidy(() => tf.norm(w).dataSync()[0]);
      w.dispose();
      expect(s.norm).toBeLessThanOrEqual(DEFAULT_FT.relNorm * wn * 1.001 + 1e-3 * wn);
    }
    // Optimizer slots, shift variables and proposals are all released.
    const n = tf.memory().numTensors;
    le.edit({ prompt: 'Bob lives in', target: 'Madrid' });
    expect(tf.memory().numTensors).toBe(n);
    le.dispose();
    model.dispose();
  });
});

describe('lifelong editor with a policy editor', () => {
  test('edit, report, rollback and replay through the journal', () => {
    const model = tinyGpt2(4);
    const base = currentWeightsDigest(model);
    const file = path.join(dir, 'j.hjournal');
    const { journal } = openJournalFor(model, file);
    // The tiny random model cannot make these edits hold within calibration's range; apply them at the bound so the
    // journal has shifts to record (the skip rule has its own test below).
    const le = LifelongEditor.create({ model, kind: 'hiedit', tokenize: tupleTokenizer, journal,
      settings: { policy: { seed: 3, low: { initEta: 0.05 }, high: { hidden: 16 } }, trainer: { calibration: { onMiss: 'max' } } } });
    const reps = [le.edit(REQ), le.edit({ prompt: 'Bob lives in', target: 'Rome' }), le.edit({ prompt: 'Carol speaks', target: 'German' })];
    for (const r of reps) {
      expect(r.selected).toHaveLength(1); // k = half of the 2 modules
      expect(Object.keys(r.scores).sort()).toEqual(['h.0.mlp.c_proj', 'h.1.mlp.c_proj']);
      expect(r.selected[0].norm).toBeGreaterThan(0);
      expect(r.selected[0].score).toBe(r.scores[r.selected[0].module]);
    }
    expect(reps.map((r) => r.editId)).toEqual(['e1', 'e2', 'e3']);
    const edited = currentWeightsDigest(model);
    expect(edited).not.toBe(base);

    const fresh = tinyGpt2(4);
    expect(LifelongEditor.replay(EditJournal.open(file), fresh)).toEqual(['e1', 'e2', 'e3']);
    expect(currentWeightsDigest(fresh)).toBe(edited);

    le.rollback('e2');
    expect(() => le.rollback('e2')).toThrow(/already rolled back/);
    const fresh2 = tinyGpt2(4);
    const { replayed } = openJournalFor(fresh2, file);
    expect(replayed).toEqual(['e1', 'e3']);
    le.dispose();
    for (const m of [model, fresh, fresh2]) m.dispose();
  });

  test('on a tiny CausalLM: rollback of edit i out of 50 equals edits 1..50 without i (float32 summation bound)', () => {
    const model = tinyGpt2(12);
    const file = path.join(dir, 'fifty.hjournal');
    const { journal } = openJournalFor(model, file);
    const le = LifelongEditor.create({ model, kind: 'rledit', tokenize: tupleTokenizer, journal,
      settings: { policy: { seed: 4, low: { rank: 4, initEta: 0.05 } } } });
    const prompts = ['Alice plays', 'Bob lives in', 'Carol speaks', 'Dave was born in', 'Erin works at', 'Frank plays the'];
    const targets = ['golf', 'Paris', 'French', 'Rome', 'chess', 'Berlin', 'violin'];
    for (let j = 0; j < 50; j++) le.edit({ prompt: prompts[j % prompts.length], target: targets[j % targets.length] });
    const i = 17;
    const names = le.editor.modules;
    const host = (m: CausalLM, n: string): Float32Array => {
      const w = m.readWeight(n);
      const d = Float32Array.from(w.dataSync() as Float32Array);
      w.dispose();
      return d;
    };
    const before = new Map(names.map((n) => [n, host(model, n)]));
    le.rollback(`e${i}`);
    // Reference: the base model with edits 1..50 except i, added in order (what replay does).
    const expected = tinyGpt2(12);
    expect(LifelongEditor.replay(EditJournal.open(file), expected)).toHaveLength(49);
    // Bound: each element is a chain of <= 51 float32 additions on both sides, each rounding by at most
    // 2^-24 of the running magnitude, itself <= M = |W0| + sum_j |dW_j|: |error| <= 2 * 52 * 2^-24 * M.
    const mag = new Map(names.map((n) => [n, Float32Array.from(host(tinyGpt2Shared, n), Math.abs)]));
    for (const r of journal.records) {
      if (r.type !== 'edit') continue;
      for (const s of journal.readShifts(r.editId)) {
        const m = mag.get(s.module)!;
        const d = s.kind === 'dense' ? s.delta : (() => {
          const out = new Float32Array(s.dIn * s.dOut);
          for (let a = 0; a < s.dIn; a++) for (let k = 0; k < s.rank; k++) {
            const l = s.left[a * s.rank + k];
            for (let b = 0; b < s.dOut; b++) out[a * s.dOut + b] += l * s.right[k * s.dOut + b];
          }
          return out;
        })();
        for (let k = 0; k < d.length; k++) m[k] += Math.abs(d[k]) * 1.0001;
      }
    }
    let worst = 0;
    let moved = 0;
    for (const n of names) {
      const got = host(model, n);
      const want = host(expected, n);
      const pre = before.get(n)!;
      const m = mag.get(n)!;
      for (let k = 0; k < got.length; k++) {
        const tol = 2 * 52 * Math.pow(2, -24) * m[k];
        worst = Math.max(worst, Math.abs(got[k] - want[k]) / tol);
        moved = Math.max(moved, Math.abs(pre[k] - want[k]) / tol);
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(moved).toBeGreaterThan(100); // edit i itself is far above the tolerance: the check can fail
    le.dispose();
    model.dispose();
    expected.dispose();
  });

  test('Llama: edits journal, replay bitwise, and an edit pack rebuilds the model elsewhere', () => {
    const llama = (): CausalLM => createModel({ architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 96,
      hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1,
      head_dim: 8, hidden_act: 'silu', max_position_embeddings: 32, rms_norm_eps: 1e-5, rope_theta: 10000,
      tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, initializer_range: 0.1 }, 21);
    const model = llama();
    const file = path.join(dir, 'llama.hjournal');
    const { journal } = openJournalFor(model, file);
    const le = LifelongEditor.create({ model, kind: 'hiedit', tokenize: tupleTokenizer, journal,
      settings: { policy: { seed: 2, low: { rank: 4, initEta: 0.05 }, high: { hidden: 8 } }, trainer: { calibration: { onMiss: 'max' } } } });
    expect(le.editor.modules).toHaveLength(2); // down_proj of layers 0 and 1
    for (const r of [REQ, { prompt: 'Bob lives in', target: 'Rome' }, { prompt: 'Carol speaks', target: 'German' }]) {
      expect(le.edit(r).selected).toHaveLength(1);
    }
    le.rollback('e1');
    const pack = path.join(dir, 'llama.hpack');
    expect(exportEditPack(journal, pack)).toBe(2);
    const elsewhere = llama();
    expect(applyEditPack(elsewhere, elsewhere.weightsHash(), pack)).toEqual(['e2', 'e3']);
    const replayed = llama();
    LifelongEditor.replay(EditJournal.open(file), replayed);
    expect(currentWeightsDigest(elsewhere)).toBe(currentWeightsDigest(replayed));
    le.dispose();
    for (const m of [model, elsewhere, replayed]) m.dispose();
  });

  test('train: progress events, seeded, and the model restored even when paused', async () => {
    const model = tinyGpt2(15);
    const before = currentWeightsDigest(model);
    const le = LifelongEditor.create({ model, kind: 'hiedit', tokenize: tupleTokenizer,
      settings: { policy: { seed: 1, low: { rank: 4, initEta: 0.02 }, high: { hidden: 8 } }, trainer: { epochs: 1, backDepth: 2 } } });
    const events: string[] = [];
    const stream = [REQ, { prompt: 'Bob lives in', target: 'Rome', paraphrases: ['Bob is from'] },
      { prompt: 'Carol speaks', target: 'German', locality: [{ prompt: 'Dave speaks', answer: 'French' }] }];
    const r = await le.train(stream, { seed: 3, stopAfter: 2, onProgress: (e) => events.push(`${e.phase}:${e.step}/${e.total}`) });
    expect(r).toMatchObject({ steps: 2, finished: false });
    expect(events).toEqual(['train:1/3', 'train:2/3']);
    expect(currentWeightsDigest(model)).toBe(before);
    // A run that fails mid-trajectory (here: the progress callback throws) leaves no shift behind either.
    await expect(le.train(stream, { seed: 3, onProgress: (e) => { if (e.step === 2) throw new Error('stop here'); } }))
      .rejects.toThrow('stop here');
    expect(currentWeightsDigest(model)).toBe(before);
    await expect(le.train([{ prompt: 'x', target: '' }], { seed: 1 })).rejects.toThrow(/training stream\[0\]: field "target" is empty/);
    le.dispose();
    model.dispose();
  });

  test('exportModel saves the edited weights as a loadable Hugging Face directory', async () => {
    const model = tinyGpt2(13);
    const le = LifelongEditor.create({ model, kind: 'hiedit', tokenize: tupleTokenizer,
      settings: { policy: { seed: 3, low: { initEta: 0.05 }, high: { hidden: 8 } } } });
    le.edit(REQ);
    await le.exportModel(path.join(dir, 'out'), 'F32');
    const loaded = await loadModel(path.join(dir, 'out'), { tokenizer: false });
    expect(currentWeightsDigest(loaded)).toBe(currentWeightsDigest(model));
    await le.exportModel(path.join(dir, 'out16'), 'BF16');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out16', 'config.json'), 'utf8')).torch_dtype).toBe('bfloat16');
    le.dispose();
    model.dispose();
    loaded.dispose();
  });

  test('no tensor leaks: numTensors after 200 edits equals numTensors after 1', () => {
    const model = tinyGpt2(5, { n_embd: 16, n_head: 2, n_layer: 2 });
    const { journal } = openJournalFor(model, path.join(dir, 'leak.hjournal'));
    const le = LifelongEditor.create({ model, kind: 'hiedit', tokenize: tupleTokenizer, journal,
      settings: { policy: { seed: 1, low: { rank: 4, blocks: 1 }, high: { hidden: 8 } } } });
    const prompts = ['Alice plays', 'Bob lives in', 'Carol speaks', 'Dave was born in'];
    const targets = ['golf', 'Paris', 'French', 'Rome', 'chess'];
    le.edit({ prompt: prompts[0], target: targets[0] });
    const after1 = tf.memory().numTensors;
    for (let i = 1; i < 200; i++) {
      le.edit({ prompt: prompts[i % prompts.length], target: targets[i % targets.length] });
      if (i % 50 === 0) le.rollback(`e${i}`);
    }
    expect(tf.memory().numTensors).toBe(after1);
    expect(journal.activeEdits()).toHaveLength(197);
    le.dispose();
    model.dispose();
  });
});

describe('bad input: a clear error and the model untouched', () => {
  test.each([
    ['empty prompt', { prompt: '  ', target: 'Paris' }, /field "prompt" is empty/],
    ['empty target', { prompt: 'Bob lives in', target: '' }, /field "target" is empty/],
    ['empty locality answer', { prompt: 'Bob lives in', target: 'Rome', locality: [{ prompt: 'Carol speaks', answer: '' }] },
      /locality\[0\]\.answer/],
  ])('%s', (_label, req, err) => {
    const model = tinyGpt2(6);
    const le = LifelongEditor.create({ model, kind: 'ft', tokenize: tupleTokenizer });
    const before = currentWeightsDigest(model);
    expect(() => le.edit(req as never)).toThrow(err);
    expect(currentWeightsDigest(model)).toBe(before);
    le.dispose();
    model.dispose();
  });

  test('a module name the model lacks', () => {
    const model = tinyGpt2(6);
    const before = currentWeightsDigest(model);
    for (const kind of ['ft', 'hiedit']) {
      expect(() => LifelongEditor.create({ model, kind, tokenize: tupleTokenizer, modules: ['h.0.mlp.c_fc', 'h.7.mlp.c_fc'] }))
        .toThrow(/has no module named "h\.7\.mlp\.c_fc"/);
    }
    expect(currentWeightsDigest(model)).toBe(before);
    model.dispose();
  });

  test('an editor directory made for another model (shapes differ)', () => {
    const small = tinyGpt2(7, { n_embd: 16, n_head: 2 });
    const editor = createEditor('hiedit', small, defaultEditModules(small), { policy: { high: { hidden: 8 } } });
    saveEditorDir(path.join(dir, 'ed'), editor, small);
    editor.dispose();
    const model = tinyGpt2(7);
    const before = currentWeightsDigest(model);
    expect(() => loadEditorDir(path.join(dir, 'ed'), model))
      .toThrow(/was made for another model.*h\.0\.mlp\.c_proj is 64x16 in the editor but 128x32 in the model/);
    expect(currentWeightsDigest(model)).toBe(before);
    // The same directory loads fine for its own model.
    const ok = loadEditorDir(path.join(dir, 'ed'), small);
    expect(ok.editor.kind).toBe('hiedit');
    ok.editor.dispose();
    small.dispose();
    model.dispose();
  });

  test('a journal from another base model', () => {
    const a = tinyGpt2(8);
    const file = path.join(dir, 'a.hjournal');
    const { journal } = openJournalFor(a, file);
    const le = LifelongEditor.create({ model: a, kind: 'ft', tokenize: tupleTokenizer, journal });
    le.edit(REQ);
    const b = tinyGpt2(9);
    const before = currentWeightsDigest(b);
    expect(() => openJournalFor(b, file)).toThrow(/made for another base model/);
    expect(() => new LifelongEditor({ model: b, editor: le.editor, tokenize: tupleTokenizer, journal }))
      .toThrow(/made for another base model/);
    expect(currentWeightsDigest(b)).toBe(before);
    le.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('calibrated HiEdit edits', () => {
  test('an edit that does not hold within the range is skipped: no shift, no module, the weights untouched', () => {
    const model = tinyGpt2(10);
    // A margin no strength can reach: every edit misses.
    const le = LifelongEditor.create({ model, kind: 'hiedit', tokenize: tupleTokenizer,
      settings: { policy: { seed: 1, low: { rank: 4 }, high: { hidden: 8 } }, trainer: { calibration: { margin: 1e6 } } } });
    const before = currentWeightsDigest(model);
    const tensors = tf.memory().numTensors;
    const r = le.edit(REQ);
    expect(r.selected).toHaveLength(0);
    expect(currentWeightsDigest(model)).toBe(before);
    expect(tf.memory().numTensors).toBe(tensors);
    le.dispose();
    model.dispose();
  });

  test("a proposal says how many module sets calibration tried: every one under 'next', the gate's only under 'skip'", () => {
    const model = tinyGpt2(10);
    const modules = defaultEditModules(model); // 2 modules, k = 1
    const tokenized = tokenizeRequest(validateRequest(REQ), tupleTokenizer, 'req');
    for (const [onMiss, tries] of [['next', 2], ['skip', 1]] as const) {
      const ed = createEditor('hiedit', model, modules,
        { policy: { seed: 1, low: { rank: 4 }, high: { hidden: 8 } }, trainer: { calibration: { margin: 1e6, onMiss } } });
      const p = ed.propose(model, tokenized);
      expect(p.selected).toEqual([]);
      expect(p.tries).toBe(tries);
      disposeProposal(p);
      ed.dispose();
    }
    model.dispose();
  });
});

describe('baselines behind the same interface', () => {
  test.each([
    ['rledit', 2, false], ['mend', 2, false], ['hiedit-reference', 1, true], ['hiedit', 1, true],
  ])('%s edits %d module(s), gate scores: %s', (kind, n, gated) => {
    const model = tinyGpt2(10);
    const le = LifelongEditor.create({ model, kind: kind as string, tokenize: tupleTokenizer,
      settings: { policy: { seed: 1, low: { rank: 4 }, ...(gated ? { high: { hidden: 8 } } : {}) },
        ...(kind === 'hiedit' ? { trainer: { calibration: { onMiss: 'max' } } } : {}) } });
    const before = currentWeightsDigest(model);
    const r = le.edit(REQ);
    expect(r.editor).toBe(kind);
    expect(r.selected).toHaveLength(n as number);
    expect(Object.keys(r.scores)).toHaveLength(gated ? 2 : 0);
    expect(currentWeightsDigest(model)).not.toBe(before);
    const tensors = tf.memory().numTensors;
    le.rollback(le.edit({ prompt: 'Bob lives in', target: 'Rome' }).editId);
    expect(tf.memory().numTensors).toBe(tensors);
    le.rollback(r.editId);
    le.dispose();
    model.dispose();
  });

  test('an editor directory round-trips: the loaded editor proposes bitwise the same shifts', () => {
    const model = tinyGpt2(14);
    const editor = createEditor('hiedit', model, defaultEditModules(model),
      { policy: { seed: 9, low: { rank: 4, initEta: 0.02 }, high: { hidden: 8 } } });
    saveEditorDir(path.join(dir, 'rt'), editor, model);
    const { editor: loaded, descriptor } = loadEditorDir(path.join(dir, 'rt'), model);
    expect(descriptor.kind).toBe('hiedit');
    const req = tokenizeRequest(validateRequest(REQ), tupleTokenizer, 'x');
    const a = editor.propose(model, req);
    const b = loaded.propose(model, req);
    expect(b.selected).toEqual(a.selected);
    expect(b.scores).toEqual(a.scores);
    for (const [name, s] of a.shifts) {
      const t = b.shifts.get(name)!;
      expect(s.kind).toBe('lowRank');
      if (s.kind === 'lowRank' && t.kind === 'lowRank') {
        expect(Array.from(t.left.dataSync())).toEqual(Array.from(s.left.dataSync()));
        expect(Array.from(t.right.dataSync())).toEqual(Array.from(s.right.dataSync()));
      }
    }
    disposeProposal(a);
    disposeProposal(b);
    editor.dispose();
    loaded.dispose();
    model.dispose();
  });

  test('the registry lists every method and refuses unknown ones', () => {
    expect(editorKinds()).toEqual(expect.arrayContaining(['hiedit', 'hiedit-reference', 'rledit', 'mend', 'ft']));
    expect(() => editorFactory('rome')).toThrow(/unknown editor "rome"; known editors: .*hiedit/);
    expect(editorFactory('ft').trainable).toBe(false);
  });
});
