/**
 * The edit request and the reader types live in @hiedit/editor (one reader per format, shared by the
 * `hiedit` CLI and the benchmarks); these names stay importable from here.
 */
export type {
  DatasetFormat,
  EditRequest,
  LoadOptions,
  LoadResult,
  LocalityKind,
  LocalityPrompt,
  RequestSource,
  SkippedRecord,
} from '@hiedit/editor';
