/**
 * Building CausalLM instances: from a Hugging Face directory (loadModel), from a config and a seed
 * (createModel), and seeded tiny checkpoints on disk for tests and benchmarks (createTinyCheckpoint).
 * Loading validates everything before the model exists: missing, unexpected or mis-shaped tensors and
 * non-finite values are errors naming the file and the tensor, and nothing stays allocated on failure.
 */
import { createHash, type Hash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, isFloatDType, openCheckpointWeights, readFiniteFloat, readJsonFile, tf, type SafeDType } from '@hiedit/tensor-core';
import { CausalLM } from './causal-lm';
import { parseConfig, type Architecture, type ModelConfig } from './config';
import { initValues, WeightRng } from './init';
import type { ArchImpl, ParamSpec } from './models/arch';
import { gpt2 } from './models/gpt2';
import { llama } from './models/llama';
import type { SaveDType } from './save';
import { loadTokenizer, type Tokenizer } from './tokenizer';

/** Options of loadModel. */
export interface LoadOptions {
  /** Load tokenizer.json: default when it exists; true makes its absence an error; false skips it. */
  tokenizer?: boolean;
}

function archOf(cfg: ModelConfig): ArchImpl {
  // Gemma-2 is the rotary decoder with its options on (see models/llama.ts).
  return cfg.architecture === 'gpt2' ? gpt2 : llama;
}

/** Host data in checkpoint layout -> variable in internal layout (linear weights (dIn, dOut)). */
function toVariable(spec: ParamSpec, data: Float32Array): tf.Variable {
  return tf.tidy(() => {
    const t = tf.tensor(data, [...spec.shape], 'float32');
    return tf.variable(spec.transposed ? tf.transpose(t) : t, false);
  });
}

function hashParam(h: Hash, spec: ParamSpec, data: Float32Array): void {
  h.update(`${spec.key}:${spec.shape.join('x')};`);
  h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function disposeAll(ws: Map<string, tf.Variable>): void {
  for (const v of ws.values()) v.dispose();
  ws.clear();
}

/** Reads and validates config.json of a model directory. */
export function readConfig(dir: string): ModelConfig {
  const file = path.join(path.resolve(dir), 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${file}: not found (a model directory needs config.json)`);
  return parseConfig(readJsonFile(file), file);
}

/**
 * Loads a Hugging Face model directory: config.json, model.safetensors (or its sharded index) and,
 * when present, tokenizer.json. Calls initBackend() first.
 */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<CausalLM> {
  await initBackend();
  const abs = path.resolve(dir);
  const config = readConfig(abs);
  const arch = archOf(config);
  const specs = arch.params(config);

  let tokenizer: Tokenizer | undefined;
  const tokFile = path.join(abs, 'tokenizer.json');
  if (opts.tokenizer === true && !fs.existsSync(tokFile)) throw new Error(`${tokFile}: not found (tokenizer requested)`);
  if (opts.tokenizer !== false && fs.existsSync(tokFile)) {
    tokenizer = await loadTokenizer(abs);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new Error(`${tokFile}: tokenizer has ${tokenizer.vocabSize} ids but config.json vocab_size is ${config.vocabSize}; tokenizer and model do not match`);
    }
  }

  const src = openCheckpointWeights(abs);
  const weights = new Map<string, tf.Variable>();
  try {
    const where = src.files.length === 1 ? src.files[0] : `${abs} (${src.files.length} shards)`;
    const names = src.names();
    // Some GPT-2 files store the base model under `transformer.`; lm_head never carries it.
    const prefix = config.architecture === 'gpt2' && names.some((n) => n.startsWith('transformer.')) ? 'transformer.' : '';
    const fileName = (key: string): string => (key === 'lm_head.weight' ? key : prefix + key);
    const wanted = new Set(specs.map((s) => fileName(s.key)));
    const tiedHead = config.tieWordEmbeddings && names.includes('lm_head.weight');
    for (const n of names) {
      const key = prefix && n.startsWith(prefix) ? n.slice(prefix.length) : n;
      if (wanted.has(n) || arch.isBuffer(key) || (tiedHead && n === 'lm_head.weight')) continue;
      throw new Error(`${where}: unexpected tensor "${n}" for a ${config.modelType} model with this config.json`);
    }
    for (const s of specs) {
      const n = fileName(s.key);
      if (!src.has(n)) throw new Error(`${where}: missing tensor "${n}"`);
      const e = src.entry(n);
      if (!isFloatDType(e.dtype)) throw new Error(`${e.file}: tensor "${n}" has dtype ${e.dtype}, expected a floating dtype`);
      if (e.shape.length !== s.shape.length || e.shape.some((d, i) => d !== s.shape[i])) {
        throw new Error(`${e.file}: tensor "${n}" has shape [${e.shape}], config.json implies [${s.shape}]`);
      }
    }
    const sourceDtype: SafeDType = src.entry(fileName(specs[0].key)).dtype;
    const h = createHash('sha256');
    for (const s of specs) {
      const t = readFiniteFloat(src, fileName(s.key));
      hashParam(h, s, t.data);
      weights.set(s.key, toVariable(s, t.data));
    }
    if (tiedHead) {
      // Hugging Face ties the head to the embedding and drops this tensor; accept it only if identical.
      const t = readFiniteFloat(src, 'lm_head.weight');
      const emb = weights.get(arch.embeddingKey)!;
      const same = t.shape.join() === emb.shape.join() && tf.tidy(() => tf.all(tf.equal(emb, tf.tensor(t.data, t.shape))).dataSync()[0] === 1);
      if (!same) throw new Error(`${src.entry('lm_head.weight').file}: tensor "lm_head.weight" differs from the embedding but config.json says tie_word_embeddings`);
    }
    return new CausalLM({ config, arch, weights, sourceDtype, hash: h.digest('hex'), prefix, dir: abs, tokenizer });
  } catch (e) {
    disposeAll(weights);
    throw e;
  } finally {
    src.close();
  }
}

function isModelConfig(c: unknown): c is ModelConfig {
  return typeof c === 'object' && c !== null && 'architecture' in c && 'raw' in c && 'hiddenSize' in c;
}

/**
 * A model with seeded random weights, in memory. Matrices and embeddings ~ N(0, initializer_range
 * (default 0.02)); norm gains 1 + N(0, 0.1); biases ~ N(0, initializer_range).
 */
export function createModel(config: ModelConfig | Record<string, unknown>, seed: number): CausalLM {
  try {
    tf.backend();
  } catch (e) {
    throw new Error(`createModel: no tfjs backend is ready (${(e as Error).message}); await initBackend() from @hiedit/tensor-core first (loadModel and createTinyCheckpoint do)`);
  }
  const cfg = isModelConfig(config) ? config : parseConfig(config, 'config');
  const arch = archOf(cfg);
  const init = cfg.raw.initializer_range;
  const std = typeof init === 'number' && init > 0 ? init : 0.02;
  const rng = new WeightRng(seed);
  const weights = new Map<string, tf.Variable>();
  const h = createHash('sha256');
  try {
    for (const s of arch.params(cfg)) {
      const data = initValues(s.init, s.shape.reduce((a, b) => a * b, 1), rng, std);
      hashParam(h, s, data);
      weights.set(s.key, toVariable(s, data));
    }
  } catch (e) {
    disposeAll(weights);
    throw e;
  }
  return new CausalLM({ config: cfg, arch, weights, sourceDtype: 'F32', hash: h.digest('hex') });
}

const TINY_DEFAULTS: Record<Architecture, Record<string, unknown>> = {
  gpt2: {
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 96, n_positions: 32, n_embd: 32,
    n_layer: 2, n_head: 4, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5,
    scale_attn_weights: true, tie_word_embeddings: true, bos_token_id: 95, eos_token_id: 95, initializer_range: 0.1,
  },
  llama: {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 96, hidden_size: 32,
    intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8,
    hidden_act: 'silu', max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null,
    tie_word_embeddings: false, attention_bias: false, mlp_bias: false, bos_token_id: 1, eos_token_id: 2,
    initializer_range: 0.1,
  },
  gemma2: {
    architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', vocab_size: 96, hidden_size: 32,
    intermediate_size: 64, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16,
    hidden_activation: 'gelu_pytorch_tanh', max_position_embeddings: 64, rms_norm_eps: 1e-6, rope_theta: 10000,
    query_pre_attn_scalar: 24, sliding_window: 4096, attn_logit_softcapping: 50, final_logit_softcapping: 30,
    tie_word_embeddings: true, attention_bias: false, bos_token_id: 2, eos_token_id: 1, pad_token_id: 0,
    initializer_range: 0.1,
  },
};

/** Fields whose null means something other than absent (an absent field takes the config class's default). */
const MEANINGFUL_NULL = new Set(['n_inner', 'rope_scaling', 'sliding_window', 'attn_logit_softcapping', 'final_logit_softcapping']);

/**
 * Writes a seeded random Hugging Face checkpoint (config.json + model.safetensors) to `dir`. `config`
 * entries override the tiny defaults of the architecture (a value of null removes a default).
 */
export async function createTinyCheckpoint(
  dir: string,
  spec: { architecture: Architecture; seed: number; config?: Record<string, unknown>; dtype?: SaveDType },
): Promise<void> {
  const base = TINY_DEFAULTS[spec.architecture];
  if (!base) throw new Error(`createTinyCheckpoint: unknown architecture ${JSON.stringify(spec.architecture)} (gpt2, llama or gemma2)`);
  const raw: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(spec.config ?? {})) {
    if (v === null && !MEANINGFUL_NULL.has(k)) delete raw[k];
    else raw[k] = v;
  }
  await initBackend();
  const model = createModel(parseConfig(raw, 'createTinyCheckpoint config'), spec.seed);
  try {
    await model.save(dir, { dtype: spec.dtype ?? 'F32' });
  } finally {
    model.dispose();
  }
}
