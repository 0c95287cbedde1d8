export * from './types';
export { DatasetError, RecordReader } from './errors';
export { parseRecords, type RecordParser } from './parse';
export { parseZsre, parseZsreRecord } from './zsre';
export { parseCounterFact, parseCounterFactRecord } from './counterfact';
export { parseCounterFactRome, parseCounterFactRomeRecord } from './counterfactRome';
export { loadDataset, parseDataset, detectFormat, readJsonFile, fileSha256, type LoadDatasetOptions } from './load';
export { splitRequests, DEFAULT_SPLIT_FRACTIONS, type SplitOptions, type SplitSizes, type Splits } from './splits';
export { trueFacts, parseFacts, loadFacts, type Fact, type TrueFactsOptions, type TrueFactsResult } from './facts';
