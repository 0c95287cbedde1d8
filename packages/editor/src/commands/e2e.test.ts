/**
 * The CLI as a new user runs it: the exported `editorCommands` (real llm-loader API) on a model
 * directory with its own tokenizer.json, from training an editor to exporting the edited model.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, runCli } from '@hiedit/tensor-core';
import { buildWordLevelTokenizer, createTinyCheckpoint, loadModel, tokenizeTuple, writeTokenizerFiles } from '@hiedit/llm-loader';
import { editorCommands } from '../cli/commands';
import { WORDS } from '../../test/tiny';

let dir: string;
let modelDir: string;
beforeAll(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-e2e-'));
  modelDir = path.join(dir, 'model');
  await createTinyCheckpoint(modelDir, { architecture: 'gpt2', seed: 31, config: { bos_token_id: 1, eos_token_id: 2 } });
  writeTokenizerFiles(modelDir, buildWordLevelTokenizer({ words: WORDS }));
  fs.writeFileSync(path.join(dir, 'train.jsonl'), [
    { prompt: 'Alice plays the', target: 'violin', paraphrases: ['Alice is good at the'], locality: [{ prompt: 'Bob plays the', answer: 'guitar' }] },
    { prompt: 'Bob lives in', target: 'Rome', paraphrases: ['Bob is from'], locality: [{ prompt: 'Carol lives in', answer: 'London' }] },
    { prompt: 'Carol speaks', target: 'German', paraphrases: ['Carol was born speaking'] },
  ].map((r) => JSON.stringify(r)).join('\n'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function hiedit(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli('hiedit', editorCommands, args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

test('train-editor, edit, rollback, export with the model\'s own tokenizer', async () => {
  const editorDir = path.join(dir, 'editor');
  const train = await hiedit('train-editor', '--model', modelDir, '--data', path.join(dir, 'train.jsonl'), '--format', 'requests',
    '--editor', 'rledit', '--out', editorDir, '--settings', '{"policy":{"low":{"rank":4}},"trainer":{"epochs":1}}', '--json');
  expect(train.err).toMatch(/\[train\]/);
  expect(train.code).toBe(0);
  expect(JSON.parse(train.out)).toMatchObject({ editor: 'rledit', steps: 3, finished: true, modules: ['h.0.mlp.c_proj', 'h.1.mlp.c_proj'] });

  const journal = path.join(dir, 'edits.hjournal');
  const e = await hiedit('edit', '--model', modelDir, '--editor', editorDir, '--journal', journal,
    '--prompt', 'Dave lives in', '--target', 'Madrid', '--json');
  expect(e.code).toBe(0);
  const report = JSON.parse(e.out).edits[0];
  expect(report.editId).toBe('e1');
  expect(report.selected.map((s: { module: string }) => s.module)).toEqual(['h.0.mlp.c_proj', 'h.1.mlp.c_proj']);
  const ft = await hiedit('edit', '--model', modelDir, '--editor', 'ft', '--journal', journal,
    '--prompt', 'Erin plays', '--target', 'chess', '--json');
  expect(ft.code).toBe(0);
  expect(ft.err).toMatch(/replayed 1 earlier edit/);

  expect((await hiedit('rollback', '--journal', journal, '--edit', 'e1')).code).toBe(0);
  const out = path.join(dir, 'edited');
  const ex = await hiedit('export', '--model', modelDir, '--journal', journal, '--out', out, '--dtype', 'bf16', '--json');
  expect(ex.code).toBe(0);
  expect(JSON.parse(ex.out)).toMatchObject({ edits: ['e2'], dtype: 'BF16' });

  // The exported directory is a complete model: it loads with its tokenizer and the ft edit holds.
  const edited = await loadModel(out);
  expect(edited.tokenizer).toBeDefined();
  const t = tokenizeTuple(edited.tokenizer!, 'Erin plays', 'chess');
  const { data, shape } = edited.logits(t.ids as number[]);
  const row = shape[0] - 1;
  let best = 0;
  for (let v = 1; v < shape[1]; v++) if (data[row * shape[1] + v] > data[row * shape[1] + best]) best = v;
  expect(best).toBe(t.labels[t.labels.length - 1]); // bf16 rounding did not undo the edit
  edited.dispose();

  const noTok = path.join(dir, 'notok');
  await createTinyCheckpoint(noTok, { architecture: 'gpt2', seed: 31 });
  const bad = await hiedit('edit', '--model', noTok, '--editor', 'ft', '--journal', path.join(dir, 'x.hjournal'),
    '--prompt', 'a', '--target', 'b');
  expect(bad.code).toBe(1);
  expect(bad.err).toMatch(/has no tokenizer/);
  expect(fs.existsSync(path.join(dir, 'x.hjournal'))).toBe(false);
});

test('a journal is refused for the same model with another tokenizer', async () => {
  const journal = path.join(dir, 'tok.hjournal');
  expect((await hiedit('edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--prompt', 'Alice plays the',
    '--target', 'violin')).code).toBe(0);
  const other = path.join(dir, 'model-other-tokenizer');
  fs.cpSync(modelDir, other, { recursive: true });
  writeTokenizerFiles(other, buildWordLevelTokenizer({ words: [...WORDS].reverse() }));
  const r = await hiedit('edit', '--model', other, '--editor', 'ft', '--journal', journal, '--prompt', 'Bob lives in', '--target', 'Rome');
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/made for a base model with another tokenizer \(tokenizer files hash .*\); refused/);
});

test('prompts and targets of unknown tokens only, or not valid UTF-8, are refused naming the field', async () => {
  const journal = path.join(dir, 'unk.hjournal');
  const edit = (prompt: string, target: string): Promise<{ code: number; out: string; err: string }> =>
    hiedit('edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--prompt', prompt, '--target', target);
  const unkPrompt = await edit('zzz qqq', 'violin');
  expect([unkPrompt.code, unkPrompt.err]).toEqual([1, expect.stringMatching(/field "prompt" tokenizes to unknown tokens only/)]);
  expect((await edit('Alice plays the', 'yyy')).err).toMatch(/field "target" tokenizes to unknown tokens only/);
  expect((await edit('Alice plays \uFFFD', 'violin')).err).toMatch(/field "prompt" holds U\+FFFD at character 12: .*not valid UTF-8/);
  expect((await edit('Alice plays the', 'violin\uD800')).err).toMatch(/field "target" is not valid Unicode: a lone surrogate at character 6/);
  const file = path.join(dir, 'bad-bytes.jsonl');
  fs.writeFileSync(file, Buffer.concat([Buffer.from('{"prompt":"Alice plays the","target":"violin"}\n{"prompt":"Bob lives in","target":"R'),
    Buffer.from([0xff, 0xfe]), Buffer.from('me"}\n{"prompt":"Carol speaks","target":"German","locality":[{"prompt":"qqq","answer":"French"}]}\n')]));
  const r = await hiedit('edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--requests', file);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/record 1 \(id 1\): field "target" holds U\+FFFD .* \(and 1 more invalid record\); nothing was applied/);
  const skip = await hiedit('edit', '--model', modelDir, '--editor', 'ft', '--journal', journal, '--requests', file, '--skip-invalid');
  expect(skip.err).toMatch(/record 2 \(id 2\): field "locality\[0\]\.prompt" tokenizes to unknown tokens only/);
  expect(skip.out.trim().split('\n')).toHaveLength(1);
  expect(skip.code).toBe(0);
});
