import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, runCli } from '@hiedit/tensor-core';
import { createTinyCheckpoint, loadModel } from '@hiedit/llm-loader';
import { tupleTokenizer } from '../../test/tiny';
import { DEFAULT_INDEX_EVERY, EditJournal, LifelongEditor } from '../index';
import { currentWeightsDigest } from '@hiedit/tensor-core';
import { createEditorCommands, EditorCliApi } from './index';

const api: EditorCliApi = { loadModel: (dir) => loadModel(dir, { tokenizer: false }), tupleTokenizer: () => tupleTokenizer };
const commands = createEditorCommands(api);

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli('hiedit', commands, args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

let dir: string;
let modelDir: string;
beforeAll(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-cli-'));
  modelDir = path.join(dir, 'model');
  await createTinyCheckpoint(modelDir, { architecture: 'gpt2', seed: 11, config: { bos_token_id: 1, eos_token_id: 2 } });
  const cf = [
    ['Alice plays the', 'violin', 'piano', 'Alice is good at the', 'Bob plays the', 'guitar'],
    ['Bob lives in', 'Rome', 'Paris', 'Bob is from', 'Carol lives in', 'London'],
    ['Carol speaks', 'German', 'French', 'Carol was born speaking', 'Dave speaks', 'Spanish'],
    ['Dave plays', 'golf', 'tennis', 'Dave is good at', 'Erin plays', 'chess'],
    ['Erin works in', 'Berlin', 'Madrid', 'Erin works near', 'Frank works in', 'Rome'],
  ].map(([prompt, target_new, ground_truth, rephrase_prompt, locality_prompt, locality_ground_truth], i) => ({
    case_id: i, prompt, subject: prompt.split(' ')[0], target_new, ground_truth, rephrase_prompt, locality_prompt, locality_ground_truth }));
  fs.writeFileSync(path.join(dir, 'cf.json'), JSON.stringify(cf));
  fs.writeFileSync(path.join(dir, 'req.jsonl'), [
    { id: 'r1', prompt: 'Grace lives in', target: 'Paris' },
    { id: 'r2', prompt: 'Heidi plays', target: 'chess', paraphrases: ['Heidi is good at'] },
    { id: 'r3', prompt: 'Ivan speaks', target: 'Italian', locality: [{ prompt: 'Judy speaks', answer: 'English' }] },
  ].map((r) => JSON.stringify(r)).join('\n') + '\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// The tiny random model cannot make its edits hold within calibration's range: they are applied at the bound, so that
// training and the journal have shifts to work with.
const SETTINGS = JSON.stringify({ policy: { seed: 2, low: { rank: 4, initEta: 0.01 }, high: { hidden: 8 } },
  trainer: { epochs: 1, backDepth: 2, updateEvery: 2, calibration: { onMiss: 'max' } }, checkpointEvery: 2 });

function policyBytes(editorDir: string): Buffer {
  return fs.readFileSync(path.join(editorDir, 'policy', 'policy.safetensors'));
}

describe('editor CLI', () => {
  test('train-editor trains, pauses and resumes to the same weights as an uninterrupted run', async () => {
    const base = ['train-editor', '--model', modelDir, '--data', path.join(dir, 'cf.json'), '--format', 'counterfact',
      '--editor', 'hiedit', '--settings', SETTINGS, '--seed', '5'];
    const full = await run([...base, '--out', path.join(dir, 'ed'), '--json']);
    expect(full.err).toMatch(/\[train\] epoch 0/);
    expect(full.code).toBe(0);
    const summary = JSON.parse(full.out);
    expect(summary).toMatchObject({ editor: 'hiedit', requests: 5, steps: 5, finished: true });
    const desc = JSON.parse(fs.readFileSync(path.join(dir, 'ed', 'editor.json'), 'utf8'));
    expect(desc.trained).toMatchObject({ finished: true, steps: 5, seed: 5 });

    const paused = await run([...base, '--out', path.join(dir, 'ed2'), '--max-steps', '3', '--json']);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.out)).toMatchObject({ steps: 3, finished: false });
    expect(policyBytes(path.join(dir, 'ed2')).equals(policyBytes(path.join(dir, 'ed')))).toBe(false);
    const early = await run(['edit', '--model', modelDir, '--editor', path.join(dir, 'ed2'), '--journal',
      path.join(dir, 'early.hjournal'), '--prompt', 'Alice plays the', '--target', 'golf']);
    expect(early.code).toBe(0);
    expect(early.err).toMatch(/not fully trained \(paused after 3 steps/);
    const again = await run([...base, '--out', path.join(dir, 'ed2')]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already holds an editor; pass --resume/);
    const resumed = await run([...base, '--out', path.join(dir, 'ed2'), '--resume', '--json']);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.out)).toMatchObject({ steps: 5, finished: true });
    expect(policyBytes(path.join(dir, 'ed2')).equals(policyBytes(path.join(dir, 'ed')))).toBe(true);
  });

  test('edit, rollback and export through the journal', async () => {
    const journal = path.join(dir, 'edits.hjournal');
    const one = await run(['edit', '--model', modelDir, '--editor', path.join(dir, 'ed'), '--journal', journal,
      '--prompt', 'Frank lives in', '--target', 'Berlin', '--json']);
    expect(one.err).toBe(''); // a finished editor: no warning
    expect(one.code).toBe(0);
    const rep = JSON.parse(one.out).edits[0];
    expect(rep).toMatchObject({ editId: 'e1', editor: 'hiedit' });
    expect(rep.selected).toHaveLength(1);

    const many = await run(['edit', '--model', modelDir, '--editor', path.join(dir, 'ed'), '--journal', journal,
      '--requests', path.join(dir, 'req.jsonl')]);
    expect(many.code).toBe(0);
    expect(many.err).toMatch(/replayed 1 earlier edit/);
    expect(many.out.trim().split('\n').map((l) => l.split(':')[0])).toEqual(['e2 [r1]', 'e3 [r2]', 'e4 [r3]']);

    const size = fs.statSync(journal).size;
    const bad = await run(['edit', '--model', modelDir, '--editor', path.join(dir, 'ed'), '--journal', journal,
      '--prompt', 'Frank lives in', '--target', ' ']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/field "target" is empty/);
    expect(fs.statSync(journal).size).toBe(size);

    const rb = await run(['rollback', '--journal', journal, '--edit', 'e3', '--json']);
    expect(rb.code).toBe(0);
    expect(JSON.parse(rb.out)).toMatchObject({ rolledBack: 'e3', activeEdits: 3 });
    expect((await run(['rollback', '--journal', journal, '--edit', 'e9'])).err).toMatch(/no edit with id "e9"/);
    expect((await run(['rollback', '--journal', journal, '--edit', 'e3'])).err).toMatch(/already rolled back/);
    expect((await run(['rollback', '--journal', journal])).code).toBe(2);

    const out = path.join(dir, 'exported');
    const ex = await run(['export', '--model', modelDir, '--journal', journal, '--out', out, '--dtype', 'f32', '--json']);
    expect(ex.code).toBe(0);
    expect(JSON.parse(ex.out).edits).toEqual(['e1', 'e2', 'e4']);
    const exported = await loadModel(out, { tokenizer: false });
    const replayed = await loadModel(modelDir, { tokenizer: false });
    LifelongEditor.replay(EditJournal.open(journal), replayed);
    const base = await loadModel(modelDir, { tokenizer: false });
    expect(currentWeightsDigest(exported)).toBe(currentWeightsDigest(replayed));
    expect(currentWeightsDigest(exported)).not.toBe(currentWeightsDigest(base));

    const pack = path.join(dir, 'edits.hpack');
    const px = await run(['export', '--model', modelDir, '--journal', journal, '--pack', pack, '--json']);
    expect(px.code).toBe(0);
    expect(JSON.parse(px.out).edits).toBe(3);
    const fromPack = await run(['export', '--model', modelDir, '--from-pack', pack, '--out', path.join(dir, 'from-pack'), '--json']);
    expect(fromPack.code).toBe(0);
    expect(JSON.parse(fromPack.out).edits).toEqual(['e1', 'e2', 'e4']);
    const packed = await loadModel(path.join(dir, 'from-pack'), { tokenizer: false });
    expect(currentWeightsDigest(packed)).toBe(currentWeightsDigest(replayed));
    expect((await run(['export', '--model', modelDir, '--journal', journal, '--from-pack', pack, '--out', out])).code).toBe(2);
    for (const m of [exported, replayed, base, packed]) m.dispose();

    expect((await run(['export', '--model', modelDir, '--journal', journal, '--out', out, '--dtype', 'f8'])).code).toBe(2);
  });

  test('export refuses an output that is one of its inputs, symlinks included (nothing written, exit 2)', async () => {
    const journal = path.join(dir, 'self.hjournal');
    expect((await run(['edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--prompt', 'Alice plays the',
      '--target', 'violin'])).code).toBe(0);
    const weights = fs.readFileSync(path.join(modelDir, 'model.safetensors'));
    const journalBytes = fs.readFileSync(journal);
    const modelLink = path.join(dir, 'model-link');
    const journalLink = path.join(dir, 'self-link.hjournal');
    fs.symlinkSync(modelDir, modelLink);
    fs.symlinkSync(journal, journalLink);
    const cases: [string[], RegExp][] = [
      [['--model', modelDir, '--journal', journal, '--out', modelDir], /--out .* is the same path as --model .*base model/],
      [['--model', modelDir, '--journal', journal, '--out', modelLink], /--out .* is the same path as --model/],
      [['--model', modelLink, '--journal', journal, '--out', `${modelDir}/`], /--out .* is the same path as --model/],
      [['--journal', journal, '--pack', journal], /--pack .* is the same path as --journal .*destroy the journal/],
      [['--journal', journal, '--pack', journalLink], /--pack .* is the same path as --journal/],
      [['--model', modelDir, '--journal', journal, '--pack', path.join(modelDir, 'config.json')], /would replace a file of the base model/],
    ];
    for (const [args, message] of cases) {
      const r = await run(['export', ...args]);
      expect([r.code, r.err.split('\n')[0]]).toEqual([2, expect.stringMatching(message)]);
    }
    expect(fs.readFileSync(path.join(modelDir, 'model.safetensors')).equals(weights)).toBe(true);
    expect(fs.readFileSync(journal).equals(journalBytes)).toBe(true);
    expect(fs.lstatSync(journalLink).isSymbolicLink()).toBe(true);
  });

  test('a requests file is checked whole before the first edit, and running it again applies nothing twice', async () => {
    const journal = path.join(dir, 'batch.hjournal');
    const file = path.join(dir, 'batch.jsonl');
    const long = Array(40).fill('Alice').join(' ');
    fs.writeFileSync(file, [{ id: 'a', prompt: 'Alice plays the', target: 'violin' }, { id: 'b', prompt: long, target: 'golf' },
      { id: 'c', prompt: 'Bob lives in', target: 'Rome' }].map((r) => JSON.stringify(r)).join('\n'));
    const base = ['edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--requests', file];
    const strict = await run([...base, '--json']);
    expect(strict.code).toBe(1);
    expect(strict.err).toMatch(/record 1 \(id b\): field "prompt" is too long: prompt \+ target is 41 tokens, the model takes at most 32; nothing was applied \(pass --skip-invalid/);
    expect(JSON.parse(strict.out)).toMatchObject({ edits: [], error: expect.stringMatching(/record 1 \(id b\)/) });
    expect(fs.existsSync(journal)).toBe(false);

    const skip = await run([...base, '--skip-invalid', '--json']);
    expect(skip.code).toBe(0);
    expect(skip.err).toMatch(/skipped record 1: .*field "prompt" is too long/);
    const first = JSON.parse(skip.out);
    expect(first.edits.map((e: { editId: string; requestId: string }) => [e.editId, e.requestId])).toEqual([['e1', 'a'], ['e2', 'c']]);
    expect(first.skipped).toEqual([{ record: 1, id: 'b', reason: expect.stringMatching(/too long/) }]);

    expect((await run(['rollback', '--journal', journal, '--edit', 'e2'])).code).toBe(0);
    const size = fs.statSync(journal).size;
    const again = await run([...base, '--skip-invalid', '--json']);
    expect(again.code).toBe(0);
    expect(again.err).toMatch(/skipped record 0 \(id a\): already in the journal as e1\n/);
    expect(again.err).toMatch(/skipped record 2 \(id c\): already in the journal as e2 \(rolled back; apply it again with --prompt\/--target or under a new id\)/);
    expect(JSON.parse(again.out).edits).toEqual([]);
    expect(fs.statSync(journal).size).toBe(size);
  });

  test('the same weights under another config.json are another base model: journal and pack refused', async () => {
    const journal = path.join(dir, 'cfg.hjournal');
    expect((await run(['edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--prompt', 'Alice plays the',
      '--target', 'violin'])).code).toBe(0);
    const pack = path.join(dir, 'cfg.hpack');
    expect((await run(['export', '--journal', journal, '--pack', pack])).code).toBe(0);
    const other = path.join(dir, 'model-other-eps');
    fs.cpSync(modelDir, other, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(other, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(other, 'config.json'), JSON.stringify({ ...config, layer_norm_epsilon: 1e-3 }));
    const size = fs.statSync(journal).size;
    const edit = await run(['edit', '--model', other, '--editor', 'ft', '--journal', journal, '--prompt', 'Bob lives in', '--target', 'Rome']);
    expect(edit.code).toBe(1);
    expect(edit.err).toMatch(/made for a base model with the same weights but another config .*config\.json differs.*; refused/);
    expect(fs.statSync(journal).size).toBe(size);
    const fromPack = await run(['export', '--model', other, '--from-pack', pack, '--out', path.join(dir, 'never')]);
    expect(fromPack.err).toMatch(/edit pack .*another config/);
    // Key order and formatting of config.json are not the model: a rewritten but equal config still matches.
    fs.writeFileSync(path.join(other, 'config.json'), JSON.stringify(Object.fromEntries(Object.entries(config).reverse()), null, 4));
    expect((await run(['export', '--model', other, '--journal', journal, '--out', path.join(dir, 'cfg-out')])).code).toBe(0);
  });

  test('messages: a directory as --journal, a journal as --from-pack; a pack written to a symlink goes through it', async () => {
    const journalDir = path.join(dir, 'journal-dir');
    fs.mkdirSync(journalDir);
    const edit = await run(['edit', '--model', modelDir, '--editor', 'ft', '--journal', journalDir, '--prompt', 'Alice plays the', '--target', 'violin']);
    expect([edit.code, edit.err]).toEqual([1, `hiedit edit: journal ${journalDir}: not a regular file (a directory)\n`]);
    expect((await run(['rollback', '--journal', journalDir, '--edit', 'e1'])).err).toBe(
      `hiedit rollback: journal ${journalDir}: not a regular file (a directory)\n`);
    const journal = path.join(dir, 'msg.hjournal');
    expect((await run(['edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--prompt', 'Alice plays the',
      '--target', 'violin'])).code).toBe(0);
    const notPack = await run(['export', '--model', modelDir, '--from-pack', journal, '--out', path.join(dir, 'never')]);
    expect(notPack.err).toMatch(/bad magic "HIEDITJ1" \(expected "HIEDITP1"\); not an edit pack\n$/);

    const target = path.join(dir, 'packs', 'real.hpack');
    fs.mkdirSync(path.dirname(target));
    fs.writeFileSync(target, 'old');
    const link = path.join(dir, 'link.hpack');
    fs.symlinkSync(target, link);
    expect((await run(['export', '--journal', journal, '--pack', link])).code).toBe(0);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(target).subarray(0, 8).toString()).toBe('HIEDITP1');
    const dangling = path.join(dir, 'dangling.hpack');
    fs.symlinkSync(path.join(dir, 'nowhere', 'x.hpack'), dangling);
    const r = await run(['export', '--journal', journal, '--pack', dangling]);
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/is a symbolic link to .*nowhere.*, which does not exist; refused/)]);
    expect(fs.lstatSync(dangling).isSymbolicLink()).toBe(true);
  });

  test('an edit no strength makes hold is journaled empty, and the output says so', async () => {
    // a margin of a million nats: calibration can never make an edit hold, so every edit is skipped
    const never = JSON.stringify({ ...JSON.parse(SETTINGS), trainer: { epochs: 1, backDepth: 2, calibration: { onMiss: 'next', margin: 1e6 } } });
    const ed = path.join(dir, 'ed-never');
    expect((await run(['train-editor', '--model', modelDir, '--data', path.join(dir, 'cf.json'), '--format', 'counterfact',
      '--editor', 'hiedit', '--settings', never, '--seed', '1', '--out', ed, '--json'])).code).toBe(0);
    const journal = path.join(dir, 'never.hjournal');
    const r = await run(['edit', '--model', modelDir, '--editor', ed, '--journal', journal, '--prompt', 'Frank lives in', '--target', 'Berlin']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^e1: hiedit found no shift that makes this edit hold .*nothing was applied/);
    const j = await run(['edit', '--model', modelDir, '--editor', ed, '--journal', journal, '--prompt', 'Grace lives in', '--target', 'Paris', '--json']);
    expect(JSON.parse(j.out).edits[0]).toMatchObject({ editId: 'e2', selected: [] });
  });

  test('edit with ft needs no editor directory; usage errors exit 2', async () => {
    const journal = path.join(dir, 'ft.hjournal');
    const r = await run(['edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--prompt', 'Alice plays the',
      '--target', 'violin']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^e1: ft shifted 2 module\(s\)/);
    expect((await run(['edit', '--model', modelDir, '--editor', 'nope', '--journal', journal, '--prompt', 'a', '--target', 'b'])).err)
      .toMatch(/--editor nope: no editor\.json there/);
    expect((await run(['edit', '--bogus'])).code).toBe(2);
    expect((await run(['train-editor', '--editor', 'ft', '--out', 'x'])).err).toMatch(/--editor must be one of/);
  });

  test('switches take --json=false and --no-json; text output then', async () => {
    const journal = path.join(dir, 'switch.hjournal');
    const base = ['edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--prompt', 'Alice plays the', '--target', 'violin'];
    const off = await run([...base, '--json=false']);
    expect([off.code, off.err]).toEqual([0, '']);
    expect(off.out).toMatch(/^e1: ft shifted 2 module\(s\)/);
    const on = await run([...base, '--json=true']);
    expect(on.code).toBe(0);
    expect(JSON.parse(on.out).edits[0].editId).toBe('e2');
    const no = await run(['rollback', '--journal', journal, '--edit', 'e2', '--no-json']);
    expect(no.out).toMatch(/^rolled back e2 in /);
    const bad = await run([...base, '--json=yes']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^hiedit edit: --json is a switch: use --json or --json=true\|false, not "yes"\n\nUsage: hiedit edit /);
  });

  test('a setting given as a string is named as one', async () => {
    const r = await run(['edit', '--model', modelDir, '--editor', 'ft', '--journal', path.join(dir, 'str.hjournal'),
      '--prompt', 'Alice plays the', '--target', 'violin', '--settings', '{"steps":"40"}']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('hiedit edit: ft settings: steps must be a positive integer, got "40"\n');
  });

  test('integer flags refuse hex, exponents and negatives, naming the flag (exit 2, nothing written)', async () => {
    const base = ['train-editor', '--model', modelDir, '--data', path.join(dir, 'cf.json'), '--editor', 'hiedit', '--out', path.join(dir, 'never-written')];
    for (const [flag, value, shown] of [['--seed', '0x10', '"0x10"'], ['--limit', '1e3', '"1e3"'], ['--max-steps', '-1', '-1'], ['--seed', '2.5', '"2.5"']]) {
      const r = await run([...base, flag, value]);
      expect(r.code).toBe(2);
      expect(r.err.split('\n')[0]).toBe(`hiedit train-editor: ${flag} must be a non-negative integer, got ${shown}`);
    }
    expect(fs.existsSync(path.join(dir, 'never-written'))).toBe(false);
  });

  test('rollback reads only the journal\'s tail through its index; --verify-full reads every record', async () => {
    const journal = path.join(dir, 'indexed.hjournal');
    const j = EditJournal.create(journal, { formatVersion: 1, createdAt: '2026-01-01T00:00:00.000Z', baseWeightsHash: 'a'.repeat(64),
      model: { modelType: 'test', architecture: 'gpt2' }, modules: [{ name: 'm', dIn: 2, dOut: 2, layer: 0 }] });
    for (let i = 1; i <= DEFAULT_INDEX_EVERY + 8; i++) {
      j.appendEdit({ editor: 'test', request: { prompt: `p${i}`, target: 't' }, selected: ['m'], scores: {}, norms: {} },
        [{ module: 'm', kind: 'dense', dIn: 2, dOut: 2, delta: Float32Array.of(i, 0, 0, -i) }]);
    }
    expect(fs.existsSync(`${journal}.index`)).toBe(true);
    // A byte of edit e5 flipped on disk: only reading e5 (or every record) can tell.
    const at = j.records[4].byteOffset;
    const bytes = fs.readFileSync(journal);
    bytes[at + 30] ^= 0x20;
    fs.writeFileSync(journal, bytes);
    const tail = await run(['rollback', '--journal', journal, '--edit', `e${DEFAULT_INDEX_EVERY + 8}`, '--json']);
    expect([tail.code, tail.err]).toEqual([0, '']);
    const full = await run(['rollback', '--journal', journal, '--edit', 'e2', '--verify-full']);
    expect(full.code).toBe(1);
    expect(full.err).toMatch(new RegExp(`^hiedit rollback: journal .*: record 5 at byte offset ${at} is corrupted: SHA-256 checksum mismatch`));
    expect((await run(['rollback', '--journal', journal, '--edit', 'e5'])).err).toMatch(
      /record 5 at byte offset \d+ is corrupted: SHA-256 checksum mismatch \(found when the record was read/);
    expect((await run(['rollback', '--help'])).out).toMatch(/--verify-full +read and verify every journal record/);
  });
});
