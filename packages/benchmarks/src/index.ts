/**
 * @hiedit/benchmarks: dataset splits, the built-in fact world and its models, lifelong-editing evaluation, reports
 * and the `hiedit-bench` runner.
 */
// The public API, named one by one: modules not listed here are internal and may change without notice.
// The edit request and its readers live in @hiedit/editor; ./datasets re-exports them under this package's name.
export { RUN_DEFAULTS, benchCommands, main, parseRunArgs, readPretrainSettings, runCommand } from './cli/main';
export { aggregateCommand } from './cli/aggregate-command';
export {
  DatasetError,
  detectFormat,
  loadDataset,
  parseCounterFact,
  parseCounterFactRome,
  parseRequests,
  parseZsre,
} from './datasets';
export type {
  DatasetFormat,
  EditRequest,
  LoadDatasetOptions,
  LoadOptions,
  LoadResult,
  LocalityKind,
  LocalityPrompt,
  RequestSource,
  SkippedRecord,
} from './datasets';
export { splitRequests } from './datasets/splits';
export type { SplitOptions, SplitSizes, Splits } from './datasets/splits';
export { loadFacts, trueFacts } from './datasets/facts';
export type { Fact, TrueFactsOptions, TrueFactsResult } from './datasets/facts';
export type { EntityType, RelationSpec } from './testbed/world/relations';
export { WORLD_GENERATOR_VERSION, generateWorld, resolveWorldOptions, worldSentences } from './testbed/world/generate';
export type {
  FactRole,
  FactSentence,
  PromptAnswer,
  ResolvedWorldOptions,
  RetentionFact,
  World,
  WorldEditRecord,
  WorldFact,
  WorldOptions,
} from './testbed/world/generate';
export { readWorldDir, writeWorld } from './testbed/world/write';
export type { AccuracyResult, ForwardModel } from './testbed/pretrain/accuracy';
export { buildWordTokenizer } from './testbed/pretrain/wordTokenizer';
export type { WordTokenizerFiles } from './testbed/pretrain/wordTokenizer';
export { DEFAULT_TRAIN_SETTINGS, trainFactsLM } from './testbed/pretrain/trainer';
export type {
  ModelShape,
  PretrainArch,
  TrainExample,
  TrainOptions,
  TrainResult,
  TrainSettings,
} from './testbed/pretrain/trainer';
export { readPretrained } from './testbed/pretrain/build';
export type { CacheBuildOptions, PretrainedModel } from './testbed/pretrain/build';
export { formatPretrainReport } from './testbed/pretrain/report';
export type { PretrainReport } from './testbed/pretrain/report';
export { ensureWorldModel, measureKnowledge } from './testbed/pretrain/worldModel';
export type {
  KnowledgeAccuracy,
  TrainSettingsInput,
  WorldModel,
  WorldModelOptions,
} from './testbed/pretrain/worldModel';
export { ensureFactsModel } from './testbed/pretrain/factsModel';
export type { FactsModel, FactsModelOptions } from './testbed/pretrain/factsModel';
export { DEFAULT_MODEL_SIZE, MODEL_SIZES, MODEL_SIZE_PRETRAIN, deepEditModules } from './testbed/modelSize';
export type { ModelSize } from './testbed/modelSize';
export { Progress } from './progress';
export type { ProgressFactory } from './progress';
export type { BatchOptions } from './eval/batch';
export type { CaseScores, EvalCase, EvalModel, LocalityBaseline, MetricStyle, MetricSummary } from './eval/types';
export type { TokenizedTuple } from '@hiedit/tensor-core';
export { measureCases, recordLocalityBaseline, summarize } from './eval/metrics';
export type { MeasureOptions, RetentionBaseline, RetentionResult } from './eval/metrics';
export { byStreamPosition } from './eval/position';
export type { PositionBucket } from './eval/position';
export { EDITOR_METRIC_KEYS, FRACTION_KEYS, validateResults } from './report/results';
export type { EditorResult, FractionKey, ResultsCurvePoint, ResultsFile } from './report/results';
export { headline } from './report/table';
export { renderReport } from './report/html';
export type { HeatmapData, ReportInput } from './report/html';
export { aggregateRuns } from './report/aggregate';
export type {
  AggregateOptions,
  AggregateSummary,
  CheckStatus,
  Comparison,
  EditorMetricKey,
  Gain,
  MetricStats,
  SeedGain,
  SeedRun,
  TargetCheck,
} from './report/aggregate';
export type { EditorConfig } from './report/aggregateProvenance';
export { scoreFinalModel } from './runner/evaluate';
export type { FinalModelInputs } from './runner/evaluate';
export type {
  BenchDataset,
  BenchEditorFactory,
  BenchModel,
  DataBundle,
  ModelBundle,
  RunOptions,
  RunnerDeps,
  TextFact,
  TextRequest,
} from './runner/types';
export { toEvalCase } from './runner/cases';
export { runBenchmark } from './runner/run';
export type { RunIO, RunOutcome } from './runner/run';
export { defaultSizes } from './runner/plan';
export type { SplitPlan } from './runner/plan';
export { defaultDeps } from './runner/defaults';
export type { DefaultDepsOptions } from './runner/defaults';
