/**
 * Gemma-2 and Qwen3 configs and checkpoints at the edges: published configs accepted, settings that cannot be
 * honoured refused by field name, missing or mis-shaped tensors refused by tensor name, and an edited model
 * saved as a Hugging Face directory with the original config fields and tensor names, reloading to the same logits.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, openCheckpointWeights, tf, writeSafetensors } from '@hiedit/tensor-core';
import { loadModel, parseConfig } from '../src';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gemma-qwen-io-'));
beforeAll(() => initBackend());
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FIXTURES = path.join(__dirname, 'fixtures');
const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8'));
const GEMMA2 = readJson(path.join(FIXTURES, 'gemma2_tiny/config.json'));
const QWEN3 = readJson(path.join(FIXTURES, 'qwen3_tiny/config.json'));
const IDS = [2, 464, 329, 0, 17, 999, 42, 42, 7, 256];

describe('parseConfig: Gemma-2', () => {
  it('reads the reference config', () => {
    const c = parseConfig(GEMMA2);
    expect([c.architecture, c.headDim, c.numKvHeads, c.tieWordEmbeddings, c.activation]).toEqual(['gemma2', 32, 2, true, 'gelu_tanh']);
    expect([c.embeddingScale, c.attentionScale, c.attnSoftcap, c.finalSoftcap]).toEqual([8, 1 / Math.sqrt(24), 50, 30]);
    expect([c.normUnitOffset, c.sandwichNorms, c.layerWindows]).toEqual([true, true, [4096, null, 4096]]);
    expect(c.slidingWindow).toBeUndefined();
  });
  it('accepts the config published with gemma-2-9b (hidden_act beside hidden_activation, sliding_window_size)', () => {
    const c = parseConfig({
      architectures: ['Gemma2ForCausalLM'], attention_bias: false, attention_dropout: 0.0, attn_logit_softcapping: 50.0,
      bos_token_id: 2, cache_implementation: 'hybrid', eos_token_id: 1, final_logit_softcapping: 30.0, head_dim: 256,
      hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh', hidden_size: 3584, initializer_range: 0.02,
      intermediate_size: 14336, max_position_embeddings: 8192, model_type: 'gemma2', num_attention_heads: 16,
      num_hidden_layers: 42, num_key_value_heads: 8, pad_token_id: 0, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6,
      rope_theta: 10000.0, sliding_window: 4096, sliding_window_size: 4096, torch_dtype: 'float32',
      transformers_version: '4.42.0.dev0', use_cache: true, vocab_size: 256000,
    });
    expect([c.headDim, c.numHeads * c.headDim, c.layerWindows?.length, c.layerWindows?.[1]]).toEqual([256, 4096, 42, null]);
  });
  it('takes Gemma2Config defaults for omitted fields and null as off', () => {
    const minimal = { model_type: 'gemma2', vocab_size: 10, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 8 };
    const c = parseConfig(minimal);
    expect([c.numKvHeads, c.headDim, c.attnSoftcap, c.finalSoftcap, c.attentionScale, c.layerWindows, c.tieWordEmbeddings])
      .toEqual([4, 256, 50, 30, 1 / 16, [4096, null], true]);
    const off = parseConfig({ ...minimal, attn_logit_softcapping: null, final_logit_softcapping: null, sliding_window: null });
    expect([off.attnSoftcap, off.finalSoftcap, off.layerWindows]).toEqual([undefined, undefined, undefined]);
  });
  it('refuses what it cannot honour, naming the field', () => {
    expect(() => parseConfig({ ...GEMMA2, hidden_act: 'silu' })).toThrow(/field "hidden_act" \("silu"\) differs from hidden_activation/);
    expect(() => parseConfig({ ...GEMMA2, sliding_window_size: 512 })).toThrow(/field "sliding_window_size" \(512\) differs from sliding_window \(4096\)/);
    expect(() => parseConfig({ ...GEMMA2, layer_types: ['sliding_attention'] })).toThrow(/field "layer_types" lists 1 layers, num_hidden_layers is 3/);
    expect(() => parseConfig({ ...GEMMA2, layer_types: ['local', 'global', 'local'] })).toThrow(/field "layer_types" must list/);
    expect(() => parseConfig({ ...GEMMA2, sliding_window: null, layer_types: ['sliding_attention', 'full_attention', 'full_attention'] }))
      .toThrow(/field "sliding_window" is null, but layer_types has sliding_attention layers/);
    expect(() => parseConfig({ ...GEMMA2, attn_logit_softcapping: -1 })).toThrow(/field "attn_logit_softcapping" must be > 0/);
    expect(() => parseConfig({ ...GEMMA2, query_pre_attn_scalar: 0 })).toThrow(/field "query_pre_attn_scalar" must be > 0/);
    expect(() => parseConfig({ ...GEMMA2, hidden_activation: 'mish' })).toThrow(/field "hidden_activation" names an unsupported activation/);
    expect(() => parseConfig({ ...GEMMA2, use_bidirectional_attention: true })).toThrow(/field "use_bidirectional_attention" is not understood/);
    expect(() => parseConfig({ ...GEMMA2, mlp_bias: false })).toThrow(/field "mlp_bias" is not understood .* "gemma2"/);
    expect(() => parseConfig({ ...GEMMA2, rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(/rope_scaling" has type "yarn"/);
  });
});

describe('parseConfig: Qwen3', () => {
  it('reads the reference config', () => {
    const c = parseConfig(QWEN3);
    expect([c.architecture, c.modelType, c.headDim, c.qkNorm, c.tieWordEmbeddings, c.qkvBias, c.outBias, c.layerWindows])
      .toEqual(['llama', 'qwen3', 32, true, true, false, false, undefined]);
  });
  it('accepts the config published with Qwen3-0.6B', () => {
    const c = parseConfig({
      architectures: ['Qwen3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643,
      eos_token_id: 151645, head_dim: 128, hidden_act: 'silu', hidden_size: 1024, initializer_range: 0.02,
      intermediate_size: 3072, max_position_embeddings: 40960, max_window_layers: 28, model_type: 'qwen3',
      num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null,
      rope_theta: 1000000, sliding_window: null, tie_word_embeddings: true, torch_dtype: 'bfloat16',
      transformers_version: '4.51.0', use_cache: true, use_sliding_window: false, vocab_size: 151936,
    });
    expect([c.headDim, c.numHeads * c.headDim, c.ropeTheta, c.layerWindows]).toEqual([128, 2048, 1e6, undefined]);
  });
  it('honours use_sliding_window with max_window_layers, attention_bias on q/k/v/o', () => {
    const c = parseConfig({ ...QWEN3, use_sliding_window: true, sliding_window: 16, max_window_layers: 2, attention_bias: true });
    expect([c.layerWindows, c.qkvBias, c.outBias]).toEqual([[null, null, 16], true, true]);
  });
  it('refuses what it cannot honour, naming the field', () => {
    expect(() => parseConfig({ ...QWEN3, mlp_bias: true })).toThrow(/field "mlp_bias" is true, but qwen3 has no mlp_bias setting/);
    expect(() => parseConfig({ ...QWEN3, layer_types: ['full_attention'] })).toThrow(/field "layer_types" lists 1 layers/);
    expect(() => parseConfig({ ...QWEN3, partial_rotary_factor: 0.5 })).toThrow(/field "partial_rotary_factor"/);
    expect(() => parseConfig({ ...QWEN3, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } })).toThrow(/"yarn"/);
    expect(() => parseConfig({ ...QWEN3, num_key_value_heads: 3 })).toThrow(/num_key_value_heads" \(3\) must divide/);
    expect(() => parseConfig({ ...QWEN3, head_dim: 15 })).toThrow(/head_dim" \(15\) must be even/);
  });
});

describe('bad Gemma-2 / Qwen3 checkpoints are refused by tensor name, leaving nothing allocated', () => {
  type T = { name: string; shape: number[]; data: Float32Array };
  function tensorsOf(fixture: string): T[] {
    const src = openCheckpointWeights(path.join(FIXTURES, fixture));
    try {
      return src.names().map((n) => ({ name: n, shape: src.entry(n).shape, data: src.read(n).data as Float32Array }));
    } finally {
      src.close();
    }
  }
  let counter = 0;
  async function expectRefused(fixture: string, edit: (ts: T[]) => T[], pattern: RegExp): Promise<void> {
    const dir = path.join(tmp, `bad${counter++}`);
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(FIXTURES, fixture, 'config.json'), path.join(dir, 'config.json'));
    writeSafetensors(path.join(dir, 'model.safetensors'), edit(tensorsOf(fixture)));
    const before = tf.memory().numTensors;
    await expect(loadModel(dir)).rejects.toThrow(pattern);
    expect(tf.memory().numTensors).toBe(before);
  }
  const drop = (name: string) => (ts: T[]): T[] => ts.filter((t) => t.name !== name);
  const halve = (name: string) => (ts: T[]): T[] => ts.map((t) => (t.name === name ? { ...t, shape: [t.shape[0] / 2, ...t.shape.slice(1)], data: t.data.slice(0, t.data.length / 2) } : t));

  it('a missing Gemma-2 norm weight', async () => {
    await expectRefused('gemma2_tiny', drop('model.layers.1.post_feedforward_layernorm.weight'), /missing tensor "model\.layers\.1\.post_feedforward_layernorm\.weight"/);
    await expectRefused('gemma2_tiny', drop('model.layers.2.pre_feedforward_layernorm.weight'), /missing tensor "model\.layers\.2\.pre_feedforward_layernorm\.weight"/);
  });
  it('a missing Qwen3 q_norm / k_norm', async () => {
    await expectRefused('qwen3_tiny', drop('model.layers.0.self_attn.q_norm.weight'), /missing tensor "model\.layers\.0\.self_attn\.q_norm\.weight"/);
    await expectRefused('qwen3_tiny', drop('model.layers.2.self_attn.k_norm.weight'), /missing tensor "model\.layers\.2\.self_attn\.k_norm\.weight"/);
  });
  it('wrong shapes', async () => {
    await expectRefused('qwen3_tiny', halve('model.layers.1.self_attn.k_norm.weight'), /tensor "model\.layers\.1\.self_attn\.k_norm\.weight" has shape \[16\], config\.json implies \[32\]/);
    await expectRefused('gemma2_tiny', halve('model.layers.0.self_attn.q_proj.weight'), /tensor "model\.layers\.0\.self_attn\.q_proj\.weight" has shape \[64,64\], config\.json implies \[128,64\]/);
    await expectRefused('gemma2_tiny', halve('model.layers.2.post_attention_layernorm.weight'), /tensor "model\.layers\.2\.post_attention_layernorm\.weight" has shape \[32\], config\.json implies \[64\]/);
  });
  it('q/k norms under a config without them (Qwen2) are unexpected tensors', async () => {
    const dir = path.join(tmp, 'qwen2-with-qnorm');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...QWEN3, model_type: 'qwen2', sliding_window: null, use_sliding_window: false }));
    writeSafetensors(path.join(dir, 'model.safetensors'), tensorsOf('qwen3_tiny'));
    await expect(loadModel(dir)).rejects.toThrow(/unexpected tensor "model\.layers\.\d\.self_attn\.[qk]_norm\.weight" for a qwen2 model/);
  });
});

describe('an edited Gemma-2 / Qwen3 saves as a Hugging Face directory and reloads', () => {
  it.each([['gemma2_tiny', 'F32'], ['qwen3_tiny', 'BF16']] as const)('%s (saved as %s)', async (fixture, dtype) => {
    const srcDir = path.join(FIXTURES, fixture);
    const model = await loadModel(srcDir);
    const out = path.join(tmp, `saved-${fixture}`);
    try {
      const m = model.module('model.layers.1.mlp.down_proj');
      const before = model.logits(IDS).data;
      const delta = tf.fill([m.dIn, m.dOut], 0.01) as tf.Tensor2D;
      model.addShift(m.name, delta);
      delta.dispose();
      const edited = model.logits(IDS).data;
      expect(Math.max(...edited.map((x, i) => Math.abs(x - before[i])))).toBeGreaterThan(1e-3);
      await model.save(out, { dtype });
      const saved = readJson(path.join(out, 'config.json'));
      const original = readJson(path.join(srcDir, 'config.json'));
      expect(saved).toEqual({ ...original, torch_dtype: dtype === 'F32' ? 'float32' : 'bfloat16' });
      const a = openCheckpointWeights(srcDir);
      const b = openCheckpointWeights(out);
      expect(b.names().sort()).toEqual(a.names().sort());
      expect(b.names().includes('lm_head.weight')).toBe(false);
      for (const n of a.names()) expect(b.entry(n).shape).toEqual(a.entry(n).shape);
      a.close();
      b.close();
      const reloaded = await loadModel(out);
      try {
        expect(reloaded.config.layerWindows).toEqual(model.config.layerWindows);
        const again = reloaded.logits(IDS).data;
        const tol = dtype === 'F32' ? 0 : 0.5;
        expect(Math.max(...again.map((x, i) => Math.abs(x - edited[i])))).toBeLessThanOrEqual(tol);
        if (dtype === 'F32') expect(Array.from(again)).toEqual(Array.from(edited));
      } finally {
        reloaded.dispose();
      }
    } finally {
      model.dispose();
    }
  });
});
