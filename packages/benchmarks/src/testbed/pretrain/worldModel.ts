/**
 * The built-in world model: a small Llama trained on every true fact of a generated world, cached by
 * (generator version, world options, trainer version, train settings).
 */
import * as path from 'path';
import type { TokenizedTuple } from '@hiedit/tensor-core';
import { tokenizeTuple, type Tokenizer } from '@hiedit/llm-loader';
import type { EditRequest, Fact } from '../../datasets';
import { generateWorld, resolveWorldOptions, worldSentences, WORLD_GENERATOR_VERSION, writeWorld, readWorldDir, type WorldOptions } from '../world';
import { teacherForcedAccuracy, type AccuracyResult, type ForwardModel } from './accuracy';
import { buildPretrained, type CacheBuildOptions, type PretrainedModel } from './build';
import { resolveTrainSettings, type ModelShape, type TrainSettings } from './trainer';

/** Partial train settings, as options take them. */
export type TrainSettingsInput = Partial<Omit<TrainSettings, 'model'>> & { model?: Partial<ModelShape> };

/** Options of {@link ensureWorldModel}. */
export interface WorldModelOptions extends CacheBuildOptions {
  /** World generator options (default seed 0, 200 persons). */
  readonly world?: Partial<WorldOptions>;
  readonly train?: TrainSettingsInput;
}

/** A cached world model with its world. */
export interface WorldModel extends PretrainedModel {
  /** Directory with world.json, edits.json (CounterFact format) and retention.json. */
  readonly worldDir: string;
}

/** Accuracy of a model on the prompt families of a world (or any request set). */
export interface KnowledgeAccuracy {
  /** Edit prompts with the OLD (true) answer. */
  readonly editPrompts: AccuracyResult;
  /** Paraphrases with the old answer. */
  readonly paraphrases: AccuracyResult;
  readonly neighborhood: AccuracyResult;
  readonly unrelated: AccuracyResult;
  readonly retention: AccuracyResult;
}

function tuples(tok: Tokenizer, pairs: { prompt: string; answer: string }[]): TokenizedTuple[] {
  return pairs.map((p) => tokenizeTuple(tok, p.prompt, p.answer));
}

/**
 * Teacher-forced accuracy of the TRUE answers before any edit: on edit prompts, paraphrases,
 * neighbourhood and unrelated locality prompts, and held-out retention facts.
 */
export function measureKnowledge(model: ForwardModel, tok: Tokenizer, requests: readonly EditRequest[], retention: readonly Fact[] = []): KnowledgeAccuracy {
  const withOld = requests.filter((r) => r.oldTarget !== undefined);
  const padId = tok.eosTokenId ?? 0;
  const acc = (pairs: { prompt: string; answer: string }[]): AccuracyResult => teacherForcedAccuracy(model, tuples(tok, pairs), { padId });
  return {
    editPrompts: acc(withOld.map((r) => ({ prompt: r.prompt, answer: r.oldTarget! }))),
    paraphrases: acc(withOld.flatMap((r) => r.paraphrases.map((p) => ({ prompt: p, answer: r.oldTarget! })))),
    neighborhood: acc(requests.flatMap((r) => r.locality.filter((l) => l.kind === 'neighborhood'))),
    unrelated: acc(requests.flatMap((r) => r.locality.filter((l) => l.kind !== 'neighborhood'))),
    retention: acc([...retention]),
  };
}

/** Default train settings of the world model (the trainer defaults). */
export function worldTrainSettings(input: TrainSettingsInput = {}): TrainSettings {
  return resolveTrainSettings(input);
}

/**
 * Returns the world model for the given world and settings, training it (2-3 minutes at the default
 * size on 2 cores with wasm) when it is not in the cache. The entry holds `model/` (a Hugging Face
 * directory, load it with loadModel), `world/` and `pretrain.json` (settings, time, accuracy).
 */
export async function ensureWorldModel(opts: WorldModelOptions = {}): Promise<WorldModel> {
  const worldOptions = resolveWorldOptions({ seed: 0, ...opts.world });
  const settings = worldTrainSettings(opts.train);
  const world = generateWorld(worldOptions);
  const sentences = worldSentences(world);
  const vocabTexts = [
    ...sentences.map((s) => `${s.prompt} ${s.answer}`),
    ...world.edits.flatMap((e) => [e.prompt, e.target_new, e.ground_truth, ...e.paraphrase_prompts]),
  ];
  const entry = await buildPretrained({
    kind: 'world',
    keyMaterial: { generatorVersion: WORLD_GENERATOR_VERSION, world: worldOptions },
    examples: sentences,
    vocabTexts,
    settings,
    source: { world: worldOptions, generatorVersion: WORLD_GENERATOR_VERSION, facts: world.facts.length, edits: world.edits.length },
    extra: (tmp) => writeWorld(world, path.join(tmp, 'world')),
    // Read back through the ordinary loaders: what is measured is exactly what benchmarks will see.
    measure: (model, tok, entryDir) => {
      const back = readWorldDir(path.join(entryDir, 'world'));
      return { ...measureKnowledge(model, tok, back.requests, back.retention) };
    },
    cacheDir: opts.cacheDir,
    force: opts.force,
    progress: opts.progress,
    maxSeconds: opts.maxSeconds,
    log: opts.log,
  });
  return { ...entry, worldDir: path.join(entry.dir, 'world') };
}
