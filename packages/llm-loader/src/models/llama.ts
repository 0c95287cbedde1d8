/**
 * Rotary decoders: the Llama family (Llama 1-3, Mistral without sliding windows, Qwen2), Qwen3 and Gemma-2.
 * RMSNorm, rotary embeddings in the rotate_half convention, grouped-query attention, gated MLP; the config's
 * optional settings add Qwen3's per-head q/k norms and Gemma-2's embedding scale, (1 + w) norms, norms after
 * each sublayer, score scale, soft-caps and per-layer sliding windows. Checkpoint names are Hugging Face's;
 * nn.Linear weights are stored (out, in) and held internally as (in, out).
 */
import { attention, geluMul, rmsNorm, rotaryEmbedding, siluMul, tf, type ModuleDescriptor } from '@hiedit/tensor-core';
import type { ModelConfig } from '../config';
import type { ArchImpl, BlockInput, ParamSpec } from './arch';
import { activate, Ctx, extendCache } from './layers';
import { inverseFrequencies, ropeTables } from './rope';

interface Linear {
  name: string;
  dIn: number;
  dOut: number;
  bias: boolean;
}

function linears(c: ModelConfig, i: number): Linear[] {
  const d = c.hiddenSize;
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  const a = `model.layers.${i}.self_attn`;
  const m = `model.layers.${i}.mlp`;
  return [
    { name: `${a}.q_proj`, dIn: d, dOut: qd, bias: c.qkvBias },
    { name: `${a}.k_proj`, dIn: d, dOut: kvd, bias: c.qkvBias },
    { name: `${a}.v_proj`, dIn: d, dOut: kvd, bias: c.qkvBias },
    { name: `${a}.o_proj`, dIn: qd, dOut: d, bias: c.outBias },
    { name: `${m}.gate_proj`, dIn: d, dOut: c.intermediateSize, bias: c.mlpBias },
    { name: `${m}.up_proj`, dIn: d, dOut: c.intermediateSize, bias: c.mlpBias },
    { name: `${m}.down_proj`, dIn: c.intermediateSize, dOut: d, bias: c.mlpBias },
  ];
}

function params(c: ModelConfig): ParamSpec[] {
  const d = c.hiddenSize;
  const norm = (key: string, size = d): ParamSpec => ({ key, shape: [size], transposed: false, init: c.normUnitOffset ? 'offsetNorm' : 'norm' });
  const ps: ParamSpec[] = [{ key: 'model.embed_tokens.weight', shape: [c.vocabSize, d], transposed: false, init: 'embedding' }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    ps.push(norm(`${p}.input_layernorm.weight`));
    for (const l of linears(c, i)) {
      if (l.name.endsWith('gate_proj')) {
        ps.push(norm(`${p}.post_attention_layernorm.weight`));
        if (c.sandwichNorms) ps.push(norm(`${p}.pre_feedforward_layernorm.weight`));
      }
      ps.push({ key: `${l.name}.weight`, shape: [l.dOut, l.dIn], transposed: true, init: 'matrix' });
      if (l.bias) ps.push({ key: `${l.name}.bias`, shape: [l.dOut], transposed: false, init: 'bias' });
      if (c.qkNorm && l.name.endsWith('o_proj')) {
        ps.push(norm(`${p}.self_attn.q_norm.weight`, c.headDim), norm(`${p}.self_attn.k_norm.weight`, c.headDim));
      }
    }
    if (c.sandwichNorms) ps.push(norm(`${p}.post_feedforward_layernorm.weight`));
  }
  ps.push(norm('model.norm.weight'));
  if (!c.tieWordEmbeddings) ps.push({ key: 'lm_head.weight', shape: [c.vocabSize, d], transposed: false, init: 'matrix' });
  return ps;
}

function modules(c: ModelConfig): ModuleDescriptor[] {
  const ms: ModuleDescriptor[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    for (const l of linears(c, i)) ms.push({ name: l.name, dIn: l.dIn, dOut: l.dOut, layer: i });
  }
  return ms;
}

/**
 * Rotation tables for (B, T * heads, headDim) views of the projections: row t * heads + h holds position t's
 * (headDim / 2) angles, so RoPE applies in the (B, T, heads, hd) layout attention reads, without transposes.
 * The query tables carry the 1/sqrt(headDim) scale.
 */
interface RopeTables {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  qCos: tf.Tensor2D;
  qSin: tf.Tensor2D;
}

/** The (T, half) tables repeated per head: (T * heads, half). One gather each, made once per forward. */
function perHead(t: tf.Tensor2D, heads: number): tf.Tensor2D {
  const T = t.shape[0];
  const rows = new Int32Array(T * heads);
  for (let i = 0; i < rows.length; i++) rows[i] = Math.floor(i / heads);
  return tf.gather(t, tf.tensor1d(rows, 'int32'));
}

function headTables(cos: tf.Tensor2D, sin: tf.Tensor2D, c: ModelConfig): RopeTables {
  const qScale = c.attentionScale ?? 1 / Math.sqrt(c.headDim);
  return {
    cos: perHead(cos, c.numKvHeads),
    sin: perHead(sin, c.numKvHeads),
    qCos: perHead(tf.mul(cos, qScale), c.numHeads),
    qSin: perHead(tf.mul(sin, qScale), c.numHeads),
  };
}

/** RMSNorm by the parameter `key`, whose weight Gemma uses as (1 + w) (inside the fused kernel, or one Add). */
function norm<T extends tf.Tensor>(ctx: Ctx, c: ModelConfig, x: T, key: string): T {
  return rmsNorm(x, ctx.p(key), c.normEps, c.normUnitOffset ? 1 : 0);
}

/** Attention of layer i: q/k/v projections, (Qwen3) q/k norms, RoPE on q and k, GQA, o_proj. */
function selfAttention(
  ctx: Ctx, c: ModelConfig, i: number, x: tf.Tensor2D, input: BlockInput, rope: RopeTables,
): tf.Tensor2D {
  const { B, T } = input;
  const hd = c.headDim;
  const H = c.numHeads;
  const kvH = c.numKvHeads;
  const a = `model.layers.${i}.self_attn`;
  // tensor-core's rotaryEmbedding is applyRope (fused), here on (B, T * heads, hd) views; q's score scale is in
  // its tables (the same math as scaling the scores, without an op per layer), so attention's scale is 1.
  const rot = (name: string, heads: number, cos: tf.Tensor2D, sin: tf.Tensor2D, normKey: string): tf.Tensor4D => {
    let heads3 = tf.reshape(ctx.linear(name, x), [B, T * heads, hd]);
    if (c.qkNorm) heads3 = norm(ctx, c, heads3, normKey);
    return tf.reshape(rotaryEmbedding(heads3, cos, sin), [B, T, heads, hd]);
  };
  const q = rot(`${a}.q_proj`, H, rope.qCos, rope.qSin, `${a}.q_norm.weight`);
  const k = rot(`${a}.k_proj`, kvH, rope.cos, rope.sin, `${a}.k_norm.weight`);
  const v = tf.reshape(ctx.linear(`${a}.v_proj`, x), [B, T, kvH, hd]) as tf.Tensor4D;
  const full = extendCache(input.cache, i, k, v);
  const window = c.layerWindows?.[i];
  const bias = window ? input.windowBias(window) : input.bias;
  return ctx.linear(`${a}.o_proj`, attention(q, full.k, full.v, { scale: 1, bias, softcap: c.attnSoftcap }));
}

/**
 * Gated MLP: down(act(gate(x)) * up(x)); with SiLU (SwiGLU) or the tanh GELU (Gemma's GeGLU) the product is one
 * fused op (tensor-core's siluMul, geluMul).
 */
function mlp(ctx: Ctx, c: ModelConfig, i: number, x: tf.Tensor2D): tf.Tensor2D {
  const m = `model.layers.${i}.mlp`;
  const gate = ctx.linear(`${m}.gate_proj`, x);
  const up = ctx.linear(`${m}.up_proj`, x);
  const gated = c.activation === 'silu' ? siluMul(gate, up)
    : c.activation === 'gelu_tanh' ? geluMul(gate, up) : tf.mul(activate(gate, c.activation), up);
  return ctx.linear(`${m}.down_proj`, gated as tf.Tensor2D);
}

/** Layer of a Llama parameter or module name (see Ctx.firstTapedLayer). */
function llamaLayerOf(name: string): number | 'post' | undefined {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  if (m) return Number(m[1]);
  return name.startsWith('model.norm.') || name.startsWith('lm_head.') ? 'post' : undefined;
}

/** Gemma-2's layer: each sublayer's input and output normalized, then added to the residual stream. */
function sandwichLayer(ctx: Ctx, c: ModelConfig, input: BlockInput, rope: RopeTables): (h: tf.Tensor2D, i: number) => tf.Tensor2D {
  return (h, i) => {
    const p = `model.layers.${i}`;
    const att = selfAttention(ctx, c, i, norm(ctx, c, h, `${p}.input_layernorm.weight`), input, rope);
    const a: tf.Tensor2D = tf.add(h, norm(ctx, c, att, `${p}.post_attention_layernorm.weight`));
    const m = mlp(ctx, c, i, norm(ctx, c, a, `${p}.pre_feedforward_layernorm.weight`));
    return tf.add(a, norm(ctx, c, m, `${p}.post_feedforward_layernorm.weight`));
  };
}

function hidden(ctx: Ctx, c: ModelConfig, input: BlockInput): tf.Tensor2D {
  const { B, T, pos0 } = input;
  const eps = c.normEps;
  const tables = ropeTables(inverseFrequencies(c.headDim, c.ropeTheta, c.ropeScaling), pos0, T);
  const rope = headTables(tables.cos, tables.sin, c);
  let x = tf.gather(ctx.p('model.embed_tokens.weight'), tf.reshape(input.ids, [B * T])) as tf.Tensor2D;
  // Gemma multiplies by sqrt(hidden) rounded to the activations' dtype (float32 here), as Hugging Face does.
  if (c.embeddingScale !== undefined) x = tf.mul(x, Math.fround(c.embeddingScale));
  const layer = c.sandwichNorms ? sandwichLayer(ctx, c, input, rope) : (h: tf.Tensor2D, i: number): tf.Tensor2D => {
    const p = `model.layers.${i}`;
    const a: tf.Tensor2D = tf.add(h, selfAttention(ctx, c, i, rmsNorm(h, ctx.p(`${p}.input_layernorm.weight`), eps), input, rope));
    return tf.add(a, mlp(ctx, c, i, rmsNorm(a, ctx.p(`${p}.post_attention_layernorm.weight`), eps)));
  };
  x = ctx.layers(x, c.numLayers, llamaLayerOf, layer);
  return norm(ctx, c, x, 'model.norm.weight');
}

const BUFFER = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

export const llama: ArchImpl = {
  params,
  modules,
  embeddingKey: 'model.embed_tokens.weight',
  hidden,
  isBuffer: (name) => BUFFER.test(name),
};
