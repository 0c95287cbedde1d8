import type { EditRequest } from '../request';
import type { RecordReader } from './errors';
import { parseRecords } from './parse';
import type { LoadOptions, LoadResult } from './types';

/**
 * One CounterFact record in the original ROME format. `requested_rewrite.prompt` is a template where
 * `{}` stands for the subject. Neighbourhood prompts are about other subjects that share the relation and
 * the TRUE answer, so their locality answer is `target_true.str`. Attribute prompts (subjects whose true
 * answer is the new target) and generation prompts are kept for generation-style metrics.
 */
export function parseCounterFactRomeRecord(r: RecordReader, index: number, label: string): EditRequest {
  const caseId = r.nonNegativeInt('case_id');
  const rw = r.object('requested_rewrite');
  const template = rw.string('prompt');
  const subject = rw.string('subject');
  const target = rw.object('target_new').string('str');
  const oldTarget = rw.object('target_true').string('str');
  const relation = rw.optionalString('relation_id');
  if (!template.includes('{}')) throw rw.error('prompt', 'must contain the subject placeholder "{}"');
  if (target === oldTarget) throw rw.error('target_new.str', `must differ from "target_true.str" (both are "${target}")`);
  const paraphrases = r.stringArray('paraphrase_prompts', { allowEmpty: true });
  const neighborhood = r.stringArray('neighborhood_prompts', { allowEmpty: true });
  const attributePrompts = r.has('attribute_prompts') ? r.stringArray('attribute_prompts', { allowEmpty: true }) : undefined;
  const generationPrompts = r.has('generation_prompts') ? r.stringArray('generation_prompts', { allowEmpty: true }) : undefined;
  return {
    id: String(caseId),
    prompt: template.split('{}').join(subject),
    target,
    oldTarget,
    subject,
    ...(relation !== undefined ? { relation } : {}),
    paraphrases,
    locality: neighborhood.map((p) => ({ prompt: p, answer: oldTarget, kind: 'neighborhood' as const })),
    ...(attributePrompts ? { attributePrompts } : {}),
    ...(generationPrompts ? { generationPrompts } : {}),
    source: { format: 'counterfact-rome', file: label, index },
  };
}

/** Parses an array of CounterFact (original ROME format) records. Strict unless `opts.skipInvalid`. */
export function parseCounterFactRome(raw: unknown, opts: LoadOptions = {}): LoadResult {
  return parseRecords(raw, 'counterfact-rome', parseCounterFactRomeRecord, opts);
}
