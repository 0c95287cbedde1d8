/**
 * config.json -> ModelConfig. Every field a GPT-2 / Llama / Mistral / Qwen2 / Qwen3 / Gemma-2 config can carry is either
 * honoured, known to be irrelevant to inference in float32 (listed below with the reason), or refused
 * with an error naming the file and the field. Unknown fields are refused too: a field we do not
 * understand might change the math, and a silently wrong model is worse than a loud refusal.
 */

/**
 * Architectures this loader implements. Mistral, Qwen2 and Qwen3 are 'llama' (Qwen3 adds per-head q/k norms);
 * Gemma-2 runs on the same decoder implementation with its own norms, scales, soft-caps and windows.
 */
export type Architecture = 'gpt2' | 'llama' | 'gemma2';

/** Activation functions (Hugging Face ACT2FN names, normalized). */
export type Activation = 'gelu_tanh' | 'gelu_erf' | 'relu' | 'silu' | 'quick_gelu';

/** RoPE frequency scaling, as config.json's rope_scaling says. */
export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

/** A parsed, validated model configuration. */
export interface ModelConfig {
  /** config.json model_type: gpt2, llama, mistral, qwen2, qwen3 or gemma2. */
  modelType: string;
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  /** Longest sequence the model accepts (GPT-2: n_positions; Llama family: max_position_embeddings). */
  maxPositions: number;
  tieWordEmbeddings: boolean;
  bosTokenId?: number;
  eosTokenId?: number | number[];
  /** The config.json as read. Saved back (with torch_dtype updated) by CausalLM.save. */
  raw: Record<string, unknown>;
  activation: Activation;
  /** LayerNorm epsilon (GPT-2) or RMSNorm epsilon (Llama family). */
  normEps: number;
  /** Llama family: bias on q/k/v projections (Qwen2 always; Llama when attention_bias). */
  qkvBias: boolean;
  /** Llama family: bias on o_proj (Llama attention_bias). */
  outBias: boolean;
  /** Llama family: bias on gate/up/down (mlp_bias). */
  mlpBias: boolean;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  /**
   * Sequences longer than this are refused (sliding-window attention is not implemented; below the
   * window it is exactly full causal attention). Undefined when the model has no window.
   */
  slidingWindow?: number;
  /**
   * Attention window per layer, honoured in the forward (Gemma-2, Qwen3): layer i's query at position p sees
   * the keys at positions p - window + 1 .. p. null for a full-attention layer. Undefined when no layer has a
   * window (unlike slidingWindow, nothing is refused).
   */
  layerWindows?: (number | null)[];
  /** Gemma-2: embeddings are multiplied by this (sqrt(hidden_size)). */
  embeddingScale?: number;
  /** Gemma-2: every RMSNorm multiplies by (1 + weight) instead of weight. */
  normUnitOffset?: boolean;
  /** Gemma-2: post-attention, pre-feed-forward and post-feed-forward norms around both sublayers. */
  sandwichNorms?: boolean;
  /** Score scale of the Llama-family attention (default 1 / sqrt(head_dim); Gemma-2 query_pre_attn_scalar^-0.5). */
  attentionScale?: number;
  /** Gemma-2 attn_logit_softcapping: scores become cap * tanh(scores / cap) before the mask. */
  attnSoftcap?: number;
  /** Gemma-2 final_logit_softcapping: logits become cap * tanh(logits / cap). */
  finalSoftcap?: number;
  /** Qwen3: RMSNorm over head_dim of each query and key head (q_norm, k_norm) before RoPE. */
  qkNorm?: boolean;
  /** GPT-2: divide scores by sqrt(head_dim). */
  scaleAttnWeights: boolean;
  /** GPT-2: additionally divide scores of layer i by (i + 1). */
  scaleAttnByInverseLayerIdx: boolean;
}

class ConfigError extends Error {}

/** Fields any Hugging Face PretrainedConfig may carry that do not change a float32 causal-LM forward. */
const GENERIC_IGNORED = new Set([
  'architectures', 'model_type', 'transformers_version', '_name_or_path', 'torch_dtype', 'dtype', 'use_cache',
  'initializer_range', 'pad_token_id', 'sep_token_id', 'decoder_start_token_id', 'return_dict',
  'output_hidden_states', 'output_attentions', 'torchscript', 'use_bfloat16', 'tf_legacy_loss',
  'is_decoder', 'cross_attention_hidden_size', 'chunk_size_feed_forward', 'tie_encoder_decoder',
  'id2label', 'label2id', 'num_labels', 'problem_type', 'finetuning_task', 'tokenizer_class', 'prefix',
  'task_specific_params', 'max_length', 'min_length', 'do_sample', 'early_stopping', 'num_beams',
  'num_beam_groups', 'diversity_penalty', 'temperature', 'top_k', 'top_p', 'typical_p',
  'repetition_penalty', 'length_penalty', 'no_repeat_ngram_size', 'encoder_no_repeat_ngram_size',
  'bad_words_ids', 'num_return_sequences', 'output_scores', 'return_dict_in_generate',
  'forced_bos_token_id', 'forced_eos_token_id', 'remove_invalid_values', 'exponential_decay_length_penalty',
  'suppress_tokens', 'begin_suppress_tokens', 'bos_token_id', 'eos_token_id', 'tie_word_embeddings',
  // dropout is a training-time regularizer; this loader always runs the model in eval mode
  'resid_pdrop', 'embd_pdrop', 'attn_pdrop', 'attention_dropout', 'summary_first_dropout',
  // only split matmuls for pretraining; mathematically the same forward
  'pretraining_tp',
  // GPT-2 sequence-summary head (GPT2DoubleHeadsModel / classification), not part of the causal LM
  'summary_type', 'summary_use_proj', 'summary_activation', 'summary_proj_to_labels',
  // old GPT-2 alias of n_positions; checked against it below
  'n_ctx',
  // fp16 numerics of the attention; this loader always computes attention in float32
  'reorder_and_upcast_attn',
  // kernel selection and training switches of the Python implementation, or stale fields older
  // exports carry that no Hugging Face class reads
  '_attn_implementation_autoset', '_attn_implementation', 'attn_implementation', 'gradient_checkpointing',
  'max_sequence_length', '_num_labels',
]);

const GPT2_FIELDS = new Set([
  'vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'n_inner', 'activation_function',
  'layer_norm_epsilon', 'scale_attn_weights', 'scale_attn_by_inverse_layer_idx', 'add_cross_attention',
  'is_encoder_decoder', 'pruned_heads',
]);

const LLAMA_FAMILY_FIELDS = new Set([
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads',
  'num_key_value_heads', 'head_dim', 'hidden_act', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta',
  'rope_scaling', 'rope_parameters', 'attention_bias', 'mlp_bias', 'sliding_window', 'use_sliding_window',
  'max_window_layers', 'layer_types', 'is_encoder_decoder', 'add_cross_attention', 'pruned_heads',
  'partial_rotary_factor',
]);

const LLAMA_FAMILY = new Set(['llama', 'mistral', 'qwen2']);

/** Reads typed fields of one config, with errors that name the file and the field. */
class Fields {
  constructor(readonly raw: Record<string, unknown>, readonly file: string) {}

  fail(field: string, problem: string): never {
    throw new ConfigError(`${this.file}: field "${field}" ${problem}`);
  }

  has(field: string): boolean {
    return this.raw[field] !== undefined && this.raw[field] !== null;
  }

  int(field: string, fallback?: number, min = 1): number {
    const v = this.raw[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(field, 'is required but missing');
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, `must be an integer, got ${JSON.stringify(v)}`);
    if (v < min) this.fail(field, `must be >= ${min}, got ${v}`);
    return v;
  }

  num(field: string, fallback?: number, positive = true): number {
    const v = this.raw[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(field, 'is required but missing');
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, `must be a finite number, got ${JSON.stringify(v)}`);
    if (positive && !(v > 0)) this.fail(field, `must be > 0, got ${v}`);
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.raw[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(field: string, fallback?: string): string {
    const v = this.raw[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(field, 'is required but missing');
    }
    if (typeof v !== 'string') this.fail(field, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  tokenId(field: string): number | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(field, `must be a token id, got ${JSON.stringify(v)}`);
    return v;
  }

  tokenIds(field: string): number | number[] | undefined {
    const v = this.raw[field];
    if (Array.isArray(v)) {
      for (const x of v) if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) this.fail(field, `must hold token ids, got ${JSON.stringify(v)}`);
      return v as number[];
    }
    return this.tokenId(field);
  }

  refuseTrue(field: string, why: string): void {
    if (this.bool(field, false)) this.fail(field, `is true, but ${why}`);
  }

  refuseNonEmpty(field: string, why: string): void {
    const v = this.raw[field];
    if (v === undefined || v === null) return;
    const empty = (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && Object.keys(v as object).length === 0);
    if (!empty) this.fail(field, `is set (${JSON.stringify(v)}), but ${why}`);
  }

  refuseUnknown(known: Set<string>, modelType: string): void {
    for (const k of Object.keys(this.raw)) {
      if (!known.has(k) && !GENERIC_IGNORED.has(k)) {
        this.fail(k, `is not understood by this loader for model_type "${modelType}" and might change the model; refusing rather than ignoring it`);
      }
    }
  }
}

function activation(f: Fields, field: string, fallback: string): Activation {
  const name = f.str(field, fallback);
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return 'gelu_tanh';
    case 'gelu':
      return 'gelu_erf';
    case 'relu':
      return 'relu';
    case 'silu':
    case 'swish':
      return 'silu';
    case 'quick_gelu':
      return 'quick_gelu';
    default:
      return f.fail(field, `names an unsupported activation "${name}" (supported: gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu, silu, swish, quick_gelu)`);
  }
}

function parseGpt2(f: Fields, modelType: string): ModelConfig {
  f.refuseUnknown(GPT2_FIELDS, modelType);
  f.refuseTrue('add_cross_attention', 'cross-attention layers are not supported (decoder-only causal LM only)');
  f.refuseTrue('is_encoder_decoder', 'encoder-decoder models are not supported');
  f.refuseNonEmpty('pruned_heads', 'pruned attention heads are not supported');
  const hiddenSize = f.int('n_embd');
  const numHeads = f.int('n_head');
  if (hiddenSize % numHeads !== 0) f.fail('n_head', `(${numHeads}) must divide n_embd (${hiddenSize})`);
  const maxPositions = f.int('n_positions');
  if (f.has('n_ctx') && f.int('n_ctx') !== maxPositions) {
    f.fail('n_ctx', `(${f.raw.n_ctx}) differs from n_positions (${maxPositions}); the checkpoint is ambiguous`);
  }
  return {
    modelType,
    architecture: 'gpt2',
    vocabSize: f.int('vocab_size'),
    hiddenSize,
    numLayers: f.int('n_layer'),
    numHeads,
    numKvHeads: numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: f.int('n_inner', 4 * hiddenSize),
    maxPositions,
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenId: f.tokenIds('eos_token_id'),
    raw: f.raw,
    activation: activation(f, 'activation_function', 'gelu_new'),
    normEps: f.num('layer_norm_epsilon', 1e-5),
    qkvBias: true,
    outBias: true,
    mlpBias: true,
    ropeTheta: 0,
    ropeScaling: { type: 'none' },
    scaleAttnWeights: f.bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: f.bool('scale_attn_by_inverse_layer_idx', false),
  };
}

/** rope_scaling (transformers <= 4.x) or rope_parameters (transformers 5): the frequency scaling. */
function ropeScaling(f: Fields): { scaling: RopeScaling; theta?: number } {
  const field = f.has('rope_parameters') ? 'rope_parameters' : 'rope_scaling';
  const v = f.raw[field];
  if (v === undefined || v === null) return { scaling: { type: 'none' } };
  if (typeof v !== 'object' || Array.isArray(v)) f.fail(field, `must be an object or null, got ${JSON.stringify(v)}`);
  const sub = new Fields(v as Record<string, unknown>, `${f.file} (${field})`);
  const type = sub.has('rope_type') ? sub.str('rope_type') : sub.str('type', 'default');
  const theta = sub.has('rope_theta') ? sub.num('rope_theta') : undefined;
  const check = (allowed: string[]): void => {
    for (const k of Object.keys(sub.raw)) {
      if (!allowed.includes(k) && !['rope_type', 'type', 'rope_theta'].includes(k)) {
        sub.fail(k, `is not understood for rope type "${type}"; refusing rather than ignoring it`);
      }
    }
  };
  switch (type) {
    case 'default':
      check([]);
      return { scaling: { type: 'none' }, theta };
    case 'linear':
      check(['factor']);
      return { scaling: { type: 'linear', factor: sub.num('factor') }, theta };
    case 'llama3': {
      check(['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings']);
      const low = sub.num('low_freq_factor');
      const high = sub.num('high_freq_factor');
      if (!(high > low)) sub.fail('high_freq_factor', `(${high}) must be greater than low_freq_factor (${low})`);
      return {
        scaling: {
          type: 'llama3',
          factor: sub.num('factor'),
          lowFreqFactor: low,
          highFreqFactor: high,
          originalMaxPositions: sub.int('original_max_position_embeddings'),
        },
        theta,
      };
    }
    default:
      return f.fail(field, `has type "${type}", which is not supported (supported: default, linear, llama3; not dynamic, yarn, longrope or others)`);
  }
}

/** Checks every decoder-only config shares: no unknown field, no cross-attention, no pruned heads. */
function decoderPrelude(f: Fields, known: Set<string>, modelType: string): void {
  f.refuseUnknown(known, modelType);
  f.refuseTrue('add_cross_attention', 'cross-attention layers are not supported (decoder-only causal LM only)');
  f.refuseTrue('is_encoder_decoder', 'encoder-decoder models are not supported');
  f.refuseNonEmpty('pruned_heads', 'pruned attention heads are not supported');
}

function checkFullRotary(f: Fields): void {
  if (f.has('partial_rotary_factor') && f.num('partial_rotary_factor') !== 1) {
    f.fail('partial_rotary_factor', `is ${f.raw.partial_rotary_factor}; only full rotary embeddings (1.0) are supported`);
  }
}

/** Sizes and rotary settings of a rotary decoder (Llama family, Gemma-2, Qwen3). */
interface DecoderGeometry {
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  scaling: RopeScaling;
  theta?: number;
}

/**
 * Reads the geometry; `defaults` are the Hugging Face config class's own defaults for fields a config may omit
 * (undefined: num_key_value_heads defaults to the query heads, head_dim to hidden / heads, positions required).
 */
function decoderGeometry(f: Fields, defaults: { kvHeads?: number; headDim?: number; maxPositions?: number } = {}): DecoderGeometry {
  const hiddenSize = f.int('hidden_size');
  const numHeads = f.int('num_attention_heads');
  const numKvHeads = f.int('num_key_value_heads', defaults.kvHeads ?? numHeads);
  if (numHeads % numKvHeads !== 0) {
    f.fail('num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  }
  let headDim: number;
  if (f.has('head_dim') || defaults.headDim !== undefined) headDim = f.int('head_dim', defaults.headDim);
  else {
    if (hiddenSize % numHeads !== 0) f.fail('num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize}) when head_dim is absent`);
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) f.fail('head_dim', `(${headDim}) must be even for rotary embeddings`);
  const maxPositions = f.int('max_position_embeddings', defaults.maxPositions);
  const { scaling, theta } = ropeScaling(f);
  return { hiddenSize, numHeads, numKvHeads, headDim, maxPositions, scaling, theta };
}

/**
 * Which layers use sliding-window attention: config.json's layer_types when it lists them (one entry per layer),
 * else `fallback(i)`, the rule of the architecture's config class.
 */
function slidingLayers(f: Fields, numLayers: number, fallback: (i: number) => boolean): boolean[] {
  if (!f.has('layer_types')) return Array.from({ length: numLayers }, (_, i) => fallback(i));
  const lt = f.raw.layer_types;
  if (!Array.isArray(lt) || lt.some((x) => x !== 'full_attention' && x !== 'sliding_attention')) {
    f.fail('layer_types', `must list "full_attention" / "sliding_attention", got ${JSON.stringify(lt)}`);
  }
  if (lt.length !== numLayers) f.fail('layer_types', `lists ${lt.length} layers, num_hidden_layers is ${numLayers}`);
  return lt.map((x) => x === 'sliding_attention');
}

/** Per-layer windows, or undefined when no layer has one. */
function windowsOf(sliding: boolean[], window: number | null): (number | null)[] | undefined {
  if (window === null || !sliding.some((s) => s)) return undefined;
  return sliding.map((s) => (s ? window : null));
}

/**
 * A soft-capping field: absent means the config class's default, null means off, otherwise a positive number.
 * Returns undefined when off.
 */
function softcap(f: Fields, field: string, fallback: number): number | undefined {
  if (!(field in f.raw)) return fallback;
  return f.has(field) ? f.num(field) : undefined;
}

function parseLlamaFamily(f: Fields, modelType: string): ModelConfig {
  decoderPrelude(f, LLAMA_FAMILY_FIELDS, modelType);
  checkFullRotary(f);
  const { hiddenSize, numHeads, numKvHeads, headDim, maxPositions, scaling, theta } = decoderGeometry(f);

  // Sliding-window attention differs from full causal attention only for sequences longer than the
  // window, so such configs are accepted and longer sequences refused at run time (see slidingWindow).
  let slidingWindow: number | undefined;
  const windowOn =
    modelType === 'qwen2'
      ? f.bool('use_sliding_window', false)
      : f.has('sliding_window') || f.bool('use_sliding_window', false);
  if (f.has('layer_types')) {
    const lt = f.raw.layer_types;
    if (!Array.isArray(lt) || lt.some((x) => x !== 'full_attention' && x !== 'sliding_attention')) {
      f.fail('layer_types', `must list "full_attention" / "sliding_attention", got ${JSON.stringify(lt)}`);
    }
  }
  if (windowOn && f.has('sliding_window')) {
    slidingWindow = f.int('sliding_window');
  } else if (modelType === 'qwen2' && windowOn) {
    f.fail('sliding_window', 'is required when use_sliding_window is true');
  }
  if (modelType === 'llama') {
    if (f.has('sliding_window')) f.fail('sliding_window', 'is not a Llama setting');
    f.refuseTrue('use_sliding_window', 'Llama has no sliding-window attention');
  }

  // Biases as the Hugging Face classes hard-wire them: Llama reads attention_bias / mlp_bias, Qwen2
  // always has q/k/v biases, Mistral has none. A bias flag the class would ignore is refused.
  if (modelType !== 'llama') {
    f.refuseTrue('attention_bias', `${modelType} has no attention_bias setting`);
    f.refuseTrue('mlp_bias', `${modelType} has no mlp_bias setting`);
  }
  const llama = modelType === 'llama';
  const qkvBias = modelType === 'qwen2' ? true : llama && f.bool('attention_bias', false);
  return {
    modelType,
    architecture: 'llama',
    vocabSize: f.int('vocab_size'),
    hiddenSize,
    numLayers: f.int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: f.int('intermediate_size'),
    maxPositions,
    tieWordEmbeddings: f.bool('tie_word_embeddings', false),
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenId: f.tokenIds('eos_token_id'),
    raw: f.raw,
    activation: activation(f, 'hidden_act', 'silu'),
    normEps: f.num('rms_norm_eps', 1e-6),
    qkvBias,
    outBias: llama && f.bool('attention_bias', false),
    mlpBias: llama && f.bool('mlp_bias', false),
    ropeTheta: theta ?? f.num('rope_theta', 10000),
    ropeScaling: scaling,
    slidingWindow,
    scaleAttnWeights: true,
    scaleAttnByInverseLayerIdx: false,
  };
}

/** The fields Gemma-2 and Qwen3 read the same way, as ModelConfig entries. */
function rotaryDecoder(
  f: Fields, modelType: string, architecture: Architecture, g: DecoderGeometry, d: { tie: boolean; act: Activation; bias: boolean },
): ModelConfig {
  return {
    modelType,
    architecture,
    vocabSize: f.int('vocab_size'),
    hiddenSize: g.hiddenSize,
    numLayers: f.int('num_hidden_layers'),
    numHeads: g.numHeads,
    numKvHeads: g.numKvHeads,
    headDim: g.headDim,
    intermediateSize: f.int('intermediate_size'),
    maxPositions: g.maxPositions,
    tieWordEmbeddings: f.bool('tie_word_embeddings', d.tie),
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenId: f.tokenIds('eos_token_id'),
    raw: f.raw,
    activation: d.act,
    normEps: f.num('rms_norm_eps', 1e-6),
    qkvBias: d.bias,
    outBias: d.bias,
    mlpBias: false,
    ropeTheta: g.theta ?? f.num('rope_theta', 10000),
    ropeScaling: g.scaling,
    scaleAttnWeights: true,
    scaleAttnByInverseLayerIdx: false,
  };
}

const GEMMA2_FIELDS = new Set([
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads',
  'num_key_value_heads', 'head_dim', 'hidden_activation', 'hidden_act', 'max_position_embeddings', 'rms_norm_eps',
  'rope_theta', 'rope_scaling', 'rope_parameters', 'attention_bias', 'query_pre_attn_scalar', 'sliding_window',
  'sliding_window_size', 'layer_types', 'final_logit_softcapping', 'attn_logit_softcapping', 'is_encoder_decoder',
  'add_cross_attention', 'pruned_heads',
  // which KV-cache class generate() builds; the attention it computes is the same
  'cache_implementation',
]);

/**
 * Gemma-2 (Gemma2Config defaults for omitted fields): embeddings times sqrt(hidden), RMSNorm with (1 + w), four
 * norms per layer, GeGLU, scores scaled by query_pre_attn_scalar^-0.5 and soft-capped, soft-capped logits, and a
 * sliding window on the even layers (or those layer_types names).
 */
function parseGemma2(f: Fields, modelType: string): ModelConfig {
  decoderPrelude(f, GEMMA2_FIELDS, modelType);
  const g = decoderGeometry(f, { kvHeads: 4, headDim: 256, maxPositions: 8192 });
  // Gemma2MLP reads hidden_activation; published configs also carry the Gemma-1 hidden_act, which it ignores.
  const act = activation(f, 'hidden_activation', 'gelu_pytorch_tanh');
  if (f.has('hidden_act') && activation(f, 'hidden_act', 'gelu_pytorch_tanh') !== act) {
    f.fail('hidden_act', `("${f.str('hidden_act')}") differs from hidden_activation, which is the one Gemma-2 uses; the checkpoint is ambiguous`);
  }
  const window = 'sliding_window' in f.raw ? (f.has('sliding_window') ? f.int('sliding_window') : null) : 4096;
  if (f.has('sliding_window_size') && f.int('sliding_window_size') !== window) {
    f.fail('sliding_window_size', `(${f.raw.sliding_window_size}) differs from sliding_window (${window}); the checkpoint is ambiguous`);
  }
  const numLayers = f.int('num_hidden_layers');
  const sliding = slidingLayers(f, numLayers, (i) => i % 2 === 0);
  if (window === null && f.has('layer_types') && sliding.some((s) => s)) {
    f.fail('sliding_window', 'is null, but layer_types has sliding_attention layers');
  }
  const scalar = f.num('query_pre_attn_scalar', 256);
  return {
    ...rotaryDecoder(f, modelType, 'gemma2', g, { tie: true, act, bias: f.bool('attention_bias', false) }),
    layerWindows: windowsOf(sliding, window),
    embeddingScale: Math.sqrt(g.hiddenSize),
    normUnitOffset: true,
    sandwichNorms: true,
    attentionScale: 1 / Math.sqrt(scalar),
    attnSoftcap: softcap(f, 'attn_logit_softcapping', 50),
    finalSoftcap: softcap(f, 'final_logit_softcapping', 30),
  };
}

/** Qwen3Config has the fields of the Llama family (mlp_bias only as a refusal). */
const QWEN3_FIELDS = LLAMA_FAMILY_FIELDS;

/**
 * Qwen3 (Qwen3Config defaults for omitted fields): the Llama decoder with per-head q/k RMSNorm before RoPE and
 * bias on q/k/v/o when attention_bias. With use_sliding_window, layers from max_window_layers on (or those
 * layer_types names) attend over the last sliding_window positions; without it no layer does.
 */
function parseQwen3(f: Fields, modelType: string): ModelConfig {
  decoderPrelude(f, QWEN3_FIELDS, modelType);
  checkFullRotary(f);
  f.refuseTrue('mlp_bias', 'qwen3 has no mlp_bias setting (its MLP has no biases)');
  const g = decoderGeometry(f, { kvHeads: 32, headDim: 128, maxPositions: 32768 });
  const numLayers = f.int('num_hidden_layers');
  const windowOn = f.bool('use_sliding_window', false);
  const window = !windowOn ? null : 'sliding_window' in f.raw ? (f.has('sliding_window') ? f.int('sliding_window') : null) : 4096;
  const firstWindowLayer = f.int('max_window_layers', 28, 0);
  const sliding = slidingLayers(f, numLayers, (i) => i >= firstWindowLayer);
  return {
    ...rotaryDecoder(f, modelType, 'llama', g, { tie: false, act: activation(f, 'hidden_act', 'silu'), bias: f.bool('attention_bias', false) }),
    layerWindows: windowsOf(sliding, window),
    qkNorm: true,
  };
}

/**
 * Validate a parsed config.json and normalize it. Throws an Error naming `file` and the offending
 * field for a missing required field, an unknown model_type, or any setting this loader cannot honour.
 */
export function parseConfig(raw: unknown, file = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: expected a JSON object, got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}`);
  }
  const f = new Fields(raw as Record<string, unknown>, file);
  const modelType = f.str('model_type');
  if (modelType === 'gpt2') return parseGpt2(f, modelType);
  if (LLAMA_FAMILY.has(modelType)) return parseLlamaFamily(f, modelType);
  if (modelType === 'gemma2') return parseGemma2(f, modelType);
  if (modelType === 'qwen3') return parseQwen3(f, modelType);
  return f.fail('model_type', `is "${modelType}", which is not supported (supported: gpt2, llama, mistral, qwen2, qwen3, gemma2)`);
}

/** True when the error came from config validation (used to keep file context in messages). */
export function isConfigError(e: unknown): boolean {
  return e instanceof ConfigError;
}
