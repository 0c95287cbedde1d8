/**
 * Building blocks shared by the GPT-2 and Llama forwards, and the per-call context that lets one
 * forward serve plain inference, gradients of a named parameter, shifted weights inside autodiff,
 * tracing (probes on module outputs, captured module inputs) and KV-cached generation.
 */
import { geluTanh, tf, untaped } from '@hiedit/tensor-core';
import type { Activation } from '../config';
import { headConst, headDiff, linearConst, linearDiff } from './matmul';

/**
 * Keys and values of one layer for the tokens seen so far: (B, T, kvHeads, headDim) each, the layout
 * tensor-core's attention reads in place (a projection's output reshaped, no transposes).
 */
export interface LayerCache {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

/** What one forward call does besides computing logits. All maps are read-only for the forward. */
export interface ForwardOptions {
  /** Parameter name (internal key) -> tensor used instead of the stored weight (for tf.grads). */
  overrides?: ReadonlyMap<string, tf.Tensor>;
  /** Module name -> (dIn, dOut) shift used as W + shift inside autodiff. */
  shifts?: ReadonlyMap<string, tf.Tensor2D>;
  /** Module name -> zero (N, dOut) tensor added to the module output; d loss / d probe = value grads. */
  probes?: ReadonlyMap<string, tf.Tensor>;
  /** Modules whose inputs are captured into `capture`. */
  captureNames?: ReadonlySet<string>;
  /** Filled with module name -> module input (N, dIn) (or its `captureRows`), kept past the enclosing tidy. */
  capture?: Map<string, tf.Tensor2D>;
  /** Row indices of the flattened (B*T) input whose captured inputs are wanted (default: all rows). */
  captureRows?: tf.Tensor1D;
  /**
   * Every weight takes part in autodiff (trainable variables, so tf.variableGrads and optimizers reach
   * them). Otherwise weights not overridden or shifted are constants and get no gradient at all.
   */
  weightsTrainable?: boolean;
}

/** Per-call view of the weights: applies overrides, shifts, probes and captures by module name. */
export class Ctx {
  constructor(
    private readonly weights: ReadonlyMap<string, tf.Tensor>,
    readonly opts: ForwardOptions = {},
  ) {}

  /**
   * Index of the first layer autodiff can need (numLayers when none): every differentiated tensor (override,
   * shift, probe, trainable weight) enters at or after it, so the layers before it can run untaped (see
   * tensor-core's untaped). layerOf maps a parameter or module name to its layer, to 'post' (after every
   * layer: final norm, untied head) or to undefined (embeddings and anything else: from the start).
   */
  firstTapedLayer(numLayers: number, layerOf: (name: string) => number | 'post' | undefined): number {
    if (this.opts.weightsTrainable) return 0;
    let first = numLayers;
    for (const m of [this.opts.overrides, this.opts.shifts, this.opts.probes]) {
      if (!m) continue;
      for (const name of m.keys()) {
        const l = layerOf(name);
        if (l !== 'post') first = Math.min(first, l ?? 0);
      }
    }
    return first;
  }

  /**
   * Runs `block` over layers 0..numLayers-1. The layers before the first one autodiff can need (see
   * firstTapedLayer) run untaped: under tf.grads the engine would otherwise record them and save their inputs
   * (an Identity dispatch per saved tensor) for a backward pass that never reaches them.
   */
  layers(
    x: tf.Tensor2D,
    numLayers: number,
    layerOf: (name: string) => number | 'post' | undefined,
    block: (h: tf.Tensor2D, i: number) => tf.Tensor2D,
  ): tf.Tensor2D {
    const cut = this.firstTapedLayer(numLayers, layerOf);
    let h = x;
    if (cut > 0) {
      h = untaped(h, (u) => {
        for (let i = 0; i < cut; i++) u = block(u, i);
        return u;
      }, 'layers before the first differentiated one');
    }
    for (let i = cut; i < numLayers; i++) h = block(h, i);
    return h;
  }

  /** A parameter by internal key (checkpoint name, linear weights in (dIn, dOut)). */
  p(key: string): tf.Tensor {
    const o = this.opts.overrides?.get(key);
    if (o) return o;
    const w = this.weights.get(key);
    if (!w) throw new Error(`internal: parameter ${key} does not exist`);
    return w;
  }

  /** Logits (N, V) = h E^T for the output matrix E (V, d) stored under `key`. */
  head(key: string, h: tf.Tensor2D): tf.Tensor2D {
    const e = this.p(key) as tf.Tensor2D;
    const diff = (this.opts.weightsTrainable ?? false) || (this.opts.overrides?.has(key) ?? false);
    return diff ? headDiff(h, e) : headConst(h, e);
  }

  /** y = x W (+ b) for module `name` (checkpoint name without .weight); x is (N, dIn). */
  linear(name: string, x: tf.Tensor2D): tf.Tensor2D {
    const { shifts, probes, capture, captureRows, captureNames } = this.opts;
    if (capture && captureNames?.has(name) && !capture.has(name)) {
      capture.set(name, tf.keep(captureRows ? tf.gather(x, captureRows) : tf.clone(x)));
    }
    const wKey = `${name}.weight`;
    const bKey = `${name}.bias`;
    let w = this.p(wKey) as tf.Tensor2D;
    const shift = shifts?.get(name);
    if (shift) w = tf.add(w, shift);
    const hasBias = this.weights.has(bKey);
    const all = this.opts.weightsTrainable ?? false;
    const wDiff = all || shift !== undefined || (this.opts.overrides?.has(wKey) ?? false);
    // A constant bias is the matmul's (matmul.ts picks how to add it); a differentiated one is a separate Add.
    const biasDiff = hasBias && (all || (this.opts.overrides?.has(bKey) ?? false));
    const constBias = hasBias && !biasDiff ? this.p(bKey) : undefined;
    let y = wDiff ? linearDiff(x, w, constBias) : linearConst(x, w, constBias);
    if (biasDiff) y = tf.add(y, this.p(bKey));
    const probe = probes?.get(name);
    if (probe) y = tf.add(y, probe as tf.Tensor2D);
    return y;
  }
}

/**
 * Activation by normalized name. The tanh GELU is tensor-core's geluTanh, x * sigmoid(2z) (the same
 * value as 0.5 x (1 + tanh(z))): one fused kernel with the accelerator, and without it the wasm
 * Sigmoid instead of the ~14x slower Tanh, no catastrophic cancellation for negative inputs, no pow.
 */
export function activate(x: tf.Tensor2D, act: Activation): tf.Tensor2D {
  switch (act) {
    case 'gelu_tanh':
      return geluTanh(x);
    case 'gelu_erf':
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    case 'relu':
      return tf.relu(x);
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    case 'quick_gelu':
      return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
  }
}

/**
 * Additive attention bias (B, 1, Tq, Tk): 0 where query i (at absolute position pos0 + i) may see key j
 * (causal, key j not padding and, with a `window`, one of the `window` most recent positions, the query's own
 * included), a large negative number elsewhere. Built on the host: it is small.
 */
export function attentionBias(B: number, Tq: number, Tk: number, pos0: number, keyMask?: number[][], window?: number): tf.Tensor4D {
  const data = new Float32Array(B * Tq * Tk);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      const row = (b * Tq + i) * Tk;
      for (let j = 0; j < Tk; j++) {
        const visible = j <= pos0 + i && (window === undefined || j > pos0 + i - window) && (keyMask === undefined || keyMask[b][j] !== 0);
        if (!visible) data[row + j] = -1e9;
      }
    }
  }
  return tf.tensor4d(data, [B, 1, Tq, Tk]);
}

/**
 * The masks of one forward, by window: `full` (causal and padding; null when every key is visible) for layers
 * without a window, and for each window size in `windows` the same with that window, made here, up front (a mask
 * made lazily inside untaped layers would be disposed with them), and only where it hides a key (else `full`).
 */
export function windowedBiases(
  full: tf.Tensor4D | null, make: (window: number) => tf.Tensor4D, Tk: number, windows: readonly (number | null)[] | undefined,
): (window: number) => tf.Tensor4D | null {
  const made = new Map<number, tf.Tensor4D>();
  for (const w of windows ?? []) if (w !== null && Tk > w && !made.has(w)) made.set(w, make(w));
  return (window) => {
    if (Tk <= window) return full;
    const b = made.get(window);
    if (!b) throw new Error(`internal: no attention mask made for window ${window}`);
    return b;
  };
}

/**
 * Append new keys/values (B, T, kvHeads, headDim) to a layer cache (or start one); returns the full keys/values
 * to attend over.
 */
export function extendCache(cache: LayerCache[] | undefined, layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
  if (!cache) return { k, v };
  const prev = cache[layer];
  const full = prev ? { k: tf.concat([prev.k, k], 1) as tf.Tensor4D, v: tf.concat([prev.v, v], 1) as tf.Tensor4D } : { k, v };
  // The cache outlives this step's tidy; the caller disposes the previous entry.
  cache[layer] = { k: tf.keep(full.k), v: tf.keep(full.v) };
  return full;
}
