/**
 * Scaled dot-product attention with grouped-query heads, an additive mask, optional tanh soft-capping of the scores
 * and merged-head output. With the native
 * accelerator on the wasm backend it is one kernel forward and one backward (attention-kernels.ts,
 * native/src/hiedit_attention.c) that read q, k, v in place in whatever layout the caller has; otherwise the same
 * math runs as composite tf ops with the stock gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { ATTENTION_KERNELS, attentionKernelsActive, packedDims, type AttentionAttrs, type HeadLayout } from './attention-kernels';

export type { HeadLayout } from './attention-kernels';

/** Options shared by attention and attentionPacked. */
export interface AttentionOptions {
  /** Multiplies q . k before the mask and softmax (1 / sqrt(headDim) normally; 1 when q is pre-scaled). */
  scale: number;
  /**
   * Additive mask (B or 1, 1, Tq, Tk), e.g. 0 where a query may see a key and -1e9 elsewhere; broadcast over
   * heads. A constant: it gets no gradient. null or absent: every key is visible.
   */
  bias?: tf.Tensor4D | null;
  /**
   * Tanh soft-capping of the scaled scores before the mask (Gemma-2's attn_logit_softcapping): each score s becomes
   * softcap * tanh(s / softcap). Absent: no capping. The fused kernels cap in place (and differentiate through
   * the cap), so a capped call takes the same path as an uncapped one.
   */
  softcap?: number;
}

/** Options of attention(): the axis order of each operand (default 'bthd', a linear's output reshaped for free). */
export interface SeparateAttentionOptions extends AttentionOptions {
  layouts?: { q?: HeadLayout; k?: HeadLayout; v?: HeadLayout };
}

/** Options of attentionPacked(). */
export interface PackedAttentionOptions extends AttentionOptions {
  numHeads: number;
  numKvHeads: number;
  /** B, required when qkv is the rank-2 (B * T, (H + 2 kvH) hd) projection output. */
  batch?: number;
}

function fusedAvailable(...ts: (tf.Tensor | null | undefined)[]): boolean {
  return attentionKernelsActive() && tf.getBackend() === 'wasm' && ts.every((t) => !t || t.dtype === 'float32');
}

const shapeStr = (s: number[]): string => JSON.stringify(s);

/** (B, T, heads, hd) of a rank-4 operand in `layout`. */
function dims(name: string, t: tf.Tensor, layout: HeadLayout): [number, number, number, number] {
  if (t.rank !== 4) throw new Error(`attention: ${name} must be rank 4 (${layout}), got ${shapeStr(t.shape)}`);
  const [B, a, b, hd] = t.shape;
  return layout === 'bthd' ? [B, a, b, hd] : [B, b, a, hd];
}

function checkScale(scale: number): void {
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new Error(`attention: scale must be a finite number, got ${String(scale)}`);
}

function checkSoftcap(softcap: number | undefined): void {
  if (softcap !== undefined && !(typeof softcap === 'number' && Number.isFinite(softcap) && softcap > 0)) {
    throw new Error(`attention: softcap must be a finite number > 0, got ${String(softcap)}`);
  }
}

/** A softcap the float32 kernel can take as given (a cap beyond float range would round to 0 or infinity there). */
function fusableSoftcap(softcap: number | undefined): boolean {
  return softcap === undefined || (Math.fround(softcap) >= 1e-30 && Number.isFinite(Math.fround(softcap)));
}

function checkBias(bias: tf.Tensor | null | undefined, B: number, Tq: number, Tk: number): void {
  if (!bias) return;
  const s = bias.shape;
  if (bias.rank !== 4 || (s[0] !== B && s[0] !== 1) || s[1] !== 1 || s[2] !== Tq || s[3] !== Tk) {
    throw new Error(`attention: bias must be (${B} or 1, 1, ${Tq}, ${Tk}), got ${shapeStr(s)}`);
  }
}

/**
 * The composite form on (B, heads, T, hd) operands; also the reference of the fused kernels' tests. Query heads
 * are grouped by the key/value head they share, so q is viewed as (B, kvH, groups * Tq, hd) and k, v are never
 * repeated. Returns (B * Tq, H * hd).
 */
export function compositeAttention(
  q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number, bias: tf.Tensor4D | null | undefined, softcap?: number,
): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, H, Tq, hd] = q.shape;
    const kvH = k.shape[1];
    const Tk = k.shape[2];
    const g = H / kvH;
    const qs = scale === 1 ? q : (tf.mul(q, scale) as tf.Tensor4D);
    const qg = g === 1 ? qs : (tf.reshape(qs, [B, kvH, g * Tq, hd]) as tf.Tensor4D);
    let scores: tf.Tensor = tf.matMul(qg, k, false, true); // (B, kvH, g*Tq, Tk)
    if (softcap !== undefined) scores = tf.mul(tf.tanh(tf.div(scores, softcap)), softcap);
    if (bias) {
      scores = g === 1 ? tf.add(scores, bias) : tf.reshape(tf.add(tf.reshape(scores, [B, kvH, g, Tq, Tk]), tf.expandDims(bias, 1)), [B, kvH, g * Tq, Tk]);
    }
    const out = tf.matMul(tf.softmax(scores), v); // (B, kvH, g*Tq, hd)
    const heads = g === 1 ? out : tf.reshape(out, [B, H, Tq, hd]);
    return tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [B * Tq, H * hd]) as tf.Tensor2D;
  });
}

/** Runs the fused kernel and drops its second output (the probabilities; the tape keeps its own copy). */
function runFused(inputs: tf.NamedTensorMap, attrs: AttentionAttrs): tf.Tensor2D {
  const kernel = attrs.packed ? ATTENTION_KERNELS.forwardPacked : ATTENTION_KERNELS.forward;
  const [y, probs] = tf.engine().runKernel(kernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  probs.dispose();
  return y as tf.Tensor2D;
}

/**
 * softmax(scale q k^T + bias) v per head, with grouped-query heads (query head h uses key/value head
 * floor(h / (H / kvH)), as Hugging Face's repeat_kv). q holds H heads of Tq queries, k and v kvH heads of Tk
 * keys, each in the layout given by opts.layouts ('bthd' = (B, T, heads, hd) by default, or 'bhtd').
 * Returns the merged heads (B * Tq, H * hd), ready for the output projection. Differentiable in q, k and v.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, opts: SeparateAttentionOptions): tf.Tensor2D {
  checkScale(opts.scale);
  const lq = opts.layouts?.q ?? 'bthd';
  const lk = opts.layouts?.k ?? 'bthd';
  const lv = opts.layouts?.v ?? 'bthd';
  const [B, Tq, H, hd] = dims('q', q, lq);
  const [Bk, Tk, kvH, hdk] = dims('k', k, lk);
  const [Bv, Tv, kvHv, hdv] = dims('v', v, lv);
  if (Bk !== B || Bv !== B || Tv !== Tk || kvHv !== kvH || hdk !== hd || hdv !== hd || kvH === 0 || H % kvH !== 0) {
    throw new Error(`attention: q ${shapeStr(q.shape)} (${lq}), k ${shapeStr(k.shape)} (${lk}), v ${shapeStr(v.shape)} (${lv}) do not fit together`
      + ' (same B and hd, k and v the same length and heads, query heads a multiple of key/value heads)');
  }
  const bias = opts.bias ?? null;
  checkBias(bias, B, Tq, Tk);
  checkSoftcap(opts.softcap);
  if (fusableSoftcap(opts.softcap) && fusedAvailable(q, k, v, bias)) {
    const attrs: AttentionAttrs = { scale: opts.scale, softcap: opts.softcap ?? 0, packed: false, batch: 0, numHeads: H, numKvHeads: kvH, qLayout: lq, kLayout: lk, vLayout: lv };
    return runFused(bias ? { q, k, v, bias } : { q, k, v }, attrs);
  }
  return tf.tidy(() => {
    const bhtd = (t: tf.Tensor4D, l: HeadLayout): tf.Tensor4D => (l === 'bhtd' ? t : tf.transpose(t, [0, 2, 1, 3]));
    return compositeAttention(bhtd(q, lq), bhtd(k, lk), bhtd(v, lv), opts.scale, bias, opts.softcap);
  });
}

/**
 * attention() on a packed projection whose rows hold each token's q heads, then its k heads, then its v heads
 * (GPT-2's c_attn output): qkv is (B, T, H + 2 kvH, hd), or the projection's own (B * T, (H + 2 kvH) hd) with
 * opts.batch = B. The fused kernel reads the three parts in place and its backward writes one packed gradient of
 * qkv's shape, so no reshape, split or transpose is needed either way.
 */
export function attentionPacked(qkv: tf.Tensor4D | tf.Tensor2D, opts: PackedAttentionOptions): tf.Tensor2D {
  checkScale(opts.scale);
  const H = opts.numHeads;
  const kvH = opts.numKvHeads;
  if (!(Number.isInteger(H) && Number.isInteger(kvH) && kvH > 0 && H > 0 && H % kvH === 0)) {
    throw new Error(`attentionPacked: numHeads (${H}) must be a positive multiple of numKvHeads (${kvH})`);
  }
  const batch = opts.batch ?? 0;
  const [B, T, hd] = packedDims(qkv.shape, H, kvH, batch, 'attentionPacked');
  const bias = opts.bias ?? null;
  checkBias(bias, B, T, T);
  checkSoftcap(opts.softcap);
  if (fusableSoftcap(opts.softcap) && fusedAvailable(qkv, bias)) {
    const attrs: AttentionAttrs = { scale: opts.scale, softcap: opts.softcap ?? 0, packed: true, batch, numHeads: H, numKvHeads: kvH, qLayout: 'bthd', kLayout: 'bthd', vLayout: 'bthd' };
    return runFused(bias ? { qkv, bias } : { qkv }, attrs);
  }
  return tf.tidy(() => {
    // One reshape and one transpose of all heads, then a split: fewer ops than a split and three transposes.
    const x4 = qkv.rank === 4 ? qkv : tf.reshape(qkv, [B, T, H + 2 * kvH, hd]);
    const [q, k, v] = tf.split(tf.transpose(x4, [0, 2, 1, 3]), [H, kvH, kvH], 1) as tf.Tensor4D[];
    return compositeAttention(q, k, v, opts.scale, bias, opts.softcap);
  });
}
