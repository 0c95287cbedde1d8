// The pretrainer's optimizer now lives in tensor-core; these names stay for existing importers.
export { Adam, type AdamConfig as AdamSettings } from '@hiedit/tensor-core';
export { teacherForcedAccuracy, padBatch, type AccuracyResult, type ForwardModel } from './accuracy';
export { buildWordTokenizer, writeWordTokenizer, preTokenize, WORD_SPECIALS, type WordTokenizerFiles } from './wordTokenizer';
export {
  trainFactsLM,
  resolveTrainSettings,
  llamaConfig,
  gpt2Config,
  gemma2Config,
  qwen3Config,
  PRETRAIN_ARCHS,
  pretrainConfig,
  learningRate,
  epochBatches,
  DEFAULT_TRAIN_SETTINGS,
  TRAINER_VERSION,
  type TrainSettings,
  type ModelShape,
  type PretrainArch,
  type TrainExample,
  type TrainOptions,
  type TrainResult,
} from './trainer';
export { defaultCacheDir, findRepoRoot, cacheKey, canonicalJson } from './cache';
export { buildPretrained, readPretrained, type PretrainedModel, type BuildSpec, type CacheBuildOptions } from './build';
export { formatPretrainReport, knowledgeWarnings, KNOWLEDGE_THRESHOLD, type PretrainReport } from './report';
export {
  ensureWorldModel,
  measureKnowledge,
  worldTrainSettings,
  type WorldModel,
  type WorldModelOptions,
  type KnowledgeAccuracy,
  type TrainSettingsInput,
} from './worldModel';
export { ensureFactsModel, type FactsModel, type FactsModelOptions } from './factsModel';
