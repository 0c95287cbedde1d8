/**
 * GPT-2 (nanoGPT-style reading of Hugging Face's GPT2LMHeadModel). Checkpoint names are kept as they
 * are; Conv1D weights are already (in, out), which is the internal orientation, so nothing is transposed.
 */
import { attention, attentionPacked, layerNorm, tf, type ModuleDescriptor } from '@hiedit/tensor-core';
import type { ModelConfig } from '../config';
import type { ArchImpl, BlockInput, ParamSpec } from './arch';
import { activate, Ctx, extendCache } from './layers';

function params(c: ModelConfig): ParamSpec[] {
  const d = c.hiddenSize;
  const ps: ParamSpec[] = [
    { key: 'wte.weight', shape: [c.vocabSize, d], transposed: false, init: 'embedding' },
    { key: 'wpe.weight', shape: [c.maxPositions, d], transposed: false, init: 'embedding' },
  ];
  const norm = (key: string): void => {
    ps.push({ key: `${key}.weight`, shape: [d], transposed: false, init: 'norm' });
    ps.push({ key: `${key}.bias`, shape: [d], transposed: false, init: 'bias' });
  };
  const conv1d = (key: string, dIn: number, dOut: number): void => {
    ps.push({ key: `${key}.weight`, shape: [dIn, dOut], transposed: false, init: 'matrix' });
    ps.push({ key: `${key}.bias`, shape: [dOut], transposed: false, init: 'bias' });
  };
  for (let i = 0; i < c.numLayers; i++) {
    norm(`h.${i}.ln_1`);
    conv1d(`h.${i}.attn.c_attn`, d, 3 * d);
    conv1d(`h.${i}.attn.c_proj`, d, d);
    norm(`h.${i}.ln_2`);
    conv1d(`h.${i}.mlp.c_fc`, d, c.intermediateSize);
    conv1d(`h.${i}.mlp.c_proj`, c.intermediateSize, d);
  }
  norm('ln_f');
  if (!c.tieWordEmbeddings) ps.push({ key: 'lm_head.weight', shape: [c.vocabSize, d], transposed: false, init: 'matrix' });
  return ps;
}

function modules(c: ModelConfig): ModuleDescriptor[] {
  const d = c.hiddenSize;
  const ms: ModuleDescriptor[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    ms.push({ name: `h.${i}.attn.c_attn`, dIn: d, dOut: 3 * d, layer: i });
    ms.push({ name: `h.${i}.attn.c_proj`, dIn: d, dOut: d, layer: i });
    ms.push({ name: `h.${i}.mlp.c_fc`, dIn: d, dOut: c.intermediateSize, layer: i });
    ms.push({ name: `h.${i}.mlp.c_proj`, dIn: c.intermediateSize, dOut: d, layer: i });
  }
  return ms;
}

/** Causal self-attention of block i: one c_attn matmul for q, k, v, then c_proj. */
function selfAttention(ctx: Ctx, c: ModelConfig, i: number, x: tf.Tensor2D, input: BlockInput): tf.Tensor2D {
  const { B, T } = input;
  const H = c.numHeads;
  const hd = c.headDim;
  const qkv = ctx.linear(`h.${i}.attn.c_attn`, x);
  let scale = c.scaleAttnWeights ? 1 / Math.sqrt(hd) : 1;
  if (c.scaleAttnByInverseLayerIdx) scale /= i + 1;
  const bias = input.bias;
  if (!input.cache) {
    // The packed (B*T, 3 H hd) projection goes to attention as it is: with the fused kernel q, k and v are read
    // in place and the backward writes one packed gradient (no reshape, split, concat or transpose).
    const y = attentionPacked(qkv, { scale, bias, numHeads: H, numKvHeads: H, batch: B });
    return ctx.linear(`h.${i}.attn.c_proj`, y);
  }
  // Generation: keys and values join the cache, so they are split off (in the cache's (B, T, heads, hd) layout).
  const [q, k, v] = tf.split(tf.reshape(qkv, [B, T, 3 * H, hd]), 3, 2) as tf.Tensor4D[];
  const full = extendCache(input.cache, i, k, v);
  return ctx.linear(`h.${i}.attn.c_proj`, attention(q, full.k, full.v, { scale, bias }));
}

function mlp(ctx: Ctx, c: ModelConfig, i: number, x: tf.Tensor2D): tf.Tensor2D {
  const h = activate(ctx.linear(`h.${i}.mlp.c_fc`, x), c.activation);
  return ctx.linear(`h.${i}.mlp.c_proj`, h);
}

/** Layer of a GPT-2 parameter or module name (see Ctx.firstTapedLayer). */
function gpt2LayerOf(name: string): number | 'post' | undefined {
  const m = /^h\.(\d+)\./.exec(name);
  if (m) return Number(m[1]);
  return name.startsWith('ln_f.') || name.startsWith('lm_head.') ? 'post' : undefined;
}

function hidden(ctx: Ctx, c: ModelConfig, input: BlockInput): tf.Tensor2D {
  const { B, T, pos0 } = input;
  const d = c.hiddenSize;
  const eps = c.normEps;
  const tok = tf.gather(ctx.p('wte.weight'), tf.reshape(input.ids, [B * T]));
  const pos = tf.slice(ctx.p('wpe.weight'), [pos0, 0], [T, d]);
  // (B*T, d) + (T, d) broadcasts per row only when B == 1; tile positions for batches.
  let x = (B === 1 ? tf.add(tok, pos) : tf.add(tf.reshape(tok, [B, T, d]), pos).reshape([B * T, d])) as tf.Tensor2D;
  const block = (h: tf.Tensor2D, i: number): tf.Tensor2D => {
    const p = `h.${i}`;
    const a: tf.Tensor2D = tf.add(h, selfAttention(ctx, c, i, layerNorm(h, ctx.p(`${p}.ln_1.weight`), ctx.p(`${p}.ln_1.bias`), eps), input));
    return tf.add(a, mlp(ctx, c, i, layerNorm(a, ctx.p(`${p}.ln_2.weight`), ctx.p(`${p}.ln_2.bias`), eps)));
  };
  x = ctx.layers(x, c.numLayers, gpt2LayerOf, block);
  return layerNorm(x, ctx.p('ln_f.weight'), ctx.p('ln_f.bias'), eps);
}

const BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/;

export const gpt2: ArchImpl = {
  params,
  modules,
  embeddingKey: 'wte.weight',
  hidden,
  isBuffer: (name) => BUFFER.test(name),
};
