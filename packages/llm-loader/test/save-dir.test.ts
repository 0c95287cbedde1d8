/**
 * Saving over an existing model directory: the weights and config are replaced, everything else the
 * directory holds (model cards, licences, other formats' folders) is carried over unchanged.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '@hiedit/tensor-core';
import { createModel, createTinyCheckpoint, loadModel } from '../src';
import { buildWordLevelTokenizer, writeTokenizerFiles } from '../src/tokenizer-files';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-save-dir-'));
beforeAll(() => initBackend());
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

describe('save into an existing model directory', () => {
  it('keeps every file that is not a weight file, config or tokenizer file of the saved model', async () => {
    const dir = path.join(tmp, 'in-place');
    await createTinyCheckpoint(dir, { architecture: 'llama', seed: 1 });
    writeTokenizerFiles(dir, buildWordLevelTokenizer({ words: ['a', 'b'] }));
    write(path.join(dir, 'README.md'), '# model card\n');
    write(path.join(dir, 'LICENSE'), 'licence text');
    write(path.join(dir, 'original', 'params.json'), '{"dim": 32}');
    write(path.join(dir, 'original', 'nested', 'notes.txt'), 'deep');
    // Weights of the old model in another format would contradict the new model.safetensors.
    write(path.join(dir, 'pytorch_model.bin'), 'stale weights');

    const before = tf.memory().numTensors;
    const model = await loadModel(dir);
    try {
      await model.save(dir);
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);

    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('# model card\n');
    expect(fs.readFileSync(path.join(dir, 'LICENSE'), 'utf8')).toBe('licence text');
    expect(fs.readFileSync(path.join(dir, 'original', 'params.json'), 'utf8')).toBe('{"dim": 32}');
    expect(fs.readFileSync(path.join(dir, 'original', 'nested', 'notes.txt'), 'utf8')).toBe('deep');
    expect(fs.existsSync(path.join(dir, 'pytorch_model.bin'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'tokenizer.json'))).toBe(true);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);

    const back = await loadModel(dir);
    try {
      expect(back.tokenizer).toBeDefined();
    } finally {
      back.dispose();
    }
  });

  it('refuses to save as F16 a weight beyond its range, naming the tensor, and leaves the directory as it was', async () => {
    const dir = path.join(tmp, 'f16-overflow');
    const model = createModel({ model_type: 'gpt2', vocab_size: 16, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2 }, 4);
    try {
      await model.save(dir);
      const before = fs.readFileSync(path.join(dir, 'model.safetensors'));
      const m = model.module('h.0.mlp.c_fc');
      const big = tf.fill([m.dIn, m.dOut], 1e5) as tf.Tensor2D;
      model.addShift(m.name, big);
      big.dispose();
      await expect(model.save(dir, { dtype: 'F16' })).rejects.toThrow(/tensor "h\.0\.mlp\.c_fc\.weight" cannot be saved as F16: .*overflow/);
      expect(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(before)).toBe(true);
      await model.save(dir, { dtype: 'BF16' });
    } finally {
      model.dispose();
    }
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
  });

  it('drops the old model\'s shards and tokenizer files when the saved model brings none', async () => {
    const dir = path.join(tmp, 'other-model');
    await createTinyCheckpoint(dir, { architecture: 'gpt2', seed: 2 });
    writeTokenizerFiles(dir, buildWordLevelTokenizer({ words: ['x'] }));
    write(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: { 'wte.weight': 'weights-part-a.safetensors' } }));
    write(path.join(dir, 'weights-part-a.safetensors'), 'old shard');
    write(path.join(dir, 'model-00001-of-00002.safetensors'), 'old shard');
    write(path.join(dir, 'notes.md'), 'kept');
    const model = createModel({ model_type: 'gpt2', vocab_size: 16, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2 }, 3);
    try {
      await model.save(dir);
    } finally {
      model.dispose();
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'notes.md']);
  });
});
