/**
 * The check of a whole batch of edit requests before the first one is applied: a bad record in the middle of a
 * requests file must not leave the records before it applied and the rest dropped.
 */
import { TokenizedEditRequest } from '@hiedit/tensor-core';
import { prepareRequest } from '../editor';
import { EditorModel, TupleTokenizer } from '../model';
import { EditRequestInput } from '../request';

/** A request ready to apply, with its record number in the file. */
export interface PreparedRequest {
  readonly record: number;
  readonly req: EditRequestInput;
  readonly tokenized: TokenizedEditRequest;
}

/** A request not applied, and why. */
export interface SkippedRequest {
  readonly record: number;
  readonly id?: string;
  /** The edit that already holds the request, when that is the reason. */
  readonly editId?: string;
  readonly reason: string;
}

/**
 * Validates and tokenizes every request (`file` names them in messages). Strict: the first bad one throws, naming
 * its record, id and field, and counting the other bad ones. With `skipInvalid` each bad one goes to `onSkip`.
 */
export function prepareAll(model: EditorModel, tokenize: TupleTokenizer, requests: readonly EditRequestInput[],
  file: string | undefined, skipInvalid: boolean, onSkip: (s: SkippedRequest) => void): PreparedRequest[] {
  const ok: PreparedRequest[] = [];
  const bad: { record: number; id?: string; error: Error }[] = [];
  for (const [i, r] of requests.entries()) {
    const record = r.source?.index ?? i;
    const where = file === undefined ? 'edit request'
      : `requests ${file}: record ${record}${r.id !== undefined ? ` (id ${r.id})` : ''}`;
    try {
      ok.push({ record, ...prepareRequest(model, tokenize, r, where) });
    } catch (e) {
      bad.push({ record, ...(r.id !== undefined ? { id: r.id } : {}), error: e as Error });
    }
  }
  if (bad.length > 0 && !skipInvalid) {
    const more = bad.length - 1;
    throw new Error(`${bad[0].error.message}${more > 0 ? ` (and ${more} more invalid record${more === 1 ? '' : 's'})` : ''}` +
      `${file !== undefined ? '; nothing was applied (pass --skip-invalid to apply the valid records)' : ''}`);
  }
  for (const b of bad) onSkip({ record: b.record, ...(b.id !== undefined ? { id: b.id } : {}), reason: b.error.message });
  if (ok.length === 0) throw new Error(`requests ${file}: no valid request to apply`);
  return ok;
}
