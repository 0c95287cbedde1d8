/**
 * A run's requests as files: the train, validation and evaluation splits (and the held-out facts) in the
 * dataset-neutral `requests` format, JSON Lines, so `hiedit train-editor` / `hiedit edit --format requests` and
 * `hiedit-bench eval --data` read exactly the requests the run used.
 */
import * as path from 'path';
import type { Splits } from '../datasets';
import { writeFileAtomic } from './state';
import type { TextFact, TextRequest } from './types';

/** File names of the split files inside a requests directory. */
export const SPLIT_FILES = {
  train: 'train.jsonl',
  validation: 'validation.jsonl',
  evaluation: 'evaluation.jsonl',
  heldOutFacts: 'held-out-facts.jsonl',
} as const;

/** One request as a `requests`-format record (fields in a fixed order, optional ones only when present). */
export function requestRecord(r: TextRequest): Record<string, unknown> {
  return {
    id: r.id, prompt: r.prompt, target: r.target,
    ...(r.oldTarget !== undefined ? { oldTarget: r.oldTarget } : {}),
    ...(r.subject !== undefined ? { subject: r.subject } : {}),
    paraphrases: [...r.paraphrases],
    locality: r.locality.map((l) => ({ prompt: l.prompt, answer: l.answer })),
  };
}

function jsonLines(items: readonly unknown[]): string {
  return items.map((x) => JSON.stringify(x)).join('\n') + (items.length ? '\n' : '');
}

/** Writes the splits and held-out facts into `dir` (each file atomically); returns the paths by split. */
export function writeSplitFiles(dir: string, splits: Splits<TextRequest>, facts: readonly TextFact[]): Record<keyof typeof SPLIT_FILES, string> {
  const out = {
    train: path.join(dir, SPLIT_FILES.train),
    validation: path.join(dir, SPLIT_FILES.validation),
    evaluation: path.join(dir, SPLIT_FILES.evaluation),
    heldOutFacts: path.join(dir, SPLIT_FILES.heldOutFacts),
  };
  writeFileAtomic(out.train, jsonLines(splits.train.map(requestRecord)));
  writeFileAtomic(out.validation, jsonLines(splits.validation.map(requestRecord)));
  writeFileAtomic(out.evaluation, jsonLines(splits.evaluation.map(requestRecord)));
  writeFileAtomic(out.heldOutFacts, jsonLines(facts.map((f) => ({ prompt: f.prompt, answer: f.answer }))));
  return out;
}
