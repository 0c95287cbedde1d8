/**
 * @hiedit/llm-loader: load, run, differentiate, trace and save Hugging Face causal-LM checkpoints
 * (GPT-2, the Llama family: Llama, Mistral without sliding windows, Qwen2; Qwen3 and Gemma-2) in TypeScript.
 */
export { parseConfig } from './config';
export type { Activation, Architecture, ModelConfig, RopeScaling } from './config';
export { CausalLM } from './causal-lm';
export { createModel, createTinyCheckpoint, loadModel, readConfig } from './load';
export type { LoadOptions } from './load';
export type { SaveDType } from './save';
export { inverseFrequencies } from './models/rope';
export * from './tokenizer';
export * from './tokenizer-files';
export { loaderCommands, createLoaderCommands } from './cli';
export type { LoaderApi, CliModel, CliBackendReport } from './cli';
