import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '@hiedit/tensor-core';
import { buildWordLevelTokenizer, createTinyCheckpoint, writeTokenizerFiles } from '@hiedit/llm-loader';
import { Progress } from '../progress';
import { defaultDeps } from './defaults';
import type { DataBundle, RunOptions } from './types';

const progress = (label: string, total: number) => new Progress(label, total, { sink: { write: () => true }, quiet: true });
const data: DataBundle = { label: 'x', hash: 'x', file: 'x', requests: [] };

describe('the model hash of a --model run', () => {
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-model-hash-'));
    await createTinyCheckpoint(dir, { architecture: 'llama', seed: 3 });
    writeTokenizerFiles(dir, buildWordLevelTokenizer({ words: ['a', 'b', 'c'] }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function hashOf(): Promise<string> {
    const opts: RunOptions = { dataset: 'world', editors: ['ft'], seed: 0, out: 'unused', model: dir };
    const mb = await defaultDeps({ log: () => undefined }).obtainModel(opts, data, progress, []);
    mb.model.dispose();
    return mb.hash;
  }

  function editJson(name: string, edit: (v: Record<string, unknown>) => void): void {
    const file = path.join(dir, name);
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(v);
    fs.writeFileSync(file, JSON.stringify(v));
  }

  test('covers config.json and the tokenizer files, not only the weights', async () => {
    const before = tf.memory().numTensors;
    const h0 = await hashOf();
    expect(await hashOf()).toBe(h0);

    editJson('config.json', (c) => {
      c.rope_theta = 500000;
    });
    const h1 = await hashOf();
    expect(h1).not.toBe(h0);

    editJson('tokenizer_config.json', (c) => {
      c.add_bos_token = false;
    });
    const h2 = await hashOf();
    expect(h2).not.toBe(h1);

    editJson('tokenizer.json', (t) => {
      t.normalizer = { type: 'Lowercase' };
    });
    expect(await hashOf()).not.toBe(h2);
    expect(tf.memory().numTensors).toBe(before);
  }, 60000);
});

describe('a pretrained model that does not know its facts', () => {
  test('is named in a WARNING note of the run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-knowledge-note-'));
    try {
      const file = path.join(dir, 'cf.json');
      fs.writeFileSync(
        file,
        JSON.stringify(
          [['Anka Vole', 'Brest'], ['Bela Rusk', 'Lorca'], ['Cato Imre', 'Zadar']].map(([subject, city], i) => ({
            case_id: i, prompt: `${subject} was born in`, subject, target_new: 'Quimper', ground_truth: city,
            rephrase_prompt: `The birthplace of ${subject} is`, locality_prompt: 'Tomo Lark was born in', locality_ground_truth: 'Brest',
          })),
        ),
      );
      // A learning rate this small leaves the model as initialized: it cannot know its facts.
      const pretrain = { model: { layers: 1, hidden: 16, heads: 2, kvHeads: 2, intermediate: 32 }, epochs: 1, batchSize: 8, warmupSteps: 1, lr: 1e-9 };
      const opts: RunOptions = { dataset: 'counterfact', data: file, editors: ['ft'], seed: 0, out: 'unused', cacheDir: path.join(dir, 'cache') };
      const mb = await defaultDeps({ pretrain, log: () => undefined }).obtainModel(opts, data, progress, ['0', '1', '2']);
      mb.model.dispose();
      expect(mb.notes?.filter((n) => n.startsWith('WARNING')).join(' ')).toMatch(/editPrompts .*below 95%/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);
});
