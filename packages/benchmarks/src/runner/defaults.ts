/**
 * The real dependencies of a run: datasets and the built-in world from this package, models from
 * @hiedit/llm-loader (loaded, or pretrained and cached by the pretrain trainers), editors from the
 * @hiedit/editor registry.
 */
import * as fs from 'fs';
import * as path from 'path';
import { defaultEditModules, editorFactory, type EditorModel } from '@hiedit/editor';
import { loadModel, tokenizeTuple, type CausalLM } from '@hiedit/llm-loader';
import { fileSha256, loadDataset, loadFacts, parseCounterFact, type EditRequest, type Fact } from '../datasets';
import { ensureFactsModel, ensureWorldModel, knowledgeWarnings, readPretrained, type PretrainedModel, type TrainSettingsInput } from '../testbed/pretrain';
import {
  DEFAULT_WORLD_PERSONS,
  generateWorld,
  resolveWorldOptions,
  WORLD_FILES,
  WORLD_GENERATOR_VERSION,
  readWorldDir,
  type ResolvedWorldOptions,
  type WorldOptions,
} from '../testbed/world';
import { DEFAULT_MODEL_SIZE, deepEditModules, type ModelSize } from '../testbed/modelSize';
import { defaultSizes } from './run';
import { cacheKey } from '../testbed/pretrain/cache';
import { BENCHMARK_ONLY_EDITORS } from './oracle';
import { settingsKey } from './state';
import type { BenchEditorFactory, BenchModel, DataBundle, ModelBundle, RunOptions, RunnerDeps } from './types';

/** Knobs of the real dependencies that are not run settings. */
export interface DefaultDepsOptions {
  /** Seed of the generated world (default 0: the cached world model is shared by every run seed). */
  worldSeed?: number;
  /**
   * People in the generated world (default 200, `--world-persons`); overrides `world.persons`. Part of
   * the world model's cache key, so each size has its own cached model.
   */
  worldPersons?: number;
  /** Other world generator options. */
  world?: Partial<WorldOptions>;
  /**
   * Size preset of the built-in world / facts models (default small). `pretrain` must already hold the preset's
   * settings (the CLI merges them); this decides the label in results.json and the default candidate modules.
   */
  modelSize?: ModelSize;
  /** Pretraining settings of world / facts models (default: the trainer's). */
  pretrain?: TrainSettingsInput;
  /** Time budget of one pretraining, in seconds. */
  maxPretrainSeconds?: number;
  /** Status lines. */
  log?: (line: string) => void;
}

function pretrainNotes(p: PretrainedModel): string[] {
  const acc = Object.entries(p.report.accuracy)
    .filter(([, v]) => v.count > 0)
    .map(([k, v]) => `${k} ${(100 * v.tokenAccuracy).toFixed(1)}%`)
    .join(', ');
  return [
    `${p.report.kind} model ${p.cached ? 'from the cache' : 'pretrained in this run'} (${p.report.parameters} parameters, ` +
      `${p.report.trainSeconds.toFixed(0)} s, ${p.report.epochs} epochs); teacher-forced accuracy of its true facts: ${acc}.`,
    // Recomputed rather than read from the report, so entries cached before the check say it too.
    ...knowledgeWarnings(p.report.accuracy).map((w) => `WARNING: ${w}.`),
  ];
}

/**
 * The identity of a loaded model for resume keys: its weights hash (which covers names, shapes and
 * values only) combined with config.json as parsed (canonical key order) and the bytes of every
 * tokenizer file it was loaded with, because a changed rope_theta, rms_norm_eps or add_bos_token
 * changes every result while leaving the weights alone. The weights hash itself stays as it is: the
 * editor's journal relies on it.
 */
export function modelIdentityHash(model: CausalLM): string {
  const tokenizerFiles = (model.tokenizer?.files ?? []).map((f) => ({ name: path.basename(f), sha256: fileSha256(f) }));
  return cacheKey({ weights: model.weightsHash(), config: model.config.raw, tokenizerFiles });
}

async function bundleFor(model: CausalLM, dir: string, name: string, notes: string[]): Promise<ModelBundle> {
  const tok = model.tokenizer;
  if (!tok) {
    model.dispose();
    throw new Error(`${dir}: the model has no tokenizer.json; the benchmark needs one to tokenize prompts`);
  }
  return {
    model: model as unknown as BenchModel,
    name,
    dir,
    hash: modelIdentityHash(model),
    tokenize: (p, a) => tokenizeTuple(tok, p, a),
    notes,
  };
}

/** The dataset families the --dataset flag accepts, by the formats the loaders detect. */
function checkFormat(dataset: string, format: string, file: string): void {
  const ok = dataset === 'zsre' ? format === 'zsre' : format === 'counterfact' || format === 'counterfact-rome';
  if (!ok) throw new Error(`${file}: holds ${format} records, but --dataset is ${dataset}`);
}

/**
 * Label of a generated world's data (part of a run's settings): `world-s<seed>`, plus `-p<persons>` when
 * the size is not the default, so runs on different worlds are told apart in reports and resume keys.
 */
export function worldDataLabel(w: ResolvedWorldOptions): string {
  return w.persons === DEFAULT_WORLD_PERSONS ? `world-s${w.seed}` : `world-s${w.seed}-p${w.persons}`;
}

/** Builds the real dependencies. */
export function defaultDeps(o: DefaultDepsOptions = {}): RunnerDeps {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const worldOptions = resolveWorldOptions({
    ...o.world,
    seed: o.worldSeed ?? o.world?.seed ?? 0,
    ...(o.worldPersons !== undefined ? { persons: o.worldPersons } : {}),
  });
  const worldLabel = worldDataLabel(worldOptions);
  const modelSize = o.modelSize ?? DEFAULT_MODEL_SIZE;
  let worldModel: PretrainedModel | undefined;
  // Set once a built-in model is obtained: a --model checkpoint keeps the editor package's default modules.
  let builtInDeep = false;

  return {
    async loadData(opts, progress): Promise<DataBundle> {
      if (opts.data) {
        const res = loadDataset(opts.data, { skipInvalid: opts.skipInvalid === true });
        checkFormat(opts.dataset, res.format, opts.data);
        for (const sk of res.skipped) log(`skipped invalid record: ${sk.message}`);
        // A world directory carries its own held-out facts next to edits.json.
        const retention = path.join(path.dirname(opts.data), WORLD_FILES.retention);
        const heldOutFacts: Fact[] | undefined = opts.dataset === 'world' && fs.existsSync(retention) ? loadFacts(retention) : undefined;
        return { label: path.basename(opts.data), hash: fileSha256(opts.data), file: path.resolve(opts.data), requests: res.requests, skipped: res.skipped, ...(heldOutFacts ? { heldOutFacts } : {}) };
      }
      if (opts.dataset !== 'world') throw new Error(`--dataset ${opts.dataset} needs --data FILE`);
      if (opts.model) {
        // The world's records without its model: generated in memory, read by the ordinary parser.
        const world = generateWorld(worldOptions);
        const requests: EditRequest[] = parseCounterFact(world.edits, { label: worldLabel }).requests;
        return {
          label: worldLabel,
          hash: settingsKey({ generator: WORLD_GENERATOR_VERSION, options: worldOptions }),
          file: '(generated in memory)',
          requests,
          heldOutFacts: world.retention.map((f) => ({ prompt: f.prompt, answer: f.answer })),
        };
      }
      // A stream that cannot fit the world is refused now, not after minutes of pretraining its model.
      defaultSizes(generateWorld(worldOptions).edits.length, opts);
      worldModel = await ensureWorldModel({
        world: worldOptions,
        train: o.pretrain,
        cacheDir: opts.cacheDir,
        progress,
        maxSeconds: o.maxPretrainSeconds,
        log,
      });
      const worldDir = path.join(worldModel.dir, 'world');
      const back = readWorldDir(worldDir);
      const file = path.join(worldDir, WORLD_FILES.edits);
      return { label: worldLabel, hash: fileSha256(file), file, requests: back.requests, heldOutFacts: back.retention };
    },

    async obtainModel(opts: RunOptions, data: DataBundle, progress, teach): Promise<ModelBundle> {
      if (opts.model) {
        const m = await loadModel(opts.model);
        return bundleFor(m, path.resolve(opts.model), path.basename(path.resolve(opts.model)), []);
      }
      let pre: PretrainedModel;
      if (opts.dataset === 'world' && !opts.data) {
        pre = worldModel ?? (() => {
          throw new Error('obtainModel: the world model was not prepared by loadData');
        })();
      } else {
        if (!opts.data) throw new Error(`--dataset ${opts.dataset} needs --data FILE`);
        pre = await ensureFactsModel({
          dataFile: opts.data,
          skipInvalid: opts.skipInvalid === true,
          ids: teach,
          train: o.pretrain,
          cacheDir: opts.cacheDir,
          progress,
          maxSeconds: o.maxPretrainSeconds,
          log,
        });
      }
      const entry = readPretrained(pre.dir) ?? pre;
      const m = await loadModel(entry.modelDir);
      builtInDeep = modelSize === 'deep';
      const bundle = await bundleFor(m, entry.modelDir, `${opts.dataset === 'world' && !opts.data ? 'world' : 'facts'}-model:${path.basename(pre.dir)}`, pretrainNotes(pre));
      return { ...bundle, builtIn: { size: modelSize, arch: entry.report.settings.model.arch ?? 'llama' } };
    },

    editorFactory(kind: string): BenchEditorFactory {
      const own = BENCHMARK_ONLY_EDITORS[kind];
      if (own) return own as unknown as BenchEditorFactory;
      try {
        return editorFactory(kind) as unknown as BenchEditorFactory;
      } catch (e) {
        throw new Error(`${(e as Error).message}, and the benchmark's own: ${Object.keys(BENCHMARK_ONLY_EDITORS).join(', ')}`);
      }
    },

    defaultModules(model: BenchModel): string[] {
      return builtInDeep ? deepEditModules(model) : defaultEditModules(model as unknown as EditorModel);
    },
  };
}
