/** Edit requests as text, their validation, and their tokenization. */
import { TokenizedEditRequest, TokenizedTuple } from '@hiedit/tensor-core';
import type { DatasetFormat } from './data/types';
import { TupleTokenizer } from './model';

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
 * The one edit request of the project (spec §2): "for `prompt` the answer is now `target`", with
 * paraphrases that must follow and locality prompts that must not move. The dataset readers
 * (`loadDataset`, `readEditRequests`) produce it, the editor applies it and the benchmarks measure it;
 * @hiedit/benchmarks' `EditRequest` and `TextRequest` are this type.
 */
export interface EditRequest {
  /** Unique within the file: CounterFact's case_id, a requests file's id, or the record index. */
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
  /** Set by the dataset readers; absent for requests built in code. */
  readonly source?: RequestSource;
}

/**
 * What `LifelongEditor.edit` accepts: an {@link EditRequest} of which only `prompt` and `target` are
 * required (a request typed on the command line has no id, paraphrases or locality prompts).
 */
export type EditRequestInput = Partial<EditRequest> & Pick<EditRequest, 'prompt' | 'target'>;

// A lone surrogate cannot be encoded as UTF-8; U+FFFD is what decoding put in place of bytes that were not UTF-8.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function nonEmpty(v: unknown, field: string, where: string): string {
  if (typeof v !== 'string') throw new Error(`${where}: field "${field}" must be a string, got ${typeof v}`);
  if (v.trim().length === 0) throw new Error(`${where}: field "${field}" is empty`);
  const surrogate = LONE_SURROGATE.exec(v);
  if (surrogate) {
    throw new Error(`${where}: field "${field}" is not valid Unicode: a lone surrogate at character ${surrogate.index}`);
  }
  const replaced = v.indexOf('\uFFFD');
  if (replaced >= 0) {
    throw new Error(`${where}: field "${field}" holds U+FFFD at character ${replaced}: the text was decoded from bytes ` +
      'that are not valid UTF-8');
  }
  return v;
}

/**
 * Thrown by a {@link TupleTokenizer} about one of its two texts (`part`), so `tokenizeRequest` can name the
 * request field that text came from.
 */
export class TupleTextError extends Error {
  constructor(readonly part: 'prompt' | 'answer', message: string) {
    super(message);
    this.name = 'TupleTextError';
  }
}

/** Validates a request's fields; throws naming the field. Returns a normalized copy. */
export function validateRequest(r: EditRequestInput, where = 'edit request'): EditRequestInput {
  if (r === null || typeof r !== 'object') throw new Error(`${where}: must be an object`);
  const prompt = nonEmpty(r.prompt, 'prompt', where);
  const target = nonEmpty(r.target, 'target', where);
  const paraphrases = (r.paraphrases ?? []).map((p, i) => nonEmpty(p, `paraphrases[${i}]`, where));
  const locality = (r.locality ?? []).map((l, i) => ({
    prompt: nonEmpty(l?.prompt, `locality[${i}].prompt`, where), answer: nonEmpty(l?.answer, `locality[${i}].answer`, where),
  }));
  if (r.id !== undefined && typeof r.id !== 'string') throw new Error(`${where}: field "id" must be a string`);
  return { ...(r.id !== undefined ? { id: r.id } : {}), prompt, target, paraphrases, locality };
}

/** Options of `tokenizeRequest`. */
export interface TokenizeRequestOptions {
  /** The model's context length: a tuple of more tokens is refused here, before any model work. */
  readonly maxTokens?: number;
}

function checkTuple(t: TokenizedTuple, what: string, field: string, where: string, opts: TokenizeRequestOptions): TokenizedTuple {
  if (!t.labels.some((l) => l >= 0)) throw new Error(`${where}: ${what} has no answer token to learn`);
  if (opts.maxTokens !== undefined && t.ids.length > opts.maxTokens) {
    throw new Error(`${where}: field "${field}" is too long: ${what} is ${t.ids.length} tokens, the model takes at most ` +
      `${opts.maxTokens}`);
  }
  return t;
}

/** `tokenize(prompt, answer)`, a {@link TupleTextError} turned into an error naming the request field at fault. */
function tokenizeFields(tokenize: TupleTokenizer, prompt: string, answer: string, fields: [string, string],
  where: string): TokenizedTuple {
  try {
    return tokenize(prompt, answer);
  } catch (e) {
    if (!(e instanceof TupleTextError)) throw e;
    throw new Error(`${where}: field "${fields[e.part === 'prompt' ? 0 : 1]}" ${e.message}`);
  }
}

/** Tokenizes a validated request (spec §2); refuses a tuple longer than `opts.maxTokens`, naming its field. */
export function tokenizeRequest(r: EditRequestInput, tokenize: TupleTokenizer, id: string, where = 'edit request',
  opts: TokenizeRequestOptions = {}): TokenizedEditRequest {
  return {
    id,
    edit: checkTuple(tokenizeFields(tokenize, r.prompt, r.target, ['prompt', 'target'], where),
      'prompt + target', 'prompt', where, opts),
    paraphrases: (r.paraphrases ?? []).map((p, i) =>
      checkTuple(tokenizeFields(tokenize, p, r.target, [`paraphrases[${i}]`, 'target'], where),
        `paraphrases[${i}]`, `paraphrases[${i}]`, where, opts)),
    locality: (r.locality ?? []).map((l, i) =>
      checkTuple(tokenizeFields(tokenize, l.prompt, l.answer, [`locality[${i}].prompt`, `locality[${i}].answer`], where),
        `locality[${i}]`, `locality[${i}].prompt`, where, opts)),
  };
}
