/**
 * @hiedit/llm-loader: load, run, differentiate, trace and save Hugging Face causal-LM checkpoints
 * (GPT-2, the Llama family: Llama, Mistral without sliding windows, Qwen2; Qwen3 and Gemma-2) in TypeScript.
 */
// The public API, named one by one: modules not listed here are internal and may change without notice.
export { parseConfig } from './config';
export type { Activation, Architecture, ModelConfig, RopeScaling } from './config';
export { CausalLM } from './causal-lm';
export { createModel, createTinyCheckpoint, loadModel, readConfig } from './load';
export type { LoadOptions } from './load';
export type { SaveDType } from './save';
export { inverseFrequencies } from './models/rope';
// tf is tensor-core's tfjs instance, re-exported so the tensors addShift takes need no second import.
export { tf } from '@hiedit/tensor-core';
export { loaderCommands } from './cli';
export { createLoaderCommands } from './cli/loader-commands';
export type { CliBackendReport, CliModel, LoaderApi } from './cli/api';
export { loadTokenizer, tokenizeTuple, tokenizerFromDefinition } from './tokenizer';
export type { Tokenizer, TokenizerDefinition } from './tokenizer';
export { buildWordLevelTokenizer, copyTokenizerFiles, writeTokenizerFiles } from './tokenizer-files';
export type { WordLevelSpec } from './tokenizer-files';
