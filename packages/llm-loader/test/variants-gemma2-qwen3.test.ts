/**
 * Gemma-2 and Qwen3 beyond the reference fixtures, each checked against the naive float64 oracle
 * (test/naive.ts) on the weights as stored: windows shorter than the sequence (forward, KV-cache generation
 * and gradients), layer_types, untied heads, one key/value head, biases, soft-caps off, F16 / BF16 storage.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '@hiedit/tensor-core';
import { createTinyCheckpoint, loadModel, type CausalLM } from '../src';
import { fileWeights, maxAbsDiff, relL2 } from './compare';
import { naiveGemma2Qwen3, naiveLoss } from './naive';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gemma-qwen-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const IDS = [2, 17, 33, 4, 90, 12, 12, 7, 60, 1, 45, 80, 3, 64, 21, 9];

type Raw = Record<string, unknown>;
type Weights = Map<string, Float64Array>;

function argmaxLast(logits: Float64Array, V: number): number {
  const row = logits.subarray(logits.length - V);
  let best = 0;
  for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
  return best;
}

const QWEN3: Raw = {
  model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], head_dim: 16, tie_word_embeddings: true, num_hidden_layers: 3,
  use_sliding_window: false, sliding_window: null, max_window_layers: 3, mlp_bias: null, rms_norm_eps: 1e-6,
};

interface Made {
  dir: string;
  raw: Raw;
  w: Weights;
  model: CausalLM;
}

let counter = 0;
async function make(kind: 'gemma2' | 'qwen3', config: Raw, dtype: 'F32' | 'F16' | 'BF16' = 'F32'): Promise<Made> {
  const dir = path.join(tmp, `m${counter++}`);
  const architecture = kind === 'gemma2' ? 'gemma2' : 'llama';
  await createTinyCheckpoint(dir, { architecture, seed: 11 + counter, config: kind === 'qwen3' ? { ...QWEN3, ...config } : config, dtype });
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Raw;
  return { dir, raw, w: fileWeights(dir), model: await loadModel(dir) };
}

/** Logits of `ids` within 1e-4 of the oracle, which must itself vary across the vocabulary. */
function checkLogits(m: Made, ids = IDS): Float64Array {
  const expected = naiveGemma2Qwen3(m.raw, m.w, ids);
  expect(maxAbsDiff(m.model.logits(ids).data, expected)).toBeLessThan(1e-4);
  expect(maxAbsDiff(expected.subarray(0, 10), expected.subarray(10, 20))).toBeGreaterThan(1e-3);
  return expected;
}

/** Greedy tokens through the KV cache equal the oracle's argmax over the growing sequence. */
function checkGreedy(m: Made, prompt: number[], n: number): void {
  const V = m.raw.vocab_size as number;
  const seq = [...prompt];
  for (let i = 0; i < n; i++) seq.push(argmaxLast(naiveGemma2Qwen3(m.raw, m.w, seq), V));
  expect(m.model.generate(prompt, n)).toEqual(seq.slice(prompt.length));
}

/** The gradient of one tensor within 1e-4 relative L2 of central differences of the oracle's float64 loss. */
function checkGrad(m: Made, name: string, ids = IDS): void {
  const V = m.raw.vocab_size as number;
  const { grad } = m.model.grad(name, ids);
  const t = m.w.get(name)!;
  const fd = new Float64Array(t.length);
  const h = 1e-5;
  for (let i = 0; i < t.length; i++) {
    const x = t[i];
    t[i] = x + h;
    const up = naiveLoss(naiveGemma2Qwen3(m.raw, m.w, ids), ids, V);
    t[i] = x - h;
    const down = naiveLoss(naiveGemma2Qwen3(m.raw, m.w, ids), ids, V);
    t[i] = x;
    fd[i] = (up - down) / (2 * h);
  }
  expect(relL2(grad, fd)).toBeLessThan(1e-4);
}

async function withModel(m: Promise<Made>, fn: (m: Made) => void): Promise<void> {
  const made = await m;
  try {
    fn(made);
  } finally {
    made.model.dispose();
  }
}

describe('the oracle itself', () => {
  it.each(['gemma2_tiny', 'qwen3_tiny'])('reproduces the shared reference logits of %s', (name) => {
    const dir = path.join(__dirname, 'fixtures', name);
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Raw;
    const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as { input_ids: number[]; logits: number[] };
    expect(maxAbsDiff(naiveGemma2Qwen3(raw, fileWeights(dir), ref.input_ids), ref.logits)).toBeLessThan(1e-5);
  });
});

describe('Gemma-2 variants against the float64 oracle', () => {
  it('tiny defaults (window longer than the input)', () => withModel(make('gemma2', {}), (m) => checkLogits(m)));

  it('a window of 5 on the even layers: forward, KV-cache greedy past the window, gradients', () =>
    withModel(make('gemma2', { sliding_window: 5 }), (m) => {
      expect(m.model.config.layerWindows).toEqual([5, null, 5]);
      checkLogits(m);
      checkGreedy(m, IDS.slice(0, 4), 8);
      checkGrad(m, 'model.layers.0.input_layernorm.weight', IDS.slice(0, 12));
      checkGrad(m, 'model.layers.2.post_feedforward_layernorm.weight', IDS.slice(0, 12));
      // The window matters: the same weights with a full-attention config give other logits.
      const full = naiveGemma2Qwen3({ ...m.raw, sliding_window: null }, m.w, IDS);
      expect(maxAbsDiff(full, naiveGemma2Qwen3(m.raw, m.w, IDS))).toBeGreaterThan(1e-3);
    }));

  it('layer_types picks the sliding layers (window 3 on layers 1 and 2)', () =>
    withModel(make('gemma2', { sliding_window: 3, layer_types: ['full_attention', 'sliding_attention', 'sliding_attention'] }), (m) => {
      expect(m.model.config.layerWindows).toEqual([null, 3, 3]);
      checkLogits(m);
      checkGreedy(m, IDS.slice(0, 3), 6);
    }));

  it('untied lm_head, one key/value head, attention_bias, no soft-caps, exact gelu, other query_pre_attn_scalar', () =>
    withModel(make('gemma2', {
      tie_word_embeddings: false, num_key_value_heads: 1, attention_bias: true, attn_logit_softcapping: null,
      final_logit_softcapping: null, hidden_activation: 'gelu', query_pre_attn_scalar: 16,
    }), (m) => {
      expect([m.model.config.attnSoftcap, m.model.config.finalSoftcap]).toEqual([undefined, undefined]);
      checkLogits(m);
      checkGrad(m, 'model.layers.1.self_attn.o_proj.bias');
    }));

  it('strong soft-caps bite (caps 2 and 3) and are differentiated correctly', () =>
    withModel(make('gemma2', { attn_logit_softcapping: 2, final_logit_softcapping: 3, initializer_range: 0.5 }), (m) => {
      const capped = checkLogits(m);
      expect(Math.max(...capped.map(Math.abs))).toBeLessThan(3);
      const uncapped = naiveGemma2Qwen3({ ...m.raw, attn_logit_softcapping: null, final_logit_softcapping: null }, m.w, IDS);
      expect(Math.max(...uncapped.map(Math.abs))).toBeGreaterThan(3);
      const attnOnly = naiveGemma2Qwen3({ ...m.raw, final_logit_softcapping: null }, m.w, IDS);
      expect(maxAbsDiff(attnOnly, uncapped)).toBeGreaterThan(1e-2);
      checkGrad(m, 'model.layers.1.pre_feedforward_layernorm.weight', IDS.slice(0, 10));
    }));

  it('F16 and BF16 storage', async () => {
    await withModel(make('gemma2', { sliding_window: 6 }, 'F16'), (m) => checkLogits(m));
    await withModel(make('gemma2', {}, 'BF16'), (m) => checkLogits(m));
  });

  it('linear rope_scaling and rope_theta', () =>
    withModel(make('gemma2', { rope_scaling: { rope_type: 'linear', factor: 2 }, rope_theta: 500 }), (m) => checkLogits(m)));
});

describe('Qwen3 variants against the float64 oracle', () => {
  it('tied, q/k norms', () => withModel(make('qwen3', {}), (m) => {
    checkLogits(m);
    checkGrad(m, 'model.layers.1.self_attn.k_norm.weight');
  }));

  it('untied, one key/value head, attention_bias, head_dim != hidden / heads', () =>
    withModel(make('qwen3', { tie_word_embeddings: false, num_key_value_heads: 1, attention_bias: true, head_dim: 12 }), (m) => {
      checkLogits(m);
      checkGrad(m, 'model.layers.0.self_attn.q_norm.weight');
    }));

  it('use_sliding_window: window 4 from max_window_layers 1 on, through forward, cache and gradients', () =>
    withModel(make('qwen3', { use_sliding_window: true, sliding_window: 4, max_window_layers: 1 }), (m) => {
      expect(m.model.config.layerWindows).toEqual([null, 4, 4]);
      checkLogits(m);
      checkGreedy(m, IDS.slice(0, 3), 7);
      checkGrad(m, 'model.layers.1.input_layernorm.weight', IDS.slice(0, 10));
    }));

  it('layer_types with use_sliding_window; without it no layer slides', async () => {
    await withModel(make('qwen3', { use_sliding_window: true, sliding_window: 3, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'] }), (m) => {
      expect(m.model.config.layerWindows).toEqual([3, null, 3]);
      checkLogits(m);
    });
    await withModel(make('qwen3', { use_sliding_window: false, sliding_window: 3, max_window_layers: 0 }), (m) => {
      expect(m.model.config.layerWindows).toBeUndefined();
      checkLogits(m);
    });
  });

  it('F16 storage', () => withModel(make('qwen3', {}, 'F16'), (m) => checkLogits(m)));
});

describe('windowed models keep memory tidy', () => {
  it('forward, loss, grad and generation past the window leave no tensors', () =>
    withModel(make('gemma2', { sliding_window: 3 }), (m) => {
      const before = tf.memory().numTensors;
      m.model.logits(IDS);
      m.model.loss(IDS);
      m.model.grad('model.layers.0.self_attn.q_proj.weight', IDS);
      m.model.generate(IDS.slice(0, 2), 6);
      expect(tf.memory().numTensors).toBe(before);
    }));
});
