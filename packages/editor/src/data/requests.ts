import type { EditRequest, LocalityPrompt } from '../request';
import type { RecordReader } from './errors';
import { parseRecords } from './parse';
import type { LoadOptions, LoadResult } from './types';

/** A request id: a non-empty string or a non-negative integer (JSON files hold both). */
function readId(r: RecordReader, index: number): string {
  if (!r.has('id')) return String(index);
  return r.isString('id') ? r.string('id') : String(r.nonNegativeInt('id'));
}

/**
 * One record of the dataset-neutral format: `{id?, prompt, target, oldTarget?, subject?, paraphrases?, locality?:
 * [{prompt, answer}]}`. The id defaults to the record index; paraphrases and locality prompts may be absent. The old
 * answer and subject are what a benchmark's request files carry (`hiedit-bench splits`): CounterFact-style scoring
 * compares the new answer with the old one.
 */
export function parseRequestRecord(r: RecordReader, index: number, label: string): EditRequest {
  const id = readId(r, index);
  const prompt = r.string('prompt');
  const target = r.string('target');
  const paraphrases = r.has('paraphrases') ? r.stringArray('paraphrases', { allowEmpty: true }) : [];
  const locality: LocalityPrompt[] = r.has('locality')
    ? r.objectArray('locality').map((o) => ({ prompt: o.string('prompt'), answer: o.string('answer') }))
    : [];
  const oldTarget = r.optionalString('oldTarget');
  const subject = r.optionalString('subject');
  return {
    id, prompt, target, ...(oldTarget !== undefined ? { oldTarget } : {}), ...(subject !== undefined ? { subject } : {}),
    paraphrases, locality, source: { format: 'requests', file: label, index },
  };
}

/** Parses an array of dataset-neutral request records. Strict unless `opts.skipInvalid`. */
export function parseRequests(raw: unknown, opts: LoadOptions = {}): LoadResult {
  return parseRecords(raw, 'requests', parseRequestRecord, opts);
}
