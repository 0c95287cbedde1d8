/**
 * The reader behind `hiedit edit --requests FILE` and `hiedit train-editor --data FILE`: the same
 * dataset readers the benchmarks use (`loadDataset` and friends), so a file yields the same requests
 * through the CLI as through `hiedit-bench run`.
 *
 * Formats: `counterfact` (EasyEdit records, or ROME records with `requested_rewrite`, told apart by the
 * first record), `zsre` (MEND zsRE), `world` (a built-in world directory or its edits.json, CounterFact
 * format) and `requests` (dataset-neutral {id?, prompt, target, paraphrases?, locality?: [{prompt,
 * answer}]}). Files are a JSON array or JSON Lines.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EditRequest } from '../request';
import { parseDataset, readRecordsFile } from './load';
import type { DatasetFormat } from './types';

/** Formats `readEditRequests` understands. */
export type RequestFormat = 'counterfact' | 'zsre' | 'world' | 'requests';

/** Every accepted format name, for CLI validation. */
export const REQUEST_FORMATS: readonly RequestFormat[] = ['counterfact', 'zsre', 'world', 'requests'];

/** The file a world directory keeps its edit requests in (written by @hiedit/benchmarks' writeWorld). */
const WORLD_EDITS = 'edits.json';

/** CounterFact comes in two layouts; the first record says which one a file holds, as `detectFormat` decides. */
function counterfactLayout(raw: unknown): DatasetFormat {
  const first: unknown = Array.isArray(raw) ? raw[0] : undefined;
  const rome = first !== null && typeof first === 'object' && (first as Record<string, unknown>).requested_rewrite !== undefined;
  return rome ? 'counterfact-rome' : 'counterfact';
}

/** Options of `readEditRequests`. */
export interface ReadRequestsOptions {
  /** Skip records that fail validation instead of refusing the file; each one is reported to `onSkip`. */
  readonly skipInvalid?: boolean;
  readonly onSkip?: (index: number, message: string) => void;
  /** What the strict-mode error tells the user to do to skip bad records (default: pass --skip-invalid). */
  readonly skipHint?: string;
}

/**
 * Reads every request of `file` in `format`; throws a DatasetError naming the file, record and field on
 * bad input (or skips and reports such records with `skipInvalid`: nothing is dropped silently).
 */
export function readEditRequests(file: string, format: RequestFormat, opts: ReadRequestsOptions = {}): EditRequest[] {
  if (!REQUEST_FORMATS.includes(format)) {
    throw new Error(`unknown request format ${JSON.stringify(format)} (expected ${REQUEST_FORMATS.join(', ')})`);
  }
  let src = file;
  if (format === 'world' && fs.existsSync(file) && fs.statSync(file).isDirectory()) src = path.join(file, WORLD_EDITS);
  const label = path.basename(src);
  const raw = readRecordsFile(src, label);
  const parsed: DatasetFormat = format === 'zsre' || format === 'requests' ? format : format === 'world' ? 'counterfact' : counterfactLayout(raw);
  const res = parseDataset(raw, parsed, {
    label, skipInvalid: opts.skipInvalid === true, skipHint: opts.skipHint ?? 'pass --skip-invalid to skip invalid records',
  });
  for (const s of res.skipped) opts.onSkip?.(s.index, s.message);
  return res.requests;
}
