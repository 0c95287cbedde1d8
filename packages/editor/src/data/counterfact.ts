import type { EditRequest, LocalityKind, LocalityPrompt } from '../request';
import type { RecordReader } from './errors';
import { parseRecords } from './parse';
import type { LoadOptions, LoadResult } from './types';

function localityList(r: RecordReader, field: string, kind: LocalityKind): LocalityPrompt[] {
  if (!r.has(field)) return [];
  return r.objectArray(field).map((o) => ({ prompt: o.string('prompt'), answer: o.string('ground_truth'), kind }));
}

/**
 * One CounterFact record in the EasyEdit format: `prompt` -> `target_new` (old answer `ground_truth`),
 * paraphrase `rephrase_prompt`, neighbourhood prompt `locality_prompt` whose true answer is
 * `locality_ground_truth`. The subject must occur in the prompt (locate-then-edit methods rely on it),
 * and the new answer must differ from the old one.
 *
 * Optional extension fields (written by the built-in world, validated when present):
 * `relation_id` (string), `paraphrase_prompts` (more paraphrases), `neighborhood_prompts` and
 * `unrelated_prompts` (arrays of {prompt, ground_truth}).
 */
export function parseCounterFactRecord(r: RecordReader, index: number, label: string): EditRequest {
  const caseId = r.nonNegativeInt('case_id');
  const prompt = r.string('prompt');
  const subject = r.string('subject');
  const target = r.string('target_new');
  const oldTarget = r.string('ground_truth');
  const rephrase = r.string('rephrase_prompt');
  const locPrompt = r.string('locality_prompt');
  const locAnswer = r.string('locality_ground_truth');
  if (!prompt.includes(subject)) throw r.error('prompt', `must contain the subject "${subject}"`);
  if (target === oldTarget) throw r.error('target_new', `must differ from "ground_truth" (both are "${target}")`);
  const relation = r.optionalString('relation_id');
  const extra = r.has('paraphrase_prompts') ? r.stringArray('paraphrase_prompts', { allowEmpty: true }) : [];
  const paraphrases = [rephrase, ...extra.filter((p) => p !== rephrase)];
  const locality: LocalityPrompt[] = [
    { prompt: locPrompt, answer: locAnswer, kind: 'neighborhood' },
    ...localityList(r, 'neighborhood_prompts', 'neighborhood').filter((l) => l.prompt !== locPrompt),
    ...localityList(r, 'unrelated_prompts', 'unrelated'),
  ];
  return {
    id: String(caseId),
    prompt,
    target,
    oldTarget,
    subject,
    ...(relation !== undefined ? { relation } : {}),
    paraphrases,
    locality,
    source: { format: 'counterfact', file: label, index },
  };
}

/** Parses an array of CounterFact (EasyEdit format) records. Strict unless `opts.skipInvalid`. */
export function parseCounterFact(raw: unknown, opts: LoadOptions = {}): LoadResult {
  return parseRecords(raw, 'counterfact', parseCounterFactRecord, opts);
}
