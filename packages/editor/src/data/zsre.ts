import type { EditRequest } from '../request';
import type { RecordReader } from './errors';
import { parseRecords } from './parse';
import type { LoadOptions, LoadResult } from './types';

/**
 * One zsRE record in the MEND format: `src` -> `alt`, paraphrase `rephrase` (a string, or a list in some
 * dumps), unrelated NQ question `loc` with answer `loc_ans`, true answers `answers`. `pred` and `cond` are
 * the original model's prediction and a MEND conditioning string; they are not needed and not required.
 * As with CounterFact, the new answer must differ from the old one (`answers[0]`).
 */
export function parseZsreRecord(r: RecordReader, index: number, label: string): EditRequest {
  const subject = r.string('subject');
  const prompt = r.string('src');
  const target = r.string('alt');
  const trueAnswers = r.stringArray('answers');
  // The model already gives this answer: the "edit" changes nothing and would inflate ES.
  if (target === trueAnswers[0]) throw r.error('alt', `must differ from "answers[0]" (both are "${target}")`);
  const paraphrases = r.stringOrStringArray('rephrase');
  const loc = r.string('loc');
  const locAns = r.string('loc_ans');
  if (r.has('pred')) r.string('pred');
  return {
    id: String(index),
    prompt,
    target,
    oldTarget: trueAnswers[0],
    subject,
    paraphrases,
    locality: [{ prompt: loc, answer: locAns, kind: 'unrelated' }],
    trueAnswers,
    source: { format: 'zsre', file: label, index },
  };
}

/** Parses an array of zsRE (MEND format) records. Strict unless `opts.skipInvalid`. */
export function parseZsre(raw: unknown, opts: LoadOptions = {}): LoadResult {
  return parseRecords(raw, 'zsre', parseZsreRecord, opts);
}
