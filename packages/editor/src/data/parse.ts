import type { EditRequest } from '../request';
import { DatasetError, RecordReader } from './errors';
import type { DatasetFormat, LoadOptions, LoadResult, SkippedRecord } from './types';

/** The field a request's id comes from, named when two records share an id. */
const ID_FIELD: Readonly<Record<DatasetFormat, string>> = { zsre: '', counterfact: 'case_id', 'counterfact-rome': 'case_id', requests: 'id' };

/** Turns one raw record into a request; throws DatasetError on a bad field. */
export type RecordParser = (r: RecordReader, index: number, label: string) => EditRequest;

/**
 * Runs `parse` over every record of an already-decoded JSON value. Strict by default: the first bad
 * record throws, and the message counts the other bad ones so the user knows how broken the file is.
 */
export function parseRecords(
  raw: unknown,
  format: DatasetFormat,
  parse: RecordParser,
  opts: LoadOptions = {},
): LoadResult {
  const label = opts.label ?? 'records';
  if (!Array.isArray(raw)) {
    throw new DatasetError(label, -1, '', `must be a JSON array of ${format} records, got ${raw === null ? 'null' : typeof raw}`);
  }
  const requests: EditRequest[] = [];
  const skipped: SkippedRecord[] = [];
  const seenIds = new Map<string, number>();
  let firstError: DatasetError | undefined;
  for (let i = 0; i < raw.length; i++) {
    try {
      const req = parse(new RecordReader(label, i, raw[i]), i, label);
      const prev = seenIds.get(req.id);
      if (prev !== undefined) {
        throw new DatasetError(label, i, ID_FIELD[format], `must be unique: id ${req.id} already used by record ${prev}`);
      }
      seenIds.set(req.id, i);
      requests.push(req);
    } catch (e) {
      if (!(e instanceof DatasetError)) throw e;
      firstError ??= e;
      skipped.push({ index: i, field: e.field, message: e.message });
    }
  }
  if (firstError && !opts.skipInvalid) {
    const more = skipped.length - 1;
    const tail = more > 0 ? ` (and ${more} more invalid record${more === 1 ? '' : 's'})` : '';
    const err = new DatasetError(firstError.label, firstError.index, firstError.field, firstError.problem);
    err.message = `${firstError.message}${tail}; ${opts.skipHint ?? 'pass { skipInvalid: true } to skip invalid records'}`;
    throw err;
  }
  if (requests.length === 0) {
    throw new DatasetError(label, -1, '', raw.length === 0 ? 'contains no records' : 'contains no valid records');
  }
  return { format, label, requests, skipped };
}
