/** Edit requests as text, their validation, and their tokenization. */
import { TokenizedEditRequest, TokenizedTuple } from '@hiedit/tensor-core';
import { TupleTokenizer } from './model';

/**
 * An edit request as text: "for `prompt` the answer is now `target`". Structurally compatible with
 * @hiedit/benchmarks' EditRequest, so a benchmark can pass its records directly.
 */
export interface EditRequestInput {
  readonly id?: string;
  readonly prompt: string;
  readonly target: string;
  readonly paraphrases?: readonly string[];
  readonly locality?: readonly { readonly prompt: string; readonly answer: string }[];
}

function nonEmpty(v: unknown, field: string, where: string): string {
  if (typeof v !== 'string') throw new Error(`${where}: field "${field}" must be a string, got ${typeof v}`);
  if (v.trim().length === 0) throw new Error(`${where}: field "${field}" is empty`);
  return v;
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

function checkTuple(t: TokenizedTuple, what: string, where: string): TokenizedTuple {
  if (!t.labels.some((l) => l >= 0)) throw new Error(`${where}: ${what} has no answer token to learn`);
  return t;
}

/** Tokenizes a validated request (spec §2). */
export function tokenizeRequest(r: EditRequestInput, tokenize: TupleTokenizer, id: string, where = 'edit request'): TokenizedEditRequest {
  return {
    id,
    edit: checkTuple(tokenize(r.prompt, r.target), 'prompt + target', where),
    paraphrases: (r.paraphrases ?? []).map((p, i) => checkTuple(tokenize(p, r.target), `paraphrases[${i}]`, where)),
    locality: (r.locality ?? []).map((l, i) => checkTuple(tokenize(l.prompt, l.answer), `locality[${i}]`, where)),
  };
}
