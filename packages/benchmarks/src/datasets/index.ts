export * from './types';
export {
  DatasetError,
  RecordReader,
  parseRecords,
  type RecordParser,
  parseZsre,
  parseZsreRecord,
  parseCounterFact,
  parseCounterFactRecord,
  parseCounterFactRome,
  parseCounterFactRomeRecord,
  parseRequests,
  parseRequestRecord,
  loadDataset,
  parseDataset,
  detectFormat,
  readJsonFile,
  readRecordsFile,
  type LoadDatasetOptions,
} from '@hiedit/editor';
export { fileSha256 } from './fileHash';
export { splitRequests, DEFAULT_SPLIT_FRACTIONS, type SplitOptions, type SplitSizes, type Splits } from './splits';
export { trueFacts, parseFacts, loadFacts, type Fact, type TrueFactsOptions, type TrueFactsResult } from './facts';
