/**
 * Pretrains a small Llama-architecture (or, on request, GPT-2-architecture) model on (prompt, answer) facts with our own Adam: seeded
 * initialization, seeded batch order, teacher-forced tuples from tokenizeTuple, loss on the answer
 * tokens (plus, optionally, a down-weighted loss on the rest of the sentence).
 */
import { tf, Adam, IGNORE_INDEX, SeededRandom, namedVariables, type NamedVariables, type TokenizedTuple } from '@hiedit/tensor-core';
import { createModel, tokenizeTuple, type CausalLM, type Tokenizer } from '@hiedit/llm-loader';
import { Progress, type ProgressFactory } from '../../progress';
import { padBatch, teacherForcedAccuracy, type AccuracyResult } from './accuracy';

/** Version of the training procedure; part of every cache key, bumped when results would change. */
export const TRAINER_VERSION = 3;

/** Architectures the pretrainer can build: the Hugging Face model_type of the saved checkpoint. */
export type PretrainArch = 'llama' | 'gpt2' | 'gemma2' | 'qwen3';

/** Every PretrainArch, in the order messages list them. */
export const PRETRAIN_ARCHS: readonly PretrainArch[] = ['llama', 'gpt2', 'gemma2', 'qwen3'];

/** Shape of the model to train. */
export interface ModelShape {
  /**
   * Architecture (default Llama; absent means Llama, so the cache keys of Llama models stay as they were). GPT-2:
   * learned positions, LayerNorm, GELU MLP (c_fc, c_proj), tied embeddings; `kvHeads` must equal `heads`. Gemma-2 and
   * Qwen3: see gemma2Config / qwen3Config.
   */
  readonly arch?: PretrainArch;
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly intermediate: number;
  readonly maxPositions: number;
}

/** Everything that determines a trained model (with the data and the tokenizer). */
export interface TrainSettings {
  readonly model: ModelShape;
  readonly seed: number;
  /** Upper bound on passes over the data (training stops earlier once the facts are known). */
  readonly epochs: number;
  readonly batchSize: number;
  /** Peak learning rate, reached after `warmupSteps`, then cosine decay to `lr * minLrFraction`. */
  readonly lr: number;
  readonly warmupSteps: number;
  readonly minLrFraction: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly clipNorm: number;
  /** Weight of the next-token loss on non-answer positions relative to answer tokens (0: answers only). */
  readonly sentenceLossWeight: number;
  /**
   * Stop once the teacher-forced token accuracy over all training tuples reaches this (checked after an
   * epoch whose running accuracy reached it). 1 trains for all `epochs` unless everything is known.
   */
  readonly stopAccuracy: number;
}

/**
 * Defaults sized for ~2k short fact sentences on 2 cores with the wasm backend (~0.3M parameters,
 * 2-3 minutes): on wasm the backward matmuls dominate, so width costs more than it helps memorization.
 */
export const DEFAULT_TRAIN_SETTINGS: TrainSettings = {
  model: { layers: 4, hidden: 64, heads: 4, kvHeads: 4, intermediate: 256, maxPositions: 64 },
  seed: 0,
  epochs: 20,
  batchSize: 64,
  lr: 5e-3,
  warmupSteps: 30,
  minLrFraction: 0.05,
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-8,
  weightDecay: 0,
  clipNorm: 1,
  sentenceLossWeight: 0,
  stopAccuracy: 0.995,
};

/** Merges partial settings (including a partial model shape) over the defaults. */
export function resolveTrainSettings(s: Partial<Omit<TrainSettings, 'model'>> & { model?: Partial<ModelShape> } = {}): TrainSettings {
  const model = { ...DEFAULT_TRAIN_SETTINGS.model, ...(s.model ?? {}) };
  const r: TrainSettings = { ...DEFAULT_TRAIN_SETTINGS, ...s, model };
  const pos = (v: number, name: string): void => {
    if (!(Number.isFinite(v) && v > 0)) throw new Error(`train settings: ${name} must be > 0, got ${v}`);
  };
  const int = (v: number, name: string): void => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`train settings: ${name} must be an integer >= 1, got ${v}`);
  };
  int(model.layers, 'model.layers');
  int(model.hidden, 'model.hidden');
  int(model.heads, 'model.heads');
  int(model.kvHeads, 'model.kvHeads');
  int(model.intermediate, 'model.intermediate');
  int(model.maxPositions, 'model.maxPositions');
  if (model.hidden % model.heads !== 0 || (model.hidden / model.heads) % 2 !== 0) {
    throw new Error(`train settings: model.heads (${model.heads}) must divide model.hidden (${model.hidden}) into an even head size`);
  }
  if (model.heads % model.kvHeads !== 0) throw new Error(`train settings: model.kvHeads (${model.kvHeads}) must divide model.heads (${model.heads})`);
  if (model.arch !== undefined && !PRETRAIN_ARCHS.includes(model.arch)) {
    throw new Error(`train settings: model.arch must be ${PRETRAIN_ARCHS.map((a) => `"${a}"`).join(', ')}, got ${JSON.stringify(model.arch)}`);
  }
  if (model.arch === 'gpt2' && model.kvHeads !== model.heads) {
    throw new Error(`train settings: a gpt2 model has no grouped-query attention: model.kvHeads (${model.kvHeads}) must equal model.heads (${model.heads})`);
  }
  // Llama is the default and is not recorded, so the settings (and cache keys) of Llama models do not change.
  if (model.arch === 'llama') delete (model as { arch?: PretrainArch }).arch;
  int(r.epochs, 'epochs');
  int(r.batchSize, 'batchSize');
  pos(r.lr, 'lr');
  if (!Number.isInteger(r.seed)) throw new Error(`train settings: seed must be an integer, got ${r.seed}`);
  if (!(r.sentenceLossWeight >= 0)) throw new Error(`train settings: sentenceLossWeight must be >= 0, got ${r.sentenceLossWeight}`);
  if (!(r.stopAccuracy > 0 && r.stopAccuracy <= 1)) throw new Error(`train settings: stopAccuracy must be in (0, 1], got ${r.stopAccuracy}`);
  return r;
}

/** Hugging Face config.json of a Llama model of `shape` over a vocabulary of `vocabSize`. */
export function llamaConfig(shape: ModelShape, vocabSize: number, special: { bos: number; eos: number; pad: number }): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: vocabSize,
    hidden_size: shape.hidden,
    intermediate_size: shape.intermediate,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    head_dim: shape.hidden / shape.heads,
    hidden_act: 'silu',
    max_position_embeddings: shape.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: false,
    bos_token_id: special.bos,
    eos_token_id: special.eos,
    pad_token_id: special.pad,
    torch_dtype: 'float32',
  };
}

/** Hugging Face config.json of a GPT-2 model of `shape` (tied embeddings, gelu_new) over a vocabulary of `vocabSize`. */
export function gpt2Config(shape: ModelShape, vocabSize: number, special: { bos: number; eos: number; pad: number }): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: vocabSize,
    n_embd: shape.hidden,
    n_inner: shape.intermediate,
    n_layer: shape.layers,
    n_head: shape.heads,
    n_positions: shape.maxPositions,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    bos_token_id: special.bos,
    eos_token_id: special.eos,
    pad_token_id: special.pad,
    torch_dtype: 'float32',
  };
}

/**
 * Hugging Face config.json of a Gemma-2 model of `shape`: as Gemma-2 releases, tied embeddings, tanh GELU,
 * query_pre_attn_scalar = head_dim, soft-caps 50 / 30, and a sliding window of half the positions on the even layers
 * (so it only matters for sequences longer than that).
 */
export function gemma2Config(shape: ModelShape, vocabSize: number, special: { bos: number; eos: number; pad: number }): Record<string, unknown> {
  const { hidden_act: _act, mlp_bias: _mlpBias, rms_norm_eps: _eps, tie_word_embeddings: _tie, ...llama } = llamaConfig(shape, vocabSize, special);
  return {
    ...llama,
    architectures: ['Gemma2ForCausalLM'],
    model_type: 'gemma2',
    hidden_activation: 'gelu_pytorch_tanh',
    rms_norm_eps: 1e-6,
    query_pre_attn_scalar: shape.hidden / shape.heads,
    attn_logit_softcapping: 50,
    final_logit_softcapping: 30,
    sliding_window: Math.max(1, Math.floor(shape.maxPositions / 2)),
    tie_word_embeddings: true,
  };
}

/**
 * Hugging Face config.json of a Qwen3 model of `shape`: the Llama one plus q/k norms, untied as the Qwen3-8B the
 * paper's scale calls for (tied, the default-size world model learned only 76% of its facts in the epoch budget).
 */
export function qwen3Config(shape: ModelShape, vocabSize: number, special: { bos: number; eos: number; pad: number }): Record<string, unknown> {
  const { mlp_bias: _mlpBias, ...llama } = llamaConfig(shape, vocabSize, special);
  return {
    ...llama,
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    rms_norm_eps: 1e-6,
    use_sliding_window: false,
    sliding_window: null,
    max_window_layers: shape.layers,
  };
}

const CONFIG_OF: Readonly<Record<PretrainArch, typeof llamaConfig>> = { llama: llamaConfig, gpt2: gpt2Config, gemma2: gemma2Config, qwen3: qwen3Config };

/** The config.json the pretrainer writes for `shape` (its architecture's). */
export function pretrainConfig(shape: ModelShape, vocabSize: number, special: { bos: number; eos: number; pad: number }): Record<string, unknown> {
  return CONFIG_OF[shape.arch ?? 'llama'](shape, vocabSize, special);
}

/** A (prompt, answer) pair to learn. */
export interface TrainExample {
  readonly prompt: string;
  readonly answer: string;
}

/** What {@link trainFactsLM} returns; the caller owns (and disposes) the model. */
export interface TrainResult {
  readonly model: CausalLM;
  readonly tuples: TokenizedTuple[];
  readonly epochs: number;
  readonly steps: number;
  readonly seconds: number;
  /** Mean training loss of each epoch. */
  readonly epochLosses: number[];
  /** Teacher-forced accuracy over all training tuples at the end. */
  readonly trainAccuracy: AccuracyResult;
  /** True when `maxSeconds` stopped training before `stopAccuracy` was reached. */
  readonly truncated: boolean;
}

/** Options of {@link trainFactsLM}. */
export interface TrainOptions {
  readonly examples: readonly TrainExample[];
  readonly tokenizer: Tokenizer;
  readonly settings: TrainSettings;
  /** Progress bar factory (default: a bar on stderr). */
  readonly progress?: ProgressFactory;
  /** Stop the run after this many seconds even if more epochs remain (the model is returned as is). */
  readonly maxSeconds?: number;
}

/** Token id of a special, or a clear error naming it. */
function specialId(tok: Tokenizer, which: 'bos' | 'eos'): number {
  const id = which === 'bos' ? tok.bosTokenId : tok.eosTokenId;
  if (id === undefined) throw new Error(`trainFactsLM: the tokenizer has no ${which} token`);
  return id;
}

/** Learning rate at `step` (0-based): linear warmup, then cosine decay to lr * minLrFraction. */
export function learningRate(s: TrainSettings, step: number, totalSteps: number): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  const progress = Math.min(1, (step - s.warmupSteps) / Math.max(1, totalSteps - s.warmupSteps));
  const floor = s.lr * s.minLrFraction;
  return floor + (s.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * Trains a fresh model of `settings.model` (Llama unless `model.arch` says gpt2) on `examples`. The model is created from the settings'
 * seed, batches are drawn in a seeded order, and the loss weights answer tokens 1 and other positions
 * `sentenceLossWeight`. Progress (loss, running accuracy, ETA) goes to stderr.
 */
export async function trainFactsLM(opts: TrainOptions): Promise<TrainResult> {
  const s = opts.settings;
  const tok = opts.tokenizer;
  if (opts.examples.length === 0) throw new Error('trainFactsLM: no training examples');
  const tuples = opts.examples.map((e, i) => {
    try {
      return tokenizeTuple(tok, e.prompt, e.answer);
    } catch (err) {
      throw new Error(`trainFactsLM: example ${i} (${JSON.stringify(e.prompt)} -> ${JSON.stringify(e.answer)}): ${(err as Error).message}`);
    }
  });
  const longest = Math.max(...tuples.map((t) => t.ids.length));
  if (longest > s.model.maxPositions) {
    throw new Error(`trainFactsLM: an example has ${longest} tokens but model.maxPositions is ${s.model.maxPositions}`);
  }
  const padId = tok.eosTokenId ?? 0;
  const config = pretrainConfig(s.model, tok.vocabSize, { bos: specialId(tok, 'bos'), eos: specialId(tok, 'eos'), pad: padId });
  const model = createModel(config, s.seed);
  try {
    const rng = new SeededRandom(s.seed).fork('batches');
    const stepsPerEpoch = Math.ceil(tuples.length / s.batchSize);
    const totalSteps = stepsPerEpoch * s.epochs;
    model.setTrainable(true);
    const vars = model.trainableVariables();
    if (vars.length === 0) throw new Error('Adam: no variables to train (did the model expose its trainable variables?)');
    const params = namedVariables(vars);
    const adam = new Adam({ lr: s.lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay, clipNorm: s.clipNorm });
    const bar = (opts.progress ?? ((label: string, total: number) => new Progress(label, total)))('pretrain', totalSteps);
    const t0 = Date.now();
    const epochLosses: number[] = [];
    let step = 0;
    let epochsRun = 0;
    let trainAccuracy: AccuracyResult | undefined;
    let truncated = false;
    try {
      for (let epoch = 0; epoch < s.epochs; epoch++) {
        const batches = epochBatches(rng, tuples.length, s.batchSize);
        let lossSum = 0;
        let correct = 0;
        let counted = 0;
        for (let b = 0; b < stepsPerEpoch; b++) {
          const batch = batches[b].map((i) => tuples[i]);
          const r = trainStep(model, params, vars, adam, batch, padId, s.sentenceLossWeight, learningRate(s, step, totalSteps));
          lossSum += r.loss;
          correct += r.correct;
          counted += r.answers;
          step++;
          bar.tick(1, `epoch ${epoch + 1} loss ${(lossSum / (b + 1)).toFixed(3)} acc ${(correct / Math.max(1, counted)).toFixed(3)}`);
        }
        epochsRun = epoch + 1;
        epochLosses.push(lossSum / stepsPerEpoch);
        const running = correct / Math.max(1, counted);
        const outOfTime = opts.maxSeconds !== undefined && (Date.now() - t0) / 1000 > opts.maxSeconds;
        if (running >= s.stopAccuracy || outOfTime || epochsRun === s.epochs) {
          trainAccuracy = teacherForcedAccuracy(model, tuples, { padId });
          if (trainAccuracy.tokenAccuracy >= s.stopAccuracy) break;
          if (outOfTime) {
            truncated = epochsRun < s.epochs;
            break;
          }
        }
      }
    } finally {
      adam.dispose();
      model.setTrainable(false);
    }
    trainAccuracy ??= teacherForcedAccuracy(model, tuples, { padId });
    bar.finish(`epochs ${epochsRun} loss ${epochLosses[epochLosses.length - 1].toFixed(4)} acc ${trainAccuracy.tokenAccuracy.toFixed(4)}`);
    return { model, tuples, epochs: epochsRun, steps: step, seconds: (Date.now() - t0) / 1000, epochLosses, trainAccuracy, truncated };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * The batches of one epoch: a seeded shuffle cut into consecutive batches. (Sorting windows by length
 * to save padding was tried: batches then hold one template each and memorization needed many more
 * epochs, which cost more than the padding saved.)
 */
export function epochBatches(rng: SeededRandom, n: number, batchSize: number): number[][] {
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const batches: number[][] = [];
  for (let b = 0; b < n; b += batchSize) batches.push(order.slice(b, b + batchSize));
  return batches;
}

/**
 * One optimizer step on a batch. The per-position weights are 1 on answer labels and `sentenceWeight`
 * on the other next-token targets; padding has weight 0.
 */
function trainStep(
  model: CausalLM,
  params: NamedVariables,
  vars: tf.Variable[],
  adam: Adam,
  batch: readonly TokenizedTuple[],
  padId: number,
  sentenceWeight: number,
  lr: number,
): { loss: number; correct: number; answers: number } {
  const { ids, labels, mask } = padBatch(batch, padId);
  const B = ids.length;
  const T = ids[0].length;
  const target = new Int32Array(B * T);
  const weight = new Float32Array(B * T);
  let answers = 0;
  for (let b = 0; b < B; b++) {
    const n = batch[b].ids.length;
    for (let t = 0; t < T; t++) {
      const y = labels[b][t];
      if (y !== IGNORE_INDEX) {
        target[b * T + t] = y;
        weight[b * T + t] = 1;
        answers++;
      } else if (sentenceWeight > 0 && t + 1 < n) {
        target[b * T + t] = ids[b][t + 1];
        weight[b * T + t] = sentenceWeight;
      }
    }
  }
  const V = model.config.vocabSize;
  const targetT = tf.tensor2d(target, [B, T], 'int32');
  const weightT = tf.tensor2d(weight, [B, T]);
  let pred: tf.Tensor | undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forward(ids, mask);
      // Kept so the running accuracy comes from this very forward, at no extra cost.
      pred = tf.keep(tf.argMax(logits, -1));
      const logp = tf.logSoftmax(logits);
      const picked = tf.sum(tf.mul(logp, tf.oneHot(targetT, V)), -1);
      return tf.div(tf.neg(tf.sum(tf.mul(picked, weightT))), tf.sum(weightT)) as tf.Scalar;
    }, vars);
    try {
      adam.apply(params, new Map(Object.entries(grads)), lr);
    } finally {
      for (const g of Object.values(grads)) g.dispose();
    }
    const loss = value.dataSync()[0];
    value.dispose();
    const p = pred!.dataSync();
    let correct = 0;
    for (let i = 0; i < B * T; i++) if (weight[i] === 1 && labels[Math.floor(i / T)][i % T] !== IGNORE_INDEX && p[i] === target[i]) correct++;
    if (!Number.isFinite(loss)) throw new Error(`trainFactsLM: the loss became ${loss}; lower the learning rate`);
    return { loss, correct, answers };
  } finally {
    pred?.dispose();
    targetT.dispose();
    weightT.dispose();
  }
}
