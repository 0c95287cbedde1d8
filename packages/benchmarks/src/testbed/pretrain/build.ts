/**
 * Builds (or finds in the cache) a pretrained model directory: tokenizer from the corpus, training,
 * save through CausalLM.save, tokenizer files next to it, then the saved model is loaded back through
 * loadModel and measured — the numbers in pretrain.json are those of the artifact, not of the
 * in-memory model.
 */
import * as fs from 'fs';
import * as path from 'path';
import { backendReport, initBackend, kernelFingerprint, readJsonFile, writeDirAtomic, writeJsonAtomic } from '@hiedit/tensor-core';
import { loadModel, tokenizerFromDefinition, type CausalLM, type Tokenizer } from '@hiedit/llm-loader';
import type { ProgressFactory } from '../../progress';
import type { AccuracyResult } from './accuracy';
import { cacheKey, defaultCacheDir } from './cache';
import { knowledgeWarnings, type PretrainReport } from './report';
import { trainFactsLM, TRAINER_VERSION, type TrainExample, type TrainSettings } from './trainer';
import { buildWordTokenizer, preTokenize, WORD_SPECIALS, writeWordTokenizer } from './wordTokenizer';

/** A cached pretrained model. */
export interface PretrainedModel {
  /** The cache entry directory. */
  readonly dir: string;
  /** The Hugging Face model directory (config.json, model.safetensors, tokenizer.json). */
  readonly modelDir: string;
  readonly report: PretrainReport;
  /** True when the entry was found in the cache (no training happened). */
  readonly cached: boolean;
}

/** How a cached pretrained model is found or built (shared by every kind of pretrained model). */
export interface CacheBuildOptions {
  readonly cacheDir?: string;
  /** Retrain even when the entry exists (it is replaced atomically). */
  readonly force?: boolean;
  readonly progress?: ProgressFactory;
  /** Stop training after this many seconds (a budget for slow machines). */
  readonly maxSeconds?: number;
  /** Status lines (default: stderr). */
  readonly log?: (line: string) => void;
}

/** Inputs of {@link buildPretrained}. */
export interface BuildSpec extends CacheBuildOptions {
  readonly kind: 'world' | 'facts';
  /** Everything the result depends on besides the trainer version (hashed into the key). */
  readonly keyMaterial: Record<string, unknown>;
  readonly examples: readonly TrainExample[];
  /** Every text the model must be able to tokenize (training texts, new targets, evaluation prompts). */
  readonly vocabTexts: readonly string[];
  readonly settings: TrainSettings;
  readonly source: Record<string, unknown>;
  /** Accuracy of the loaded-back model per prompt family; `entryDir` is the (temporary) entry being built. */
  readonly measure: (model: CausalLM, tok: Tokenizer, entryDir: string) => Record<string, AccuracyResult>;
  /** Extra files for the entry (e.g. the world's data directory), written into the temporary entry. */
  readonly extra?: (tmpDir: string) => Promise<void> | void;
}

const REPORT_FILE = 'pretrain.json';

/**
 * Reads a cache entry if it is complete (undefined when its report or model config is missing).
 *
 * @throws Error naming pretrain.json when it is not valid JSON.
 */
export function readPretrained(dir: string): PretrainedModel | undefined {
  const reportFile = path.join(dir, REPORT_FILE);
  const modelDir = path.join(dir, 'model');
  if (!fs.existsSync(reportFile) || !fs.existsSync(path.join(modelDir, 'config.json'))) return undefined;
  const report = readJsonFile(reportFile) as PretrainReport;
  return { dir, modelDir, report, cached: true };
}

/** Longest token count of any vocabulary text (to size the model's positions). */
export function longestTokens(texts: readonly string[]): number {
  let m = 0;
  for (const t of texts) m = Math.max(m, preTokenize(t).length);
  return m;
}

/** The active backend and everything that decides how its kernels round, e.g. `wasm+native-blas+Haswell+fused+attn+r3`. */
export function kernelsLabel(): string {
  // Live, not the init snapshot: the accelerator can be switched off after init.
  return `${backendReport().active}+${kernelFingerprint()}`;
}

/** Logs a WARNING line per shortfall of the model's pre-edit knowledge (issue 5's 95%). */
function warnKnowledge(kind: string, report: PretrainReport, log: (line: string) => void): void {
  for (const w of knowledgeWarnings(report.accuracy)) log(`WARNING: ${kind} model: ${w}`);
}

/**
 * Finds the entry for `spec` in the cache, or trains, saves and measures it. A model that falls short
 * of the pre-edit knowledge threshold is still returned (a budgeted run may want it), with a WARNING
 * logged and `knowledgeOk: false` in its report.
 */
export async function buildPretrained(spec: BuildSpec): Promise<PretrainedModel> {
  const log = spec.log ?? ((l: string) => process.stderr.write(l + '\n'));
  await initBackend();
  // Kernels round differently (native BLAS vs stock wasm vs tfjs-node), and a model trained with one set
  // edits measurably differently: the cache keeps one entry per kernel configuration.
  const key = cacheKey({ trainerVersion: TRAINER_VERSION, kind: spec.kind, settings: spec.settings, kernels: kernelsLabel(), ...spec.keyMaterial });
  const cacheDir = spec.cacheDir ?? defaultCacheDir();
  const dir = path.join(cacheDir, `${spec.kind}-${key.slice(0, 16)}`);
  let replace = spec.force === true;
  if (!spec.force) {
    const hit = readPretrained(dir);
    // A model cut short by a time budget is only good enough for a caller with a budget as tight.
    const usable = hit && (!hit.report.truncated || (spec.maxSeconds !== undefined && spec.maxSeconds <= hit.report.trainSeconds));
    if (hit && usable) {
      log(`${spec.kind} model: cached at ${hit.modelDir}`);
      warnKnowledge(spec.kind, hit.report, log);
      return hit;
    }
    if (hit) {
      log(`${spec.kind} model: the cached entry was cut short by a time budget; training it again`);
      replace = true;
    } else if (fs.existsSync(dir)) {
      // Without replace, writeDirAtomic would keep this folder and the new model would never land.
      log(`${spec.kind} model: the cache entry ${dir} is incomplete; training it again`);
      replace = true;
    }
  }
  const files = buildWordTokenizer(spec.vocabTexts, { maxLength: spec.settings.model.maxPositions });
  const tok = tokenizerFromDefinition({ tokenizerJson: { ...files.tokenizerJson }, tokenizerConfig: { ...files.tokenizerConfig } });
  // The vocabulary is built from these very texts, so an unknown token means the pre-tokenizers disagree.
  const unk = tok.encode(WORD_SPECIALS.unk)[0];
  for (const e of spec.examples) {
    for (const text of [e.prompt, e.answer]) {
      if (tok.encode(text).includes(unk)) throw new Error(`buildPretrained: ${JSON.stringify(text)} has a word missing from the generated vocabulary`);
    }
  }
  log(`${spec.kind} model: training on ${spec.examples.length} facts, vocabulary ${tok.vocabSize}, cache ${dir}`);
  const trained = await trainFactsLM({ examples: spec.examples, tokenizer: tok, settings: spec.settings, progress: spec.progress, maxSeconds: spec.maxSeconds });
  try {
    await writeDirAtomic(
      dir,
      async (tmp) => {
        const modelDir = path.join(tmp, 'model');
        await trained.model.save(modelDir);
        writeWordTokenizer(modelDir, files);
        if (spec.extra) await spec.extra(tmp);
        const loaded = await loadModel(modelDir);
        let accuracy: Record<string, AccuracyResult>;
        try {
          if (!loaded.tokenizer) throw new Error(`${modelDir}: the saved model came back without its tokenizer`);
          accuracy = { training: trained.trainAccuracy, ...spec.measure(loaded, loaded.tokenizer, tmp) };
        } finally {
          loaded.dispose();
        }
        const report: PretrainReport = {
          kind: spec.kind,
          key,
          trainerVersion: TRAINER_VERSION,
          settings: spec.settings,
          vocabSize: tok.vocabSize,
          parameters: trained.model.parameterCount(),
          examples: trained.tuples.length,
          epochs: trained.epochs,
          steps: trained.steps,
          trainSeconds: trained.seconds,
          truncated: trained.truncated,
          epochLosses: trained.epochLosses,
          accuracy,
          backend: backendReport().active,
          createdAt: new Date().toISOString(),
          source: spec.source,
          knowledgeOk: knowledgeWarnings(accuracy).length === 0,
          knowledgeWarnings: knowledgeWarnings(accuracy),
        };
        writeJsonAtomic(path.join(tmp, REPORT_FILE), report);
      },
      { replace },
    );
  } finally {
    trained.model.dispose();
  }
  const entry = readPretrained(dir);
  if (!entry) throw new Error(`buildPretrained: ${dir} is incomplete after writing it`);
  const acc = Object.entries(entry.report.accuracy)
    .map(([k, v]) => `${k} ${(v.tokenAccuracy * 100).toFixed(1)}%`)
    .join(', ');
  log(`${spec.kind} model: trained in ${entry.report.trainSeconds.toFixed(0)} s (${entry.report.epochs} epochs); accuracy ${acc}`);
  warnKnowledge(spec.kind, entry.report, log);
  return { ...entry, cached: false };
}
