/** The dataset formats the loaders understand (see docs/datasets.md). */
export type DatasetFormat = 'zsre' | 'counterfact' | 'counterfact-rome';

/** Why a locality prompt is there: another subject with the same relation and answer, or anything else. */
export type LocalityKind = 'neighborhood' | 'unrelated';

/** A prompt whose answer an edit must NOT change, with that answer. */
export interface LocalityPrompt {
  readonly prompt: string;
  readonly answer: string;
  /** Absent when the source format does not say (zsRE's `loc` is an unrelated NQ question). */
  readonly kind?: LocalityKind;
}

/** Where a request came from, so later errors can name the record. */
export interface RequestSource {
  readonly format: DatasetFormat;
  /** File label (base name) the record was read from. */
  readonly file: string;
  /** Index of the record in that file. */
  readonly index: number;
}

/**
 * One edit request in the common shape every loader produces (spec §2): "for `prompt` the answer is now
 * `target`", with paraphrases that must follow and locality prompts that must not move.
 */
export interface EditRequest {
  /** Unique within the file: CounterFact's case_id, or the record index for zsRE. */
  readonly id: string;
  /** The full edit prompt (ROME templates already have the subject filled in). */
  readonly prompt: string;
  /** The new answer. */
  readonly target: string;
  /** The answer the model is expected to give before the edit (the true fact), when known. */
  readonly oldTarget?: string;
  /** The subject the prompt is about, when known. */
  readonly subject?: string;
  /** Relation id (e.g. Wikidata P-ids in CounterFact, relation names in the built-in world). */
  readonly relation?: string;
  /** Paraphrases of the prompt; the edit must generalize to them. May be empty. */
  readonly paraphrases: readonly string[];
  /** Prompts the edit must leave alone, with their own answers. May be empty. */
  readonly locality: readonly LocalityPrompt[];
  /** zsRE: every accepted true answer (oldTarget is the first). */
  readonly trueAnswers?: readonly string[];
  /** ROME CounterFact: prompts about other subjects whose TRUE answer is `target`. */
  readonly attributePrompts?: readonly string[];
  /** ROME CounterFact: open-ended prompts for generation-based evaluation. */
  readonly generationPrompts?: readonly string[];
  readonly source: RequestSource;
}

/** Options of every loader. */
export interface LoadOptions {
  /**
   * Skip invalid records instead of failing on the first one. The skipped indices and reasons are
   * returned in {@link LoadResult.skipped}; nothing is ever dropped silently.
   */
  readonly skipInvalid?: boolean;
  /** Label used in error messages and request sources (default: the file's base name, or "records"). */
  readonly label?: string;
}

/** A record the loader refused, with the reason (same text the strict mode would throw). */
export interface SkippedRecord {
  readonly index: number;
  readonly field: string;
  readonly message: string;
}

/** What a loader returns. */
export interface LoadResult {
  readonly format: DatasetFormat;
  readonly label: string;
  readonly requests: EditRequest[];
  /** Empty unless `skipInvalid` was set. */
  readonly skipped: SkippedRecord[];
}
