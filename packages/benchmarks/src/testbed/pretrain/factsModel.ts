/**
 * A "facts model": the same trainer on the TRUE answers of a CounterFact or zsRE file (edit prompts and
 * paraphrases with the old answer, locality prompts with theirs), so real-data benchmarks edit a model
 * that knew the facts before. Cached by the file's sha256, the chosen records and the settings.
 */
import * as path from 'path';
import { fileSha256, loadDataset, trueFacts, type DatasetFormat, type EditRequest, type SkippedRecord } from '../../datasets';
import { buildPretrained, type CacheBuildOptions, longestTokens, type PretrainedModel } from './build';
import { measureKnowledge, type TrainSettingsInput } from './worldModel';
import { resolveTrainSettings } from './trainer';

/** Options of {@link ensureFactsModel}. */
export interface FactsModelOptions extends CacheBuildOptions {
  readonly dataFile: string;
  readonly format?: DatasetFormat;
  /** Skip invalid records (they are listed in the result) instead of failing. */
  readonly skipInvalid?: boolean;
  /** Request ids to teach (default: every record). Benchmarks pass their train + evaluation ids. */
  readonly ids?: readonly string[];
  /** Teach paraphrases too (default true). */
  readonly paraphrases?: boolean;
  /** Teach locality prompts too (default true). */
  readonly locality?: boolean;
  readonly train?: TrainSettingsInput;
}

/** A cached facts model and the requests it was taught. */
export interface FactsModel extends PretrainedModel {
  readonly requests: EditRequest[];
  readonly skipped: SkippedRecord[];
}

/** Trains (or finds in the cache) the facts model of a data file. */
export async function ensureFactsModel(opts: FactsModelOptions): Promise<FactsModel> {
  const loaded = loadDataset(opts.dataFile, { format: opts.format, skipInvalid: opts.skipInvalid });
  let requests = loaded.requests;
  if (opts.ids) {
    const byId = new Map(requests.map((r) => [r.id, r]));
    requests = opts.ids.map((id) => {
      const r = byId.get(id);
      if (!r) throw new Error(`ensureFactsModel: ${path.basename(opts.dataFile)} has no (valid) record with id ${id}`);
      return r;
    });
  }
  const { facts, conflicts } = trueFacts(requests, { paraphrases: opts.paraphrases, locality: opts.locality });
  if (facts.length === 0) throw new Error(`ensureFactsModel: ${path.basename(opts.dataFile)}: the chosen records carry no true answers`);
  const vocabTexts = requests.flatMap((r) => [
    r.prompt,
    r.target,
    ...(r.oldTarget !== undefined ? [r.oldTarget] : []),
    ...r.paraphrases,
    ...r.locality.flatMap((l) => [l.prompt, l.answer]),
    ...(r.trueAnswers ?? []),
  ]);
  // Positions: the longest text plus room for a multi-token answer and a few generated tokens.
  const needed = Math.ceil((longestTokens(vocabTexts) * 2 + 16) / 16) * 16;
  const base = resolveTrainSettings(opts.train);
  const settings = resolveTrainSettings({ ...opts.train, model: { ...base.model, maxPositions: Math.max(base.model.maxPositions, needed) } });
  const sha = fileSha256(opts.dataFile);
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (conflicts.length > 0) log(`facts model: ${conflicts.length} prompts appear with two different answers; the first answer is taught`);
  const entry = await buildPretrained({
    kind: 'facts',
    keyMaterial: {
      fileSha256: sha,
      format: loaded.format,
      skipInvalid: opts.skipInvalid === true,
      ids: opts.ids ? [...opts.ids] : null,
      paraphrases: opts.paraphrases ?? true,
      locality: opts.locality ?? true,
    },
    examples: facts,
    vocabTexts,
    settings,
    source: { file: path.basename(opts.dataFile), fileSha256: sha, format: loaded.format, requests: requests.length, facts: facts.length, conflicts: conflicts.length },
    measure: (model, tok) => {
      const k = measureKnowledge(model, tok, requests);
      return { editPrompts: k.editPrompts, paraphrases: k.paraphrases, locality: concat(k.neighborhood, k.unrelated) };
    },
    cacheDir: opts.cacheDir,
    force: opts.force,
    progress: opts.progress,
    maxSeconds: opts.maxSeconds,
    log,
  });
  return { ...entry, requests, skipped: loaded.skipped };
}

function concat(a: { tokenAccuracy: number; exactMatch: number; count: number }, b: { tokenAccuracy: number; exactMatch: number; count: number }) {
  const n = a.count + b.count;
  if (n === 0) return { tokenAccuracy: NaN, exactMatch: NaN, count: 0 };
  const w = (x: number, c: number): number => (c === 0 ? 0 : x * c);
  return {
    tokenAccuracy: (w(a.tokenAccuracy, a.count) + w(b.tokenAccuracy, b.count)) / n,
    exactMatch: (w(a.exactMatch, a.count) + w(b.exactMatch, b.count)) / n,
    count: n,
  };
}
