/**
 * What the editor needs from a loaded model, stated structurally so it matches llm-loader's CausalLM
 * (and any other EditableModel that carries a config, a tokenizer and a base weights hash).
 */
import { EditableModel, ModuleDescriptor, TokenizedTuple } from '@hiedit/tensor-core';
import { baseFingerprint, JournalHeader, ModelIdentity, ModuleShape } from './journal';

/** The subset of llm-loader's Tokenizer the editor uses. */
export interface EditorTokenizer {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  readonly vocabSize: number;
}

/** The subset of llm-loader's ModelConfig the editor uses. */
export interface EditorModelConfig {
  readonly modelType: string;
  readonly architecture: string;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** Longest sequence the model accepts; requests longer than this are refused before any model work. */
  readonly maxPositions?: number;
}

/** A model the lifelong editor can edit: llm-loader's CausalLM satisfies it. */
export interface EditorModel extends EditableModel {
  readonly config: EditorModelConfig;
  readonly tokenizer?: EditorTokenizer;
  readonly dir?: string;
  /** SHA-256 over the base weights as loaded (not affected by applied edits). */
  weightsHash(): string;
  /** Saves the current (edited) weights as a Hugging Face directory. */
  save?(dir: string, opts?: { dtype?: 'F32' | 'F16' | 'BF16' }): Promise<void>;
}

/** Turns a (prompt, answer) pair into a teacher-forcing tuple (spec §2). */
export type TupleTokenizer = (prompt: string, answer: string) => TokenizedTuple;

/** Identity of a model for journal and editor-directory headers. */
export function modelIdentity(model: EditorModel): ModelIdentity {
  const c = model.config;
  return { modelType: c.modelType, architecture: c.architecture, numLayers: c.numLayers, hiddenSize: c.hiddenSize,
    vocabSize: c.vocabSize, ...(model.dir ? { source: model.dir } : {}) };
}

/** Shapes of every module of a model, for headers. */
export function moduleShapes(modules: readonly ModuleDescriptor[]): ModuleShape[] {
  return modules.map((m) => ({ name: m.name, dIn: m.dIn, dOut: m.dOut, layer: m.layer }));
}

/** A journal header for `model` created now. */
export function journalHeaderFor(model: EditorModel): JournalHeader {
  const f = baseFingerprint(model);
  return { formatVersion: 1, createdAt: new Date().toISOString(), baseWeightsHash: model.weightsHash(),
    ...(f.configHash ? { baseConfigHash: f.configHash } : {}), ...(f.tokenizerHash ? { baseTokenizerHash: f.tokenizerHash } : {}),
    model: modelIdentity(model), modules: moduleShapes(model.modules) };
}

/**
 * The "upper-middle" layers of an L-layer model: n = clamp(round(3L/16), min(2, L), L) consecutive
 * layers starting at the middle, start = min(floor(L/2), L - n). For Llama-3-8B (L = 32) these are
 * layers 16..21 (6 layers, so 12 gate/up modules and k = 6 as in the authors' runs), for GPT-2 small
 * (L = 12) layers 6..7, for a 2-layer tiny model both layers.
 */
export function upperMiddleLayers(numLayers: number): number[] {
  if (!Number.isInteger(numLayers) || numLayers < 1) throw new Error(`upperMiddleLayers: bad layer count ${numLayers}`);
  const n = Math.min(numLayers, Math.max(Math.min(2, numLayers), Math.round((3 * numLayers) / 16)));
  const start = Math.min(Math.floor(numLayers / 2), numLayers - n);
  return Array.from({ length: n }, (_, i) => start + i);
}

/** Module-name suffixes edited by default, per architecture. */
const DEFAULT_SUFFIXES: Record<string, readonly string[]> = {
  llama: ['mlp.down_proj'],
  gpt2: ['mlp.c_proj'],
  gemma2: ['mlp.down_proj'],
};

/**
 * Default edit modules: the MLP's output projection (Llama, Qwen3 and Gemma-2 mlp.down_proj, GPT-2 mlp.c_proj) of the upper-middle layers
 * (see `upperMiddleLayers`), in layer order. It is the key-value memory that ROME and MEMIT edit.
 *
 * Llama: down_proj since session 4 (was gate_proj + up_proj). On the world models a gradient edit of gate/up could
 * not make 8-9 of 15 edits hold at any strength, and those that held changed far more unrelated answers than a
 * down_proj edit; every editor scored higher on down_proj on the tuning worlds (docs/tuning.md).
 * GPT-2: c_proj since session 5 (was c_fc, the input projection). On GPT-2-architecture world models
 * (`hiedit-bench run --model-arch gpt2`, tuning worlds 1-4) a calibrated HiEdit could make only 2-7% of its c_fc edits
 * hold and scored 0.357 (mean of ES/GS/LS); on c_proj it scored 0.523, and RLEdit went from 0.316 to 0.418.
 * Gemma-2 (and Qwen3, which is 'llama'): down_proj, the same gated MLP's output projection, chosen on the tuning worlds
 * 1-3 of `hiedit-bench run --model-arch gemma2|qwen3` against up_proj, gate_proj and self_attn.o_proj of the same
 * layers (docs/tuning.md, session 10). Qwen3: down_proj by 18-27 points of the mean of ES/GS/LS on every world.
 * Gemma-2: down_proj best on every world but by 1-5 points, every set near an editor that does nothing: its
 * post-sublayer norms cap how far a weight shift of one sublayer can move the answer.
 */
export function defaultEditModules(model: EditorModel): string[] {
  const suffixes = DEFAULT_SUFFIXES[model.config.architecture];
  if (!suffixes) {
    throw new Error(`no default edit modules for architecture ${JSON.stringify(model.config.architecture)}; ` +
      `pass the module names explicitly`);
  }
  const layers = new Set(upperMiddleLayers(model.config.numLayers));
  const out = model.modules
    .filter((m) => layers.has(m.layer) && suffixes.some((s) => m.name.endsWith(`.${s}`)))
    .map((m) => m.name);
  if (out.length === 0) {
    throw new Error(`model ${model.config.modelType} has no ${suffixes.join('/')} modules in layers ` +
      `${[...layers].join(',')}; pass the module names explicitly`);
  }
  return out;
}

/** Checks that every name is a module of the model (all of them, before anything is touched). */
export function checkModuleNames(model: EditableModel, names: readonly string[], where: string): void {
  if (names.length === 0) throw new Error(`${where}: no edit modules given`);
  const known = new Set(model.modules.map((m) => m.name));
  const missing = names.filter((n) => !known.has(n));
  if (missing.length > 0) {
    const sample = model.modules.slice(0, 4).map((m) => m.name).join(', ');
    throw new Error(`${where}: the model has no module named ${missing.map((n) => JSON.stringify(n)).join(', ')} ` +
      `(its modules look like: ${sample}, ...)`);
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`${where}: module ${dup} is listed twice`);
}
