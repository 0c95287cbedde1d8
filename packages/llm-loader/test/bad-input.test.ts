/** Bad configs and bad checkpoints: each a clear error naming the file and the problem, nothing left allocated. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCheckpointWeights, tf, writeSafetensors } from '@hiedit/tensor-core';
import { createTinyCheckpoint, loadModel, parseConfig } from '../src';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-bad-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const LLAMA = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures/llama_tiny/config.json'), 'utf8'));
const GPT2 = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures/gpt2_tiny/config.json'), 'utf8'));

describe('parseConfig', () => {
  const without = (o: Record<string, unknown>, k: string): Record<string, unknown> => {
    const c = { ...o };
    delete c[k];
    return c;
  };
  it('accepts the reference configs', () => {
    expect(parseConfig(GPT2).intermediateSize).toBe(256);
    const l = parseConfig(LLAMA);
    expect([l.numKvHeads, l.headDim, l.tieWordEmbeddings]).toEqual([2, 16, false]);
  });
  it('accepts configs as published for real checkpoints', () => {
    const gpt2 = parseConfig({
      activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], attn_pdrop: 0.1, bos_token_id: 50256,
      embd_pdrop: 0.1, eos_token_id: 50256, initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: 'gpt2',
      n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024, resid_pdrop: 0.1,
      summary_activation: null, summary_first_dropout: 0.1, summary_proj_to_labels: true,
      summary_type: 'cls_index', summary_use_proj: true, task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
      vocab_size: 50257,
    });
    expect([gpt2.intermediateSize, gpt2.tieWordEmbeddings, gpt2.activation]).toEqual([3072, true, 'gelu_tanh']);
    const llama32 = parseConfig({
      architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000,
      eos_token_id: [128001, 128008, 128009], head_dim: 64, hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02,
      intermediate_size: 8192, max_position_embeddings: 131072, mlp_bias: false, model_type: 'llama',
      num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
      rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
      rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.45.0.dev0',
      use_cache: true, vocab_size: 128256,
    });
    expect(llama32.ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(llama32.eosTokenId).toEqual([128001, 128008, 128009]);
    const qwen = parseConfig({
      architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151643,
      hidden_act: 'silu', hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768,
      max_window_layers: 24, model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2,
      rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16',
      transformers_version: '4.40.1', use_cache: true, use_sliding_window: false, vocab_size: 151936,
    });
    expect([qwen.qkvBias, qwen.outBias, qwen.headDim, qwen.slidingWindow]).toEqual([true, false, 64, undefined]);
    const mistral = parseConfig({
      architectures: ['MistralForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 4096,
      initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 32768, model_type: 'mistral',
      num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 10000.0,
      sliding_window: 4096, tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.34.0.dev0',
      use_cache: true, vocab_size: 32000,
    });
    expect([mistral.slidingWindow, mistral.qkvBias]).toEqual([4096, false]);
  });

  it('names the file and a missing required field', () => {
    expect(() => parseConfig(without(LLAMA, 'hidden_size'), '/m/config.json')).toThrow('/m/config.json: field "hidden_size" is required but missing');
    expect(() => parseConfig(without(GPT2, 'n_layer'), 'config.json')).toThrow(/config.json: field "n_layer" is required/);
    expect(() => parseConfig(without(LLAMA, 'model_type'))).toThrow(/"model_type" is required/);
  });
  it('refuses an unknown model_type', () => {
    expect(() => parseConfig({ ...LLAMA, model_type: 'gemma' })).toThrow(/model_type" is "gemma", which is not supported/);
  });
  it('refuses unsupported rope_scaling types and unknown rope fields', () => {
    expect(() => parseConfig({ ...LLAMA, rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(/rope_scaling" has type "yarn", which is not supported/);
    expect(() => parseConfig({ ...LLAMA, rope_scaling: { type: 'dynamic', factor: 2 } })).toThrow(/"dynamic"/);
    expect(() => parseConfig({ ...LLAMA, rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(/low_freq_factor" is required/);
    expect(() => parseConfig({ ...LLAMA, rope_scaling: { rope_type: 'linear', factor: 2, mscale: 1 } })).toThrow(/"mscale" is not understood/);
  });
  it('refuses settings it cannot honour and fields it does not know', () => {
    expect(() => parseConfig({ ...LLAMA, quantization_config: { bits: 4 } })).toThrow(/"quantization_config" is not understood/);
    expect(() => parseConfig({ ...GPT2, add_cross_attention: true })).toThrow(/add_cross_attention" is true/);
    expect(() => parseConfig({ ...GPT2, activation_function: 'mish' })).toThrow(/unsupported activation "mish"/);
    expect(() => parseConfig({ ...LLAMA, num_key_value_heads: 3 })).toThrow(/num_key_value_heads" \(3\) must divide/);
    expect(() => parseConfig({ ...LLAMA, partial_rotary_factor: 0.5 })).toThrow(/partial_rotary_factor/);
    expect(() => parseConfig({ ...LLAMA, model_type: 'mistral', attention_bias: true })).toThrow(/mistral has no attention_bias/);
    expect(() => parseConfig({ ...GPT2, n_ctx: 128 })).toThrow(/n_ctx/);
    expect(() => parseConfig({ ...LLAMA, hidden_size: 64.5 })).toThrow(/hidden_size" must be an integer/);
    expect(() => parseConfig([1])).toThrow(/expected a JSON object/);
  });
});

describe('loadModel refuses bad checkpoints without leaking', () => {
  let base: string;
  let names: string[];
  let read: (n: string) => { shape: number[]; data: Float32Array };
  beforeAll(async () => {
    base = path.join(tmp, 'base');
    await createTinyCheckpoint(base, { architecture: 'llama', seed: 1 });
    const src = openCheckpointWeights(base);
    names = src.names();
    const cache = new Map(names.map((n) => [n, src.read(n)]));
    src.close();
    read = (n) => cache.get(n) as { shape: number[]; data: Float32Array };
  });

  function variant(name: string, tensors: { name: string; shape: number[]; data: Float32Array }[], config?: object): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config ?? JSON.parse(fs.readFileSync(path.join(base, 'config.json'), 'utf8'))));
    // Some variants hold NaN / Inf on purpose: the loader's refusal is under test.
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { allowNonFinite: true });
    return dir;
  }
  const all = (): { name: string; shape: number[]; data: Float32Array }[] => names.map((n) => ({ name: n, ...read(n) }));

  async function expectRefused(dir: string, pattern: RegExp): Promise<void> {
    const before = tf.memory().numTensors;
    await expect(loadModel(dir)).rejects.toThrow(pattern);
    expect(tf.memory().numTensors).toBe(before);
  }

  it('missing tensor', async () => {
    const dir = variant('missing', all().filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'));
    await expectRefused(dir, /model\.safetensors: missing tensor "model\.layers\.1\.mlp\.up_proj\.weight"/);
  });
  it('unexpected tensor', async () => {
    const dir = variant('unexpected', [...all(), { name: 'model.layers.9.extra', shape: [2], data: new Float32Array(2) }]);
    await expectRefused(dir, /unexpected tensor "model\.layers\.9\.extra"/);
  });
  it('mis-shaped tensor', async () => {
    const ts = all().map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [t.shape[0] / 2], data: t.data.slice(0, t.shape[0] / 2) } : t));
    await expectRefused(variant('shape', ts), /tensor "model\.norm\.weight" has shape \[32\], config\.json implies \[64\]|tensor "model\.norm\.weight" has shape \[16\], config\.json implies \[32\]/);
  });
  it('NaN and Inf weights, even in the last tensor (after others were uploaded)', async () => {
    const last = names[names.length - 1];
    const nan = all().map((t) => (t.name === last ? { ...t, data: Float32Array.from(t.data, (x, i) => (i === 3 ? NaN : x)) } : t));
    await expectRefused(variant('nan', nan), new RegExp(`"${last.replace(/\./g, '\\.')}" in .*model\\.safetensors.*non-finite`));
    const inf = all().map((t) => (t.name === 'model.embed_tokens.weight' ? { ...t, data: Float32Array.from(t.data, (x, i) => (i === 0 ? -Infinity : x)) } : t));
    await expectRefused(variant('inf', inf), /model\.embed_tokens\.weight.*non-finite/);
  });
  it('config.json missing, invalid, or with an unknown model_type', async () => {
    const none = path.join(tmp, 'noconfig');
    fs.mkdirSync(none);
    await expectRefused(none, /config\.json: not found/);
    const bad = variant('badjson', all());
    fs.writeFileSync(path.join(bad, 'config.json'), '{"model_type": ');
    await expectRefused(bad, /config\.json: invalid JSON/);
    await expectRefused(variant('unknown-type', all(), { ...LLAMA, model_type: 'falcon' }), /config\.json: field "model_type" is "falcon"/);
  });
  it('tokenizer requested but absent', async () => {
    await expect(loadModel(base, { tokenizer: true })).rejects.toThrow(/tokenizer\.json: not found/);
  });
  it('a tied config with an lm_head that differs from the embedding', async () => {
    const cfg = { ...JSON.parse(fs.readFileSync(path.join(base, 'config.json'), 'utf8')), tie_word_embeddings: true };
    await expectRefused(variant('tied-differs', all(), cfg), /lm_head\.weight" differs from the embedding/);
  });
});
