/**
 * Typed interfaces shared by every hiedit package. They carry tfjs tensors but name no model
 * architecture, so policies (rl-hierarchy) and models (llm-loader) can meet without importing each other.
 */
import type * as tf from '@tensorflow/tfjs';

/** An editable linear layer, named as in the checkpoint (`model.layers.3.mlp.up_proj`, `h.1.mlp.c_fc`). */
export interface ModuleDescriptor {
  /** Checkpoint name of the module, without the trailing `.weight`. */
  readonly name: string;
  /** Input width: the module computes y = x W with W of shape (dIn, dOut), whatever its storage layout. */
  readonly dIn: number;
  /** Output width. */
  readonly dOut: number;
  /** Transformer block index the module belongs to (-1 when it belongs to none). */
  readonly layer: number;
}

/** Modules with the same (dIn, dOut) share one policy network: this is their group key. */
export function shapeKey(m: Pick<ModuleDescriptor, 'dIn' | 'dOut'>): string {
  return `${m.dIn}x${m.dOut}`;
}

/**
 * What one trace of an edit tuple yields for one module (spec §3.1): its inputs (keys) and the
 * gradient of the loss with respect to its outputs (value gradients) at the traced token positions.
 */
export interface EditFeatures {
  /** (T, dIn) inputs of the module at the traced positions. */
  readonly keys: tf.Tensor2D;
  /** (T, dOut) d loss / d module output at the same positions. */
  readonly valueGrads: tf.Tensor2D;
}

/**
 * A weight shift in (dIn, dOut) orientation. Low-rank shifts keep their factors so a journal or an
 * edit pack stores a few rows per module instead of a dense matrix.
 */
export type ParameterShift =
  | { readonly kind: 'dense'; readonly delta: tf.Tensor2D }
  /** delta = left (dIn, r) times right (r, dOut). */
  | { readonly kind: 'lowRank'; readonly left: tf.Tensor2D; readonly right: tf.Tensor2D };

/** Shifts keyed by module name. */
export type ShiftSet = Map<string, ParameterShift>;

/** A high-level policy's choice of modules for one edit. */
export interface ModuleMask {
  /** Module names in policy order. */
  readonly modules: readonly string[];
  /** Gate score per module (same order). */
  readonly scores: Float32Array;
  /** Hard 0/1 selection per module (same order). */
  readonly selected: readonly boolean[];
}

/** Token positions a trace records (spec §3.1): every non-padding token, or only the answer tokens. */
export type TracePositions = 'all' | 'ans';

/** A tokenized teacher-forcing tuple (spec §2): position i predicts labels[i]; -100 is ignored. */
export interface TokenizedTuple {
  readonly ids: readonly number[];
  readonly labels: readonly number[];
}

/** Label value that masked losses skip. */
export const IGNORE_INDEX = -100;

/** An edit request after tokenization: the edit tuple, its paraphrases, and unrelated (locality) tuples. */
export interface TokenizedEditRequest {
  /** Stable id of the request within its stream (dataset index or user id). */
  readonly id: string;
  /** prompt + new answer. */
  readonly edit: TokenizedTuple;
  /** paraphrase prompts + new answer (generalization). May be empty. */
  readonly paraphrases: readonly TokenizedTuple[];
  /** unrelated prompts + their own answers (locality). May be empty. */
  readonly locality: readonly TokenizedTuple[];
}

/** Result of tracing one tuple through a model (spec §3.1). The caller owns and disposes the tensors. */
export interface TraceResult {
  /** Mean cross-entropy over the label positions of the traced tuple. */
  readonly loss: number;
  /** Features per traced module name. */
  readonly features: Map<string, EditFeatures>;
}

/**
 * What the policies need from a model, and nothing more: llm-loader's models implement it, and
 * rl-hierarchy trains against it without knowing any architecture.
 *
 * Shifts passed to the `...UnderShifts` methods are (dIn, dOut) tensors that take part in autodiff:
 * the result is a function of W + shift for every named module, so gradients flow into whatever
 * produced the shift. They are never written into the weights by these methods.
 */
export interface EditableModel {
  /** Every linear layer that can be edited, in checkpoint order. */
  readonly modules: readonly ModuleDescriptor[];
  /** Descriptor by checkpoint name; throws a clear error naming the module when it does not exist. */
  module(name: string): ModuleDescriptor;
  /** One forward + backward on `tuple`, returning keys and value gradients of `modules` only. */
  trace(tuple: TokenizedTuple, modules: readonly string[], positions?: TracePositions): TraceResult;
  /** Mean cross-entropy over all label positions of a (right-padded) batch, under W + shifts. */
  lossUnderShifts(tuples: readonly TokenizedTuple[], shifts?: ReadonlyMap<string, tf.Tensor2D>): tf.Scalar;
  /**
   * Log-probabilities (P, vocab) at the label positions of the batch, in tuple order then position order,
   * under W + shifts. Used for locality KL terms.
   */
  logProbsUnderShifts(tuples: readonly TokenizedTuple[], shifts?: ReadonlyMap<string, tf.Tensor2D>): tf.Tensor2D;
  /** W_name += scale * delta, delta in (dIn, dOut). Outside autodiff: this is the applied edit. */
  addShift(name: string, delta: tf.Tensor2D, scale?: number): void;
  /** A copy of the current weight in (dIn, dOut) orientation; the caller disposes it. */
  readWeight(name: string): tf.Tensor2D;
  /** Replace the weight (dIn, dOut), e.g. to restore a snapshot. */
  writeWeight(name: string, value: tf.Tensor2D): void;
}
