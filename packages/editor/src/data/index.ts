export * from './types';
export { DatasetError, RecordReader } from './errors';
export { parseRecords, type RecordParser } from './parse';
export { parseZsre, parseZsreRecord } from './zsre';
export { parseCounterFact, parseCounterFactRecord } from './counterfact';
export { parseCounterFactRome, parseCounterFactRomeRecord } from './counterfactRome';
export { parseRequests, parseRequestRecord } from './requests';
export { loadDataset, parseDataset, detectFormat, readJsonFile, readRecordsFile, type LoadDatasetOptions } from './load';
export { readEditRequests, REQUEST_FORMATS, type RequestFormat, type ReadRequestsOptions } from './records';
