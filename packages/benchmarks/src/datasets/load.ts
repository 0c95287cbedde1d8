import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { parseCounterFact } from './counterfact';
import { parseCounterFactRome } from './counterfactRome';
import { DatasetError } from './errors';
import type { DatasetFormat, LoadOptions, LoadResult } from './types';
import { parseZsre } from './zsre';

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions extends LoadOptions {
  /** Force a format instead of detecting it from the first record. */
  readonly format?: DatasetFormat;
}

/** Reads and decodes a JSON file, with errors that name the file. */
export function readJsonFile(file: string, label = path.basename(file)): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DatasetError(label, -1, '', `cannot be read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DatasetError(label, -1, '', `is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Guesses the format from the first record's keys: `requested_rewrite` means ROME CounterFact,
 * `src` + `alt` means zsRE, `target_new` + `rephrase_prompt` means EasyEdit CounterFact.
 */
export function detectFormat(raw: unknown, label = 'records'): DatasetFormat {
  if (!Array.isArray(raw)) throw new DatasetError(label, -1, '', 'must be a JSON array of records');
  if (raw.length === 0) throw new DatasetError(label, -1, '', 'contains no records');
  const first = raw[0];
  if (first === null || typeof first !== 'object' || Array.isArray(first)) {
    throw new DatasetError(label, 0, '', 'must be an object (cannot detect the dataset format)');
  }
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(first, k);
  if (has('requested_rewrite')) return 'counterfact-rome';
  if (has('src') && has('alt')) return 'zsre';
  if (has('target_new') && has('rephrase_prompt')) return 'counterfact';
  throw new DatasetError(
    label,
    0,
    '',
    `has keys [${Object.keys(first).join(', ')}], which match no known format ` +
      '(zsRE needs src/alt, EasyEdit CounterFact needs target_new/rephrase_prompt, ROME CounterFact needs requested_rewrite)',
  );
}

/** Parses already-decoded records of the given format. */
export function parseDataset(raw: unknown, format: DatasetFormat, opts: LoadOptions = {}): LoadResult {
  switch (format) {
    case 'zsre':
      return parseZsre(raw, opts);
    case 'counterfact':
      return parseCounterFact(raw, opts);
    case 'counterfact-rome':
      return parseCounterFactRome(raw, opts);
    default:
      throw new Error(`unknown dataset format "${String(format)}" (expected zsre, counterfact or counterfact-rome)`);
  }
}

/**
 * Loads a zsRE / CounterFact file into {@link EditRequest}s. Strict: the first bad record throws a
 * DatasetError naming the file, record index and field, unless `skipInvalid` is set, in which case the
 * skipped records are listed in the result.
 */
export function loadDataset(file: string, opts: LoadDatasetOptions = {}): LoadResult {
  const label = opts.label ?? path.basename(file);
  const raw = readJsonFile(file, label);
  const format = opts.format ?? detectFormat(raw, label);
  return parseDataset(raw, format, { ...opts, label });
}

/** sha256 (hex) of a file's bytes: the cache key of models pretrained on it. */
export function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
