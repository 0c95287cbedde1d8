/** Text requests -> tokenized evaluation cases, and the held-out facts of the retention metric. */
import { IGNORE_INDEX, type TokenizedTuple } from '@hiedit/tensor-core';
import type { EvalCase } from '../eval';
import type { TextFact, TextRequest } from './types';

/** The answer tokens of a tuple (its labels without the ignored prompt positions). */
export function answerTokens(t: TokenizedTuple): number[] {
  return t.labels.filter((l) => l !== IGNORE_INDEX) as number[];
}

/** Tokenizes one request: the edit, its paraphrases and locality prompts, and the old answer's tokens. */
export function toEvalCase(r: TextRequest, tokenize: (prompt: string, answer: string) => TokenizedTuple): EvalCase {
  const where = `request "${r.id}"`;
  const tok = (prompt: string, answer: string, what: string): TokenizedTuple => {
    try {
      return tokenize(prompt, answer);
    } catch (e) {
      throw new Error(`${where}: cannot tokenize the ${what}: ${(e as Error).message}`);
    }
  };
  const edit = tok(r.prompt, r.target, 'edit prompt');
  const oldAnswer = r.oldTarget !== undefined ? answerTokens(tok(r.prompt, r.oldTarget, 'old answer')) : undefined;
  return {
    id: r.id,
    edit,
    paraphrases: r.paraphrases.map((p, i) => tok(p, r.target, `paraphrase ${i}`)),
    locality: r.locality.map((l, i) => tok(l.prompt, l.answer, `locality prompt ${i}`)),
    ...(oldAnswer ? { oldAnswer } : {}),
  };
}

/** Held-out facts and the requests they came from (empty when the facts were given). */
export interface RetentionSelection {
  facts: TextFact[];
  /** Ids of unused requests whose true facts were taken (a facts model must be taught them). */
  requestIds: string[];
}

/**
 * Facts for retention: the given held-out facts, or else the true facts (prompt -> old answer) of requests
 * used by no split and sharing no subject with one — facts the model was taught and no edit of the run
 * touches. Prompts that appear in a used request (as edit, paraphrase or locality prompt) are excluded
 * either way.
 */
export function retentionFacts(
  all: readonly TextRequest[],
  used: readonly TextRequest[],
  limit: number,
  given?: readonly TextFact[],
): RetentionSelection {
  const touched = new Set<string>();
  for (const r of used) {
    touched.add(r.prompt);
    r.paraphrases.forEach((p) => touched.add(p));
    r.locality.forEach((l) => touched.add(l.prompt));
  }
  const usedIds = new Set(used.map((r) => r.id));
  const usedSubjects = new Set(used.map((r) => r.subject).filter((s): s is string => s !== undefined));
  const candidates: { fact: TextFact; id?: string }[] = given
    ? given.map((fact) => ({ fact }))
    : all
        .filter((r) => !usedIds.has(r.id) && r.oldTarget !== undefined && !(r.subject !== undefined && usedSubjects.has(r.subject)))
        .map((r) => ({ fact: { prompt: r.prompt, answer: r.oldTarget as string }, id: r.id }));
  const facts: TextFact[] = [];
  const requestIds: string[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    if (facts.length >= limit) break;
    if (touched.has(c.fact.prompt) || seen.has(c.fact.prompt)) continue;
    seen.add(c.fact.prompt);
    facts.push(c.fact);
    if (c.id !== undefined) requestIds.push(c.id);
  }
  return { facts, requestIds };
}
