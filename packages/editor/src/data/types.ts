import type { EditRequest } from '../request';

/**
 * The record formats the readers understand (see docs/datasets.md): zsRE (MEND), CounterFact in the
 * EasyEdit and in the original ROME format, and the dataset-neutral `requests` format.
 */
export type DatasetFormat = 'zsre' | 'counterfact' | 'counterfact-rome' | 'requests';

/** Options of every reader. */
export interface LoadOptions {
  /**
   * Skip invalid records instead of failing on the first one. The skipped indices and reasons are
   * returned in {@link LoadResult.skipped}; nothing is ever dropped silently.
   */
  readonly skipInvalid?: boolean;
  /** Label used in error messages and request sources (default: the file's base name, or "records"). */
  readonly label?: string;
  /**
   * How the strict-mode error tells the user to skip invalid records (default
   * "pass { skipInvalid: true } to skip invalid records"; a CLI names its flag instead).
   */
  readonly skipHint?: string;
}

/** A record the reader refused, with the reason (same text the strict mode would throw). */
export interface SkippedRecord {
  readonly index: number;
  readonly field: string;
  readonly message: string;
}

/** What a reader returns. */
export interface LoadResult {
  readonly format: DatasetFormat;
  readonly label: string;
  readonly requests: EditRequest[];
  /** Empty unless `skipInvalid` was set. */
  readonly skipped: SkippedRecord[];
}
