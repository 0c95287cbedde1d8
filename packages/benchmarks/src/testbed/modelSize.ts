/**
 * Size presets of the built-in world and facts models (`hiedit-bench run --model-size`): each is a named bundle of
 * pretraining settings plus the candidate edit modules a run on that size uses by default.
 *
 * `small` is the empty bundle, so its models, cache keys and default modules are exactly those of the trainer and
 * editor defaults. `deep` exists so that *where* an edit is written can matter: the small model offers two candidate
 * modules and k = 1, while the paper chooses 6 of 12 MLP modules spread over 14 layers of Llama-3-8B.
 */
import type { EditorModel } from '@hiedit/editor';
import { resolveTrainSettings, type TrainSettingsInput } from './pretrain';

/** The sizes `--model-size` accepts. */
export const MODEL_SIZES = ['small', 'deep'] as const;

/** A size preset of the built-in models. */
export type ModelSize = (typeof MODEL_SIZES)[number];

/** The size used when none is given. */
export const DEFAULT_MODEL_SIZE: ModelSize = 'small';

/**
 * Pretraining settings of each size. Deep: 8 layers, 128 wide, FFN 512. The trainer's defaults (lr 5e-3, 20 epochs)
 * stop at about 82% of the default world's facts at this size; a lower peak rate with a longer warm-up learns them
 * (99.7% after 80 epochs in the probe of issue 13). 30 epochs, because the cosine schedule decays over all of them
 * and 80 take about an hour with the stock wasm kernels on 2 busy cores (docs/tuning.md, session 7).
 */
export const MODEL_SIZE_PRETRAIN: Readonly<Record<ModelSize, TrainSettingsInput>> = {
  small: {},
  deep: { model: { layers: 8, hidden: 128, intermediate: 512 }, epochs: 30, lr: 0.002, warmupSteps: 100 },
};

/** True when `s` names a size preset. */
export function isModelSize(s: string): s is ModelSize {
  return (MODEL_SIZES as readonly string[]).includes(s);
}

/**
 * The pretraining settings of `size` with `given` on top (fields of `given` win; `model` is merged field by field).
 * For `small` this returns `given` itself, so the small models keep their cache keys.
 */
export function sizedPretrainSettings(size: ModelSize, given?: TrainSettingsInput): TrainSettingsInput | undefined {
  const preset = MODEL_SIZE_PRETRAIN[size];
  if (Object.keys(preset).length === 0) return given;
  const model = { ...(preset.model ?? {}), ...(given?.model ?? {}) };
  const merged: TrainSettingsInput = { ...preset, ...(given ?? {}), model };
  resolveTrainSettings(merged);
  return merged;
}

/** MLP output projection per architecture: the key-value memory ROME and MEMIT edit (and the small models' default). */
/** By the loader's architecture (a Qwen3 model is 'llama'). */
const OUTPUT_PROJECTION: Readonly<Record<string, string>> = { llama: 'mlp.down_proj', gpt2: 'mlp.c_proj', gemma2: 'mlp.down_proj' };

/** Fewest layers a deep model must have for its candidate set to span "many layers" (issue 13: 8 modules, 4 layers). */
export const DEEP_MIN_LAYERS = 8;

/**
 * Default candidate modules of a deep model: the MLP output projection (Llama `mlp.down_proj`, GPT-2 `mlp.c_proj`) of
 * every layer, in layer order; HiEdit then chooses k = half of them per edit (4 of 8 on the deep preset).
 *
 * Every layer rather than the upper-middle ones, because the point of the deep test bed is a choice across depth. On
 * the deep tuning worlds (docs/tuning.md, session 7) this set beat down_proj + up_proj of layers 2-5 (GPT-2 c_proj +
 * c_fc) in 7 of 8 HiEdit / RLEdit runs, 60.0 against 42.0 mean of ES, GS, LS: edits through up_proj / c_fc held
 * rarely and wrecked locality, as gate/up edits did on the small models (session 4).
 *
 * @throws Error naming the architecture when it has no output projection rule, or the model when it has fewer than
 *   {@link DEEP_MIN_LAYERS} layers or lacks a layer's projection.
 */
export function deepEditModules(model: EditorModel): string[] {
  const arch = model.config.architecture;
  const suffix = Object.prototype.hasOwnProperty.call(OUTPUT_PROJECTION, arch) ? OUTPUT_PROJECTION[arch] : undefined;
  if (suffix === undefined) {
    throw new Error(`deepEditModules: no deep candidate set for architecture ${JSON.stringify(model.config.architecture)} (known: ${Object.keys(OUTPUT_PROJECTION).join(', ')})`);
  }
  const layers = model.config.numLayers;
  if (layers < DEEP_MIN_LAYERS) throw new Error(`deepEditModules: a deep model has at least ${DEEP_MIN_LAYERS} layers; ${model.config.modelType} has ${layers}`);
  const out: string[] = [];
  for (let l = 0; l < layers; l++) {
    const m = model.modules.find((d) => d.layer === l && d.name.endsWith(`.${suffix}`));
    if (!m) throw new Error(`deepEditModules: ${model.config.modelType} has no ${suffix} module in layer ${l}`);
    out.push(m.name);
  }
  return out;
}
