/**
 * What the evaluation needs from a model and from a request. Kept structural so a CausalLM from
 * @hiedit/llm-loader fits as is and tests can use a toy model whose predictions are known exactly.
 */
import type { tf, TokenizedEditRequest, TokenizedTuple } from '@hiedit/tensor-core';

/** The part of a causal LM the metrics use: batched logits under an attention mask. */
export interface EvalModel {
  /** Logits (B, T, V) of a right-padded batch; the caller disposes the result. */
  forward(ids: number[][], attentionMask?: number[][]): tf.Tensor3D;
}

/**
 * One request of an evaluation stream: the tokenized edit request the editor sees, plus what the
 * CounterFact-style metric and the generation metric need.
 */
export interface EvalCase extends TokenizedEditRequest {
  /**
   * Token ids of the old answer (tokenized exactly like the new answer's label tokens). Present for
   * CounterFact-style scoring; position i of the new answer competes with position i of the old one.
   */
  readonly oldAnswer?: readonly number[];
}

/**
 * How ES and GS are scored (spec §6): `zsre` = teacher-forced token accuracy of the new answer;
 * `counterfact` = per answer token, the new answer's token logit beats the old answer's token logit.
 */
export type MetricStyle = 'zsre' | 'counterfact';

/** Scores of one request on the current model (fractions; null when the request has no such data). */
export interface CaseScores {
  readonly id: string;
  readonly ES: number;
  readonly GS: number | null;
  readonly LS: number | null;
  readonly LS_gold: number | null;
  readonly WILD_ES: number | null;
  readonly WILD_GS: number | null;
}

/** Means over requests (null when no request had data for the metric, or it was not measured). */
export interface MetricSummary {
  ES: number;
  GS: number | null;
  LS: number | null;
  LS_gold: number | null;
  WILD_ES: number | null;
  WILD_GS: number | null;
}

/** Unedited predictions recorded before the stream: argmax per locality answer position, per case. */
export interface LocalityBaseline {
  /** case id -> one Int32 array of argmax ids per locality tuple (answer positions only). */
  readonly byCase: ReadonlyMap<string, readonly Int32Array[]>;
}

/** Teacher-forced view of one tuple's answer positions. */
export interface TupleStats {
  /** The label tokens (the answer). */
  readonly targets: Int32Array;
  /** Argmax of the model at each answer position. */
  readonly pred: Int32Array;
  /**
   * Per answer position: 1 when the target token's logit beats the compared token's logit, 0 when not,
   * -1 when the position was not compared (no compared token, or the same token).
   */
  readonly win?: Int8Array;
}

export type { TokenizedTuple };
