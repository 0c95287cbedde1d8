/** What each architecture tells the generic CausalLM: its parameters, its modules and its forward. */
import type { tf, ModuleDescriptor } from '@hiedit/tensor-core';
import type { ModelConfig } from '../config';
import type { Ctx, LayerCache } from './layers';

/** How a parameter is initialized by the tiny-checkpoint factory. */
/** 'offsetNorm': a norm weight used as (1 + w) (Gemma), so drawn around 0 rather than 1. */
export type InitKind = 'matrix' | 'embedding' | 'norm' | 'offsetNorm' | 'bias';

/** One tensor of the checkpoint. */
export interface ParamSpec {
  /** Checkpoint name without any `transformer.` prefix, e.g. `h.0.attn.c_attn.weight`. */
  readonly key: string;
  /** Shape as stored in the checkpoint. */
  readonly shape: readonly number[];
  /** Stored (out, in) as nn.Linear: transposed once at load to the internal (in, out), back at save. */
  readonly transposed: boolean;
  readonly init: InitKind;
}

/** Inputs of one forward over a (B, T) block of tokens starting at absolute position pos0. */
export interface BlockInput {
  readonly ids: tf.Tensor2D;
  readonly B: number;
  readonly T: number;
  readonly pos0: number;
  /** (B, 1, T, Tk) additive mask, or null when every key is visible (one cached query). */
  readonly bias: tf.Tensor4D | null;
  /** The mask of a layer with a sliding window of this size (see windowedBiases). */
  readonly windowBias: (window: number) => tf.Tensor4D | null;
  /** Per-layer KV cache, extended in place (generation only). */
  readonly cache?: LayerCache[];
}

export interface ArchImpl {
  params(cfg: ModelConfig): ParamSpec[];
  modules(cfg: ModelConfig): ModuleDescriptor[];
  /** Name of the token embedding (V, d), also the output projection when embeddings are tied. */
  embeddingKey: string;
  /** Final hidden states (B*T, d) after the last norm. */
  hidden(ctx: Ctx, cfg: ModelConfig, input: BlockInput): tf.Tensor2D;
  /** Tensors some checkpoints carry that are derived buffers, not parameters: skipped at load. */
  isBuffer(name: string): boolean;
}
