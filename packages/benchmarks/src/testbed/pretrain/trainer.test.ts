import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, initBackend, type TokenizedTuple } from '@hiedit/tensor-core';
import { loadModel, tokenizerFromDefinition, tokenizeTuple, type CausalLM } from '@hiedit/llm-loader';
import { generateWorld, worldSentences } from '../world';
import { padBatch, type ForwardModel } from './accuracy';
import { SeededRandom } from '@hiedit/tensor-core';
import { epochBatches, ensureWorldModel, formatPretrainReport, learningRate, resolveTrainSettings, trainFactsLM, buildWordTokenizer, writeWordTokenizer, teacherForcedAccuracy, type PretrainArch } from './index';

const quiet = { sink: { write: () => true }, quiet: true };
const progress = (label: string, total: number) => new (require('../../progress').Progress)(label, total, quiet);

const tinySettings = resolveTrainSettings({
  model: { layers: 2, hidden: 32, heads: 2, kvHeads: 2, intermediate: 64, maxPositions: 24 },
  seed: 3,
  epochs: 6,
  batchSize: 32,
  lr: 1e-2,
  warmupSteps: 5,
});

/** A 20-person world's sentences and a word tokenizer over them. */
function tinyWorldData() {
  const examples = worldSentences(generateWorld({ seed: 1, persons: 20, relationsPerPerson: 2 }));
  const files = buildWordTokenizer(examples.map((e) => `${e.prompt} ${e.answer}`));
  const tok = tokenizerFromDefinition({ tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig });
  return { examples, files, tok };
}

/** Both models give bitwise the same logits on the first five tuples. */
function expectSameLogits(a: ForwardModel, b: ForwardModel, tuples: readonly TokenizedTuple[]): void {
  const batch = padBatch(tuples.slice(0, 5), 2);
  const x = a.forward(batch.ids, batch.mask);
  const y = b.forward(batch.ids, batch.mask);
  try {
    expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
  } finally {
    x.dispose();
    y.dispose();
  }
}

describe('pretraining', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-pretrain-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('schedules the learning rate with warmup and cosine decay', () => {
    const s = resolveTrainSettings({ lr: 1, warmupSteps: 10, minLrFraction: 0.1 });
    expect(learningRate(s, 0, 100)).toBeCloseTo(0.1);
    expect(learningRate(s, 9, 100)).toBeCloseTo(1);
    expect(learningRate(s, 99, 100)).toBeCloseTo(0.1, 2);
    expect(learningRate(s, 55, 100)).toBeCloseTo(0.55, 2);
    expect(() => resolveTrainSettings({ model: { hidden: 30, heads: 4 } })).toThrow(/model\.heads/);
  });

  it('covers every example once per epoch, in seeded batches', () => {
    const a = epochBatches(new SeededRandom(1), 100, 32);
    expect(epochBatches(new SeededRandom(1), 100, 32)).toEqual(a);
    expect(epochBatches(new SeededRandom(2), 100, 32)).not.toEqual(a);
    expect(a.map((b) => b.length)).toEqual([32, 32, 32, 4]);
    expect(a.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('lowers the loss, leaks no tensors, and saves a model that loads back with identical logits', async () => {
    const { examples, files, tok } = tinyWorldData();
    const before = tf.memory().numTensors;
    const res = await trainFactsLM({ examples, tokenizer: tok, settings: { ...tinySettings, stopAccuracy: 1 }, progress });
    try {
      expect(res.epochs).toBe(6);
      expect(res.epochLosses[res.epochLosses.length - 1]).toBeLessThan(res.epochLosses[0] * 0.7);
      expect(res.trainAccuracy.count).toBe(examples.length);
      const modelDir = path.join(dir, 'm');
      await res.model.save(modelDir);
      writeWordTokenizer(modelDir, files);
      const back = await loadModel(modelDir);
      try {
        expect(back.tokenizer).toBeDefined();
        const t = tokenizeTuple(back.tokenizer!, examples[0].prompt, examples[0].answer);
        expect(t.ids).toEqual(res.tuples[0].ids);
        expectSameLogits(res.model, back, res.tuples);
        const accA = teacherForcedAccuracy(res.model, res.tuples, { padId: 2 });
        const accB = teacherForcedAccuracy(back, res.tuples, { padId: 2 });
        expect(accB).toEqual(accA);
        expect(accA).toEqual(res.trainAccuracy);
      } finally {
        back.dispose();
      }
    } finally {
      res.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  /** Trains a tiny model of `arch`, checks it (and its saved config.json), saves it and reloads it with identical logits. */
  async function trainSaveReload(arch: PretrainArch, check: (model: CausalLM, savedConfig: Record<string, unknown>) => void): Promise<void> {
    const { examples, files, tok } = tinyWorldData();
    const settings = resolveTrainSettings({ ...tinySettings, model: { ...tinySettings.model, arch }, stopAccuracy: 1 });
    const res = await trainFactsLM({ examples, tokenizer: tok, settings, progress });
    try {
      expect(res.epochLosses[res.epochLosses.length - 1]).toBeLessThan(res.epochLosses[0] * 0.7);
      const modelDir = path.join(dir, arch);
      await res.model.save(modelDir);
      writeWordTokenizer(modelDir, files);
      check(res.model, JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')));
      const back = await loadModel(modelDir);
      try {
        expectSameLogits(res.model, back, res.tuples);
      } finally {
        back.dispose();
      }
    } finally {
      res.model.dispose();
    }
  }

  it.each([['gemma2', 'gemma2'], ['qwen3', 'llama']] as const)('trains a %s model, saved as such, that loads back with identical logits', (arch, architecture) =>
    trainSaveReload(arch, (model, config) => {
      expect([model.config.modelType, model.config.architecture]).toEqual([arch, architecture]);
      expect(config).toMatchObject({ model_type: arch, num_hidden_layers: 2, hidden_size: 32 });
    }));

  it('trains a GPT-2-architecture model when asked, saved as a gpt2 checkpoint that loads back with identical logits', async () => {
    expect(() => resolveTrainSettings({ model: { arch: 'gpt2', heads: 4, kvHeads: 2 } })).toThrow(/gpt2 model has no grouped-query attention/);
    expect(() => resolveTrainSettings({ model: { arch: 'bert' as never } })).toThrow(/model\.arch must be "llama", "gpt2", "gemma2", "qwen3", got "bert"/);
    // llama is the default and is not recorded, so Llama models keep their cache keys
    expect(resolveTrainSettings({ model: { arch: 'llama' } })).toEqual(resolveTrainSettings());
    await trainSaveReload('gpt2', (model, config) => {
      expect(model.config.architecture).toBe('gpt2');
      expect(model.modules.map((m) => m.name)).toContain('h.1.mlp.c_proj');
      expect(config).toMatchObject({ model_type: 'gpt2', n_layer: 2, n_embd: 32, n_inner: 64 });
    });
  });

  it('caches the world model by world and settings', async () => {
    const cacheDir = path.join(dir, 'cache');
    const lines: string[] = [];
    const opts = { world: { seed: 2, persons: 20, relationsPerPerson: 1 }, train: { ...tinySettings, epochs: 2 }, cacheDir, progress, log: (l: string) => lines.push(l) };
    const first = await ensureWorldModel(opts);
    expect(first.cached).toBe(false);
    expect(fs.existsSync(path.join(first.modelDir, 'tokenizer.json'))).toBe(true);
    expect(fs.existsSync(path.join(first.worldDir, 'edits.json'))).toBe(true);
    expect(first.report.accuracy.editPrompts.count).toBeGreaterThan(0);
    expect(first.report.accuracy.paraphrases.count).toBeGreaterThan(first.report.accuracy.editPrompts.count);
    const again = await ensureWorldModel(opts);
    expect(again.cached).toBe(true);
    expect(again.dir).toBe(first.dir);
    const other = await ensureWorldModel({ ...opts, train: { ...opts.train, seed: 4 } });
    expect(other.dir).not.toBe(first.dir);
    const gpt2 = await ensureWorldModel({ ...opts, train: { ...opts.train, model: { ...opts.train.model, arch: 'gpt2' as const } } });
    expect(gpt2.dir).not.toBe(first.dir);
    expect(formatPretrainReport(gpt2.report)).toMatch(/GPT-2 2 layers/);
    expect(JSON.parse(fs.readFileSync(path.join(gpt2.modelDir, 'config.json'), 'utf8')).model_type).toBe('gpt2');
    expect(fs.readdirSync(cacheDir).filter((f) => f.startsWith('.')).length).toBe(0);
  });

  it('marks a model cut short by the time budget and does not serve it to callers without one', async () => {
    const cacheDir = path.join(dir, 'cache-budget');
    const opts = { world: { seed: 5, persons: 20, relationsPerPerson: 1 }, train: { ...tinySettings, epochs: 2 }, cacheDir, progress, log: () => undefined };
    const cut = await ensureWorldModel({ ...opts, maxSeconds: 0 });
    expect(cut.report.truncated).toBe(true);
    expect(cut.report.epochs).toBe(1);
    expect((await ensureWorldModel({ ...opts, maxSeconds: 0 })).cached).toBe(true);
    const full = await ensureWorldModel(opts);
    expect(full.cached).toBe(false);
    expect(full.dir).toBe(cut.dir);
    expect(full.report.truncated).toBe(false);
    expect(full.report.epochs).toBe(2);
  });
});
