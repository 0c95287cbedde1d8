import * as path from 'path';
import { DatasetError, readRecordsFile, RecordReader, type EditRequest } from '@hiedit/editor';

/** A true fact: a prompt and the answer a model that knows the world gives. */
export interface Fact {
  readonly prompt: string;
  readonly answer: string;
  readonly subject?: string;
  readonly relation?: string;
}

/** Options of {@link trueFacts}. */
export interface TrueFactsOptions {
  /** Include the paraphrases of each edit prompt with the old answer (default true). */
  readonly paraphrases?: boolean;
  /** Include the locality prompts with their answers (default true). */
  readonly locality?: boolean;
}

/** Facts plus the prompts dropped because two records disagree about their answer. */
export interface TrueFactsResult {
  readonly facts: Fact[];
  /** Prompts seen with a different answer than the first one (kept: the first). */
  readonly conflicts: { prompt: string; kept: string; dropped: string }[];
  /** Requests without an old answer (nothing true to teach about their prompt). */
  readonly withoutOldTarget: number;
}

/**
 * The true facts behind edit requests — what a "facts model" must know before it is edited: every edit
 * prompt and paraphrase with the OLD answer, and every locality prompt with its answer. Duplicated prompts
 * are taught once; a prompt with two different answers keeps the first and is listed as a conflict.
 */
export function trueFacts(requests: readonly EditRequest[], opts: TrueFactsOptions = {}): TrueFactsResult {
  const facts: Fact[] = [];
  const byPrompt = new Map<string, string>();
  const conflicts: { prompt: string; kept: string; dropped: string }[] = [];
  let withoutOldTarget = 0;
  const add = (f: Fact): void => {
    const prev = byPrompt.get(f.prompt);
    if (prev === undefined) {
      byPrompt.set(f.prompt, f.answer);
      facts.push(f);
    } else if (prev !== f.answer) {
      conflicts.push({ prompt: f.prompt, kept: prev, dropped: f.answer });
    }
  };
  for (const r of requests) {
    const meta = { ...(r.subject !== undefined ? { subject: r.subject } : {}), ...(r.relation !== undefined ? { relation: r.relation } : {}) };
    if (r.oldTarget !== undefined) {
      add({ prompt: r.prompt, answer: r.oldTarget, ...meta });
      if (opts.paraphrases ?? true) for (const p of r.paraphrases) add({ prompt: p, answer: r.oldTarget, ...meta });
    } else {
      withoutOldTarget++;
    }
    if (opts.locality ?? true) for (const l of r.locality) add({ prompt: l.prompt, answer: l.answer });
  }
  return { facts, conflicts, withoutOldTarget };
}

/** Parses a facts file: a JSON array (or JSON Lines) of {prompt, answer, subject?, relation?} (a retention set). */
export function parseFacts(raw: unknown, label = 'facts'): Fact[] {
  if (!Array.isArray(raw)) throw new DatasetError(label, -1, '', 'must be a JSON array of {prompt, answer} facts');
  if (raw.length === 0) throw new DatasetError(label, -1, '', 'contains no facts');
  return raw.map((x, i) => {
    const r = new RecordReader(label, i, x);
    const subject = r.optionalString('subject');
    const relation = r.optionalString('relation');
    return {
      prompt: r.string('prompt'),
      answer: r.string('answer'),
      ...(subject !== undefined ? { subject } : {}),
      ...(relation !== undefined ? { relation } : {}),
    };
  });
}

/** Loads a facts file (strict). */
export function loadFacts(file: string): Fact[] {
  const label = path.basename(file);
  return parseFacts(readRecordsFile(file, label), label);
}
