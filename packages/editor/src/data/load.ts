import * as fs from 'fs';
import * as path from 'path';
import { parseCounterFact } from './counterfact';
import { parseCounterFactRome } from './counterfactRome';
import { DatasetError, describeKind } from './errors';
import { parseRequests } from './requests';
import type { DatasetFormat, LoadOptions, LoadResult } from './types';
import { parseZsre } from './zsre';

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions extends LoadOptions {
  /** Force a format instead of detecting it from the first record. */
  readonly format?: DatasetFormat;
}

function readText(file: string, label: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DatasetError(label, -1, '', `cannot be read: ${(e as Error).message}`);
  }
}

/** Reads and decodes a JSON file, with errors that name the file. */
export function readJsonFile(file: string, label = path.basename(file)): unknown {
  return parseJson(readText(file, label), label);
}

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DatasetError(label, -1, '', `is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Decodes JSON Lines (one record per non-blank line). Text that is one JSON value spread over several
 * lines is not JSON Lines: it is refused as a value that is not an array, rather than at its first line.
 */
function parseJsonLines(text: string, label: string): unknown[] {
  const records: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    try {
      records.push(JSON.parse(lines[i]));
    } catch (e) {
      let whole: unknown;
      try {
        whole = JSON.parse(text);
      } catch {
        throw new DatasetError(label, -1, '', `line ${i + 1} is not valid JSON: ${(e as Error).message}`);
      }
      throw new DatasetError(label, -1, '', `must be a JSON array of records or JSON Lines, got ${describeKind(whole)}`);
    }
  }
  return records;
}

/**
 * Reads a record file: a JSON array (the text starts with `[`) or JSON Lines (one record per line),
 * with errors that name the file and, for JSON Lines, the line.
 */
export function readRecordsFile(file: string, label = path.basename(file)): unknown {
  const text = readText(file, label);
  if (text.trimStart().startsWith('[')) return parseJson(text, label);
  return parseJsonLines(text, label);
}

/**
 * Guesses the format from the first record's keys: `requested_rewrite` means ROME CounterFact,
 * `src` + `alt` means zsRE, `target_new` + `rephrase_prompt` means EasyEdit CounterFact, `prompt` +
 * `target` means the dataset-neutral requests format.
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
  if (has('prompt') && has('target')) return 'requests';
  throw new DatasetError(
    label,
    0,
    '',
    `has keys [${Object.keys(first).join(', ')}], which match no known format ` +
      '(zsRE needs src/alt, EasyEdit CounterFact needs target_new/rephrase_prompt, ROME CounterFact needs requested_rewrite, ' +
      'a requests file needs prompt/target)',
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
    case 'requests':
      return parseRequests(raw, opts);
    default:
      throw new Error(`unknown dataset format "${String(format)}" (expected zsre, counterfact, counterfact-rome or requests)`);
  }
}

/**
 * Loads a zsRE / CounterFact / requests file (JSON array or JSON Lines) into {@link EditRequest}s.
 * Strict: the first bad record throws a DatasetError naming the file, record index and field, unless
 * `skipInvalid` is set, in which case the skipped records are listed in the result.
 */
export function loadDataset(file: string, opts: LoadDatasetOptions = {}): LoadResult {
  const label = opts.label ?? path.basename(file);
  const raw = readRecordsFile(file, label);
  const format = opts.format ?? detectFormat(raw, label);
  return parseDataset(raw, format, { ...opts, label });
}
