/**
 * Configurations beyond the reference fixtures, each checked against the naive float64 oracle
 * (test/naive.ts) on the weights as stored in the file: GPT-2 options, Llama-family options, rope
 * scaling, tied heads, F16 / BF16 storage, the `transformer.` prefix and attention buffers.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCheckpointWeights, tf, writeSafetensors } from '@hiedit/tensor-core';
import { createTinyCheckpoint, loadModel } from '../src';
import { fileWeights, maxAbsDiff } from './compare';
import { naiveGpt2, naiveInvFreq, naiveLlama } from './naive';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-variants-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const IDS = [1, 17, 33, 4, 90, 12, 12, 7, 60, 2, 45, 80, 3, 64, 21, 9, 30, 30, 5, 77];

let counter = 0;
async function checkAgainstOracle(
  architecture: 'gpt2' | 'llama', config: Record<string, unknown>, dtype: 'F32' | 'F16' | 'BF16' = 'F32', ids = IDS,
): Promise<Float64Array> {
  const dir = path.join(tmp, `m${counter++}`);
  await createTinyCheckpoint(dir, { architecture, seed: 7 + counter, config, dtype });
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const w = fileWeights(dir);
  const expected = architecture === 'gpt2' ? naiveGpt2(raw, w, ids) : naiveLlama(raw, w, ids);
  const model = await loadModel(dir);
  try {
    expect(model.sourceDtype).toBe(dtype);
    const { data } = model.logits(ids);
    expect(maxAbsDiff(data, expected)).toBeLessThan(1e-4);
    // The oracle must not be trivially satisfied: logits vary across the vocabulary.
    expect(maxAbsDiff(expected.subarray(0, 10), expected.subarray(10, 20))).toBeGreaterThan(1e-3);
  } finally {
    model.dispose();
  }
  return expected;
}

describe('GPT-2 variants against the float64 oracle', () => {
  it('defaults (gelu_new, tied)', () => checkAgainstOracle('gpt2', {}));
  it('untied lm_head, exact gelu, explicit n_inner', () => checkAgainstOracle('gpt2', { tie_word_embeddings: false, activation_function: 'gelu', n_inner: 48 }));
  it('relu, scale_attn_by_inverse_layer_idx, no weight scaling', () =>
    checkAgainstOracle('gpt2', { activation_function: 'relu', scale_attn_by_inverse_layer_idx: true, scale_attn_weights: false, reorder_and_upcast_attn: true }));
  it('F16 and BF16 storage', async () => {
    await checkAgainstOracle('gpt2', {}, 'F16', IDS.slice(0, 12));
    await checkAgainstOracle('gpt2', {}, 'BF16', IDS.slice(0, 12));
  });

  it('tolerates the transformer. prefix and attn.bias / attn.masked_bias buffers, and saves the prefix back', async () => {
    const plain = path.join(tmp, 'gpt2-plain');
    await createTinyCheckpoint(plain, { architecture: 'gpt2', seed: 3 });
    const w = fileWeights(plain);
    const prefixed = path.join(tmp, 'gpt2-prefixed');
    fs.mkdirSync(prefixed);
    fs.copyFileSync(path.join(plain, 'config.json'), path.join(prefixed, 'config.json'));
    const tensors = [...w].map(([n, d]) => ({ name: `transformer.${n}`, shape: [] as number[], data: Float32Array.from(d) }));
    const src = openCheckpointWeights(plain);
    for (const t of tensors) t.shape = src.entry(t.name.slice('transformer.'.length)).shape;
    src.close();
    for (let l = 0; l < 2; l++) {
      const T = 32;
      const tri = new Float32Array(T * T).map((_, i) => (i % T <= Math.floor(i / T) ? 1 : 0));
      tensors.push({ name: `transformer.h.${l}.attn.bias`, shape: [1, 1, T, T], data: tri });
      tensors.push({ name: `transformer.h.${l}.attn.masked_bias`, shape: [], data: new Float32Array([-1e4]) });
    }
    writeSafetensors(path.join(prefixed, 'model.safetensors'), tensors);
    const a = await loadModel(plain);
    const b = await loadModel(prefixed);
    try {
      expect(Array.from(b.logits(IDS.slice(0, 8)).data)).toEqual(Array.from(a.logits(IDS.slice(0, 8)).data));
      expect(b.grad('transformer.h.0.mlp.c_fc.weight', IDS.slice(0, 8)).grad).toEqual(a.grad('h.0.mlp.c_fc.weight', IDS.slice(0, 8)).grad);
      const out = path.join(tmp, 'gpt2-prefixed-saved');
      await b.save(out);
      const names = openCheckpointWeights(out);
      expect(names.has('transformer.wte.weight')).toBe(true);
      expect(names.has('transformer.h.0.attn.bias')).toBe(false);
      names.close();
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('Llama-family variants against the float64 oracle', () => {
  it('defaults (GQA, untied, head_dim from config)', () => checkAgainstOracle('llama', {}));
  it('tied embeddings, no lm_head tensor', async () => {
    await checkAgainstOracle('llama', { tie_word_embeddings: true });
  });
  it('rope_theta 500000 is honoured', async () => {
    const a = await checkAgainstOracle('llama', { rope_theta: 500000 });
    expect(a.length).toBeGreaterThan(0);
  });
  it('llama3 rope_scaling (all three frequency bands) is honoured', async () => {
    const rs = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    // The test is only meaningful if the scaled frequencies differ from the base ones in every band.
    const inv = naiveInvFreq({ rope_theta: 10000, rope_scaling: rs }, 8);
    const base = naiveInvFreq({ rope_theta: 10000 }, 8);
    expect(inv[0]).toBe(base[0]);
    expect(inv[1]).not.toBe(base[1]);
    expect(inv[1]).not.toBe(base[1] / 8);
    expect(inv[3]).toBeCloseTo(base[3] / 8, 15);
    await checkAgainstOracle('llama', { rope_scaling: rs, max_position_embeddings: 512 });
  });
  it('linear rope_scaling', () => checkAgainstOracle('llama', { rope_scaling: { type: 'linear', factor: 4 } }));
  it('attention_bias and mlp_bias, gelu activation, multi-head (no GQA)', () =>
    checkAgainstOracle('llama', { attention_bias: true, mlp_bias: true, hidden_act: 'gelu', num_key_value_heads: 4 }));
  it('qwen2: q/k/v biases', () =>
    checkAgainstOracle('llama', { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], attention_bias: null, mlp_bias: null, head_dim: null, use_sliding_window: false, sliding_window: 4096, max_window_layers: 2 }));
  it('mistral with head_dim != hidden/heads and a sliding window wider than the input', () =>
    checkAgainstOracle('llama', { model_type: 'mistral', attention_bias: null, mlp_bias: null, head_dim: 12, sliding_window: 32 }));
  it('F16 and BF16 storage', async () => {
    await checkAgainstOracle('llama', { tie_word_embeddings: true }, 'F16');
    await checkAgainstOracle('llama', {}, 'BF16');
  });
  it('mistral refuses sequences longer than its sliding window', async () => {
    const dir = path.join(tmp, 'mistral-window');
    await createTinyCheckpoint(dir, { architecture: 'llama', seed: 1, config: { model_type: 'mistral', attention_bias: null, mlp_bias: null, sliding_window: 8 } });
    const m = await loadModel(dir);
    try {
      const before = tf.memory().numTensors;
      expect(() => m.logits(IDS.slice(0, 9))).toThrow(/sliding_window is 8/);
      expect(m.logits(IDS.slice(0, 8)).shape).toEqual([8, 96]);
      expect(() => m.generate(IDS.slice(0, 5), 5)).toThrow(/exceed/);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      m.dispose();
    }
  });
});

describe('sharded checkpoints', () => {
  it('loads model.safetensors.index.json shards with the same logits as the single file', async () => {
    const single = path.join(tmp, 'single');
    await createTinyCheckpoint(single, { architecture: 'llama', seed: 4 });
    const src = openCheckpointWeights(single);
    const names = src.names();
    const tensors = names.map((n) => ({ name: n, shape: src.entry(n).shape, data: src.read(n).data as Float32Array }));
    src.close();
    const sharded = path.join(tmp, 'sharded');
    fs.mkdirSync(sharded);
    fs.copyFileSync(path.join(single, 'config.json'), path.join(sharded, 'config.json'));
    const half = Math.ceil(tensors.length / 2);
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    writeSafetensors(path.join(sharded, files[0]), tensors.slice(0, half), { metadata: { format: 'pt' } });
    writeSafetensors(path.join(sharded, files[1]), tensors.slice(half), { metadata: { format: 'pt' } });
    const weightMap = Object.fromEntries(tensors.map((t, i) => [t.name, files[i < half ? 0 : 1]]));
    fs.writeFileSync(path.join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const a = await loadModel(single);
    const b = await loadModel(sharded);
    try {
      expect(Array.from(b.logits(IDS).data)).toEqual(Array.from(a.logits(IDS).data));
      expect(b.weightsHash()).toBe(a.weightsHash());
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

