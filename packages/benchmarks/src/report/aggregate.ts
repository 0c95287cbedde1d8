/**
 * Multi-seed aggregation of benchmark runs (`hiedit-bench aggregate`). On the small models of this project
 * the seed-to-seed spread is as large as the differences between editors, so the issue's headline
 * comparison is only worth stating over several seeds, with its spread. This module reads the runs,
 * refuses runs that are not the same experiment, and computes the summary; formatting lives in
 * aggregateFormat.ts and aggregateHtml.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { configWarnings, readEditorConfigs, type EditorConfig } from './aggregateProvenance';
import { EDITOR_METRIC_KEYS, validateResults, type EditorResult, type ResultsFile } from './results';

/** A metric key of one editor in results.json. */
export type EditorMetricKey = (typeof EDITOR_METRIC_KEYS)[number];

/** Version of the summary.json shape below; bumped on any incompatible change. */
export const SUMMARY_VERSION = 1;

/** The paper's headline: the candidate at least 8.48% above the baseline (relative, over ES/GS/LS). */
export const TARGET_GAIN = 0.0848;
/** The candidate shifts at most half the modules per edit of the baseline. */
export const TARGET_MODULES_RATIO = 0.5;
/** Pre_* within 5 points (0.05 as a fraction) of ES/GS/LS ... */
export const TARGET_PRE_GAP = 0.05;
/** ... for streams of at least this many edits. */
export const TARGET_PRE_MIN_EVAL = 1000;

/** The metrics the headline averages over. */
export const HEADLINE_METRICS = ['ES', 'GS', 'LS'] as const;
type HeadlineMetric = (typeof HEADLINE_METRICS)[number];

// Targets and wins are decided on unrounded floating-point values; this keeps a value computed to exactly
// the target (or a tie) from missing it, or winning, by rounding noise.
const EPS = 1e-12;

/** One run directory, read. */
export interface SeedRun {
  /** The directory as given. */
  dir: string;
  results: ResultsFile;
  /** sha256 of the record file the run read (details.json settings.dataHash), when known. */
  dataHash?: string;
  /** ES/GS scoring style (details.json settings.style), when known. */
  style?: string;
  /** When the run directory was created (run.json), when known: editor settings are not recorded per run,
   * so this is the only trace of which code version measured a seed. */
  created?: string;
  /** Configuration of each trained policy editor (see aggregateProvenance.ts), when the directory has it. */
  configs?: Record<string, EditorConfig>;
}

/** mean, sample standard deviation, min and max of one number over the seeds. */
export interface MetricStats {
  /** null when no seed has a value. */
  mean: number | null;
  /** Sample standard deviation (n - 1 in the denominator); null with fewer than two values. */
  std: number | null;
  min: number | null;
  max: number | null;
  /** Number of seeds with a value. */
  n: number;
  /** The value of each seed of {@link AggregateSummary.seeds}, in that order; null where the seed has none. */
  perSeed: (number | null)[];
}

/** One editor-vs-editor comparison (from one seed, or from the seed-means). Fractions, not percent. */
export interface Gain {
  /** Mean of ES/GS/LS of the candidate, over the metrics both editors measured. */
  candidateMean: number | null;
  /** The same for the baseline. */
  baselineMean: number | null;
  /** (candidate - baseline) / baseline per metric; null where not measured by both or the baseline is 0. */
  perMetric: Record<HeadlineMetric, number | null>;
  /** Mean of the per-metric relative differences (the paper's definition); null if any is undefined. */
  meanOfRatios: number | null;
  /** candidateMean / baselineMean - 1; null when the baseline mean is 0. */
  ratioOfMeans: number | null;
  /** candidate layers_per_edit / baseline layers_per_edit; null when the baseline shifts nothing. */
  modulesRatio: number | null;
  /** Why a gain is null, when one is. */
  notes: string[];
}

/** The comparison on one seed. */
export interface SeedGain extends Gain {
  seed: number;
  dir: string;
}

/** The candidate-vs-baseline comparison over the seeds where both ran. */
export interface Comparison {
  candidate: string;
  baseline: string;
  /** The paired seeds (both editors ran), ascending. */
  seeds: number[];
  perSeed: SeedGain[];
  /** The gains computed from the seed-means of ES/GS/LS and layers_per_edit over the paired seeds. */
  onSeedMeans: Gain;
  /** Mean, sd, min, max of the per-seed gains (perSeed of each stats aligns with `seeds` of this comparison). */
  acrossSeeds: { meanOfRatios: MetricStats; ratioOfMeans: MetricStats; modulesRatio: MetricStats };
  /** Seeds the candidate wins: by a positive mean of ratios, by a positive ratio of means; `of` paired seeds. */
  wins: { meanOfRatios: number; ratioOfMeans: number; of: number };
}

/** Outcome of one of the issue's targets. */
export type CheckStatus = 'met' | 'missed' | 'not applicable' | 'undefined';

/** One of the issue's targets, checked on the aggregated numbers. */
export interface TargetCheck {
  /** Stable identifier: gain-mean-of-ratios, gain-ratio-of-means, modules-ratio, hiedit-vs-reference, pre-within-5. */
  id: string;
  /** The target in words. */
  target: string;
  status: CheckStatus;
  /** The measured quantity (fraction; a ratio for modules-ratio; the largest gap for pre-within-5), when there is one. */
  value: number | null;
  /** How the value was obtained, or why the check does not apply. */
  detail: string;
}

/**
 * summary.json, written by `hiedit-bench aggregate`. Fractions are in 0..1 like results.json; gains are
 * relative (0.0848 = +8.48%).
 */
export interface AggregateSummary {
  /** {@link SUMMARY_VERSION}. */
  version: number;
  dataset: string;
  /** The model every run edited; null when each seed has its own facts model (see `runs[].model`). */
  model: string | null;
  /** sha256 of the record file, when the runs' details.json give it. */
  dataHash: string | null;
  n_train: number;
  n_eval: number;
  num_pre: number;
  /** The aggregated seeds, ascending. */
  seeds: number[];
  /** One entry per seed, in `seeds` order. */
  runs: { seed: number; dir: string; model: string; editors: string[]; created: string | null }[];
  /** Editor -> metric -> statistics over the seeds where the editor ran. */
  editors: Record<string, Record<EditorMetricKey, MetricStats>>;
  /** `candidate` vs `baseline` first, then hiedit vs hiedit-reference when both ran (and differ from the first). */
  comparisons: Comparison[];
  checks: TargetCheck[];
  /** Remarks (e.g. a requested editor that never ran). */
  notes: string[];
  /**
   * Signs that the seeds are not comparable although results.json agrees: an editor whose trained policy
   * configuration differs between seeds (e.g. seeds measured before and after a change of defaults).
   */
  warnings: string[];
}

/** Options of {@link aggregateRuns}. */
export interface AggregateOptions {
  /** Default 'rledit'. */
  baseline?: string;
  /** Default 'hiedit'. */
  candidate?: string;
  /**
   * Accept runs that edited different models (e.g. `hiedit-bench run --model-seed S`): the spread then covers
   * the pretraining of the model as well as the split and the editors' training. Default false.
   */
  acrossModels?: boolean;
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Reads DIR/results.json (validated against the results contract) and, when present, the data hash and
 * scoring style from DIR/details.json, the trained editors' configurations (editors/NAME/trained) and
 * the creation time from DIR/run.json. A present but unreadable results/details/run file is an error
 * naming it.
 */
export function loadSeedRun(dir: string): SeedRun {
  const file = path.join(dir, 'results.json');
  if (!fs.existsSync(file)) throw new Error(`${dir}: no results.json (is it a hiedit-bench run directory?)`);
  const results = validateResults(readJsonFile(file), file);
  const run: SeedRun = { dir, results };
  const detailsFile = path.join(dir, 'details.json');
  if (fs.existsSync(detailsFile)) {
    const details = readJsonFile(detailsFile) as { settings?: Record<string, unknown> } | null;
    const settings = details && typeof details === 'object' ? details.settings : undefined;
    if (settings !== undefined && (settings === null || typeof settings !== 'object')) {
      throw new Error(`${detailsFile}: "settings" must be an object`);
    }
    if (settings && typeof settings.dataHash === 'string') run.dataHash = settings.dataHash;
    if (settings && typeof settings.style === 'string') run.style = settings.style;
  }
  const configs = readEditorConfigs(dir, Object.keys(results.editors));
  if (Object.keys(configs).length > 0) run.configs = configs;
  const runFile = path.join(dir, 'run.json');
  if (fs.existsSync(runFile)) {
    const created = (readJsonFile(runFile) as { created?: unknown } | null)?.created;
    if (typeof created === 'string') run.created = created;
  }
  return run;
}

function refuse(a: SeedRun, b: SeedRun, field: string, va: unknown, vb: unknown, extra = ''): never {
  throw new Error(
    `cannot aggregate ${a.dir} and ${b.dir}: different ${field} (${JSON.stringify(va)} vs ${JSON.stringify(vb)}); ` +
      `only the seed may differ between the runs${extra}`,
  );
}

/** The facts model of counterfact/zsre runs is pretrained on the run's own records, so it differs by seed. */
function isFactsModel(label: string): boolean {
  return label.startsWith('facts-model:');
}

/**
 * Throws when the runs are not seeds of one experiment: a different dataset, data file, scoring style,
 * model, n_train, n_eval or num_pre, or the same seed twice. The error names both directories and the
 * field. Facts models (label `facts-model:...`) may differ, because the runner pretrains one per seed
 * on the records of that seed's splits, but only when both details.json show the same data file.
 */
export function checkSameExperiment(runs: readonly SeedRun[], opts: Pick<AggregateOptions, 'acrossModels'> = {}): void {
  if (runs.length === 0) throw new Error('nothing to aggregate: no run directories');
  const first = runs[0];
  const bySeed = new Map<number, SeedRun>();
  for (const run of runs) {
    const r = run.results;
    const f = first.results;
    for (const k of ['dataset', 'n_train', 'n_eval', 'num_pre'] as const) if (r[k] !== f[k]) refuse(first, run, k, f[k], r[k]);
    // Absent in runs on a --model checkpoint and in older runs; two sizes are never seeds of one experiment.
    for (const k of ['model_size', 'model_arch'] as const) if (r[k] !== undefined && f[k] !== undefined && r[k] !== f[k]) refuse(first, run, k, f[k], r[k]);
    if (first.dataHash !== undefined && run.dataHash !== undefined && first.dataHash !== run.dataHash) {
      refuse(first, run, 'data file (details.json settings.dataHash)', first.dataHash, run.dataHash);
    }
    if (first.style !== undefined && run.style !== undefined && first.style !== run.style) {
      refuse(first, run, 'scoring style (details.json settings.style)', first.style, run.style);
    }
    if (r.model !== f.model && !opts.acrossModels) {
      const sameData = first.dataHash !== undefined && first.dataHash === run.dataHash;
      if (!(isFactsModel(r.model) && isFactsModel(f.model) && sameData)) {
        const why =
          isFactsModel(r.model) && isFactsModel(f.model)
            ? ' (per-seed facts models are accepted only when both details.json name the same data file)'
            : '';
        refuse(first, run, 'model', f.model, r.model, `${why}; pass --across-models (acrossModels) to aggregate runs of different pretrained models`);
      }
    }
    const twin = bySeed.get(r.seed);
    if (twin) throw new Error(`cannot aggregate ${twin.dir} and ${run.dir}: both are seed ${r.seed}; aggregate runs of different seeds`);
    bySeed.set(r.seed, run);
  }
}

/** mean, sample sd, min, max over the non-null values (perSeed keeps the nulls). */
export function metricStats(perSeed: readonly (number | null)[]): MetricStats {
  const xs = perSeed.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { mean: null, std: null, min: null, max: null, n: 0, perSeed: [...perSeed] };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean) * (x - mean), 0) / (n - 1));
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs), n, perSeed: [...perSeed] };
}

/** The ES/GS/LS and layers_per_edit a gain is computed from. */
type GainInput = Pick<EditorResult, HeadlineMetric | 'layers_per_edit'> | Record<HeadlineMetric | 'layers_per_edit', number | null>;

/**
 * Candidate vs baseline in both definitions of the paper's relative gain, over the metrics of ES/GS/LS
 * that both measured (so a metric one editor lacks does not tilt the comparison).
 */
export function computeGain(candidate: GainInput, baseline: GainInput): Gain {
  const notes: string[] = [];
  const ks = HEADLINE_METRICS.filter((k) => typeof candidate[k] === 'number' && typeof baseline[k] === 'number');
  const perMetric = { ES: null, GS: null, LS: null } as Record<HeadlineMetric, number | null>;
  let ratiosDefined = ks.length > 0;
  for (const k of ks) {
    const b = baseline[k] as number;
    if (b > 0) perMetric[k] = ((candidate[k] as number) - b) / b;
    else {
      ratiosDefined = false;
      notes.push(`the baseline's ${k} is 0, so its relative difference (and the mean of ratios) is undefined`);
    }
  }
  if (ks.length === 0) notes.push('no metric of ES/GS/LS was measured by both editors');
  const mean = (r: GainInput) => (ks.length === 0 ? null : ks.reduce((a, k) => a + (r[k] as number), 0) / ks.length);
  const candidateMean = mean(candidate);
  const baselineMean = mean(baseline);
  let ratioOfMeans: number | null = null;
  if (candidateMean !== null && baselineMean !== null) {
    if (baselineMean > 0) ratioOfMeans = candidateMean / baselineMean - 1;
    else notes.push("the baseline's mean of ES/GS/LS is 0, so the ratio of the means is undefined");
  }
  const cl = candidate.layers_per_edit;
  const bl = baseline.layers_per_edit;
  let modulesRatio: number | null = null;
  if (typeof cl === 'number' && typeof bl === 'number') {
    if (bl > 0) modulesRatio = cl / bl;
    else notes.push('the baseline shifts no module per edit, so the modules ratio is undefined');
  }
  return {
    candidateMean,
    baselineMean,
    perMetric,
    meanOfRatios: ratiosDefined ? ks.reduce((a, k) => a + (perMetric[k] as number), 0) / ks.length : null,
    ratioOfMeans,
    modulesRatio,
    notes,
  };
}

function compare(runs: readonly SeedRun[], candidate: string, baseline: string): Comparison | undefined {
  const paired = runs.filter((r) => candidate in r.results.editors && baseline in r.results.editors);
  if (paired.length === 0) return undefined;
  const perSeed: SeedGain[] = paired.map((r) => ({
    seed: r.results.seed,
    dir: r.dir,
    ...computeGain(r.results.editors[candidate], r.results.editors[baseline]),
  }));
  const seedMean = (editor: string): GainInput => {
    const m = (k: HeadlineMetric | 'layers_per_edit') => metricStats(paired.map((r) => r.results.editors[editor][k])).mean;
    return { ES: m('ES'), GS: m('GS'), LS: m('LS'), layers_per_edit: m('layers_per_edit') };
  };
  return {
    candidate,
    baseline,
    seeds: paired.map((r) => r.results.seed),
    perSeed,
    onSeedMeans: computeGain(seedMean(candidate), seedMean(baseline)),
    acrossSeeds: {
      meanOfRatios: metricStats(perSeed.map((g) => g.meanOfRatios)),
      ratioOfMeans: metricStats(perSeed.map((g) => g.ratioOfMeans)),
      modulesRatio: metricStats(perSeed.map((g) => g.modulesRatio)),
    },
    wins: {
      meanOfRatios: perSeed.filter((g) => g.meanOfRatios !== null && g.meanOfRatios > EPS).length,
      ratioOfMeans: perSeed.filter((g) => g.ratioOfMeans !== null && g.ratioOfMeans > EPS).length,
      of: perSeed.length,
    },
  };
}

function pct(v: number, digits = 2): string {
  const t = (100 * v).toFixed(digits);
  return t.startsWith('-') && Number(t) !== 0 ? `${t}%` : `+${t.replace(/^-/, '')}%`;
}

function gainCheck(c: Comparison | undefined, which: 'meanOfRatios' | 'ratioOfMeans', pair: string): TargetCheck {
  const label = which === 'meanOfRatios' ? 'mean of the per-metric relative differences' : 'ratio of the means';
  const id = which === 'meanOfRatios' ? 'gain-mean-of-ratios' : 'gain-ratio-of-means';
  const target = `${pair}: relative gain over ES/GS/LS (${label}) >= ${pct(TARGET_GAIN)} on the seed-means`;
  if (!c) return { id, target, status: 'not applicable', value: null, detail: `${pair.replace(' vs ', ' and ')} never ran in the same seed` };
  const v = c.onSeedMeans[which];
  const seeds = `seeds ${c.seeds.join(', ')}`;
  if (v === null) return { id, target, status: 'undefined', value: null, detail: `${c.onSeedMeans.notes.join('; ')} (${seeds})` };
  return {
    id,
    target,
    status: v >= TARGET_GAIN - EPS ? 'met' : 'missed',
    value: v,
    detail: `${pct(v)} on the means over ${seeds}; per seed ${c.perSeed.map((g) => (g[which] === null ? 'undefined' : pct(g[which] as number, 1))).join(', ')}; the candidate wins ${c.wins[which]} of ${c.wins.of}`,
  };
}

function buildChecks(runs: readonly SeedRun[], main: Comparison | undefined, candidate: string, baseline: string, seeds: number[], editors: AggregateSummary['editors']): TargetCheck[] {
  const pair = `${candidate} vs ${baseline}`;
  const checks = [gainCheck(main, 'meanOfRatios', pair), gainCheck(main, 'ratioOfMeans', pair)];

  const modTarget = `${pair}: modules shifted per edit at most ${TARGET_MODULES_RATIO} times the baseline's (seed-means)`;
  const mr = main?.onSeedMeans.modulesRatio ?? null;
  checks.push(
    !main
      ? { id: 'modules-ratio', target: modTarget, status: 'not applicable', value: null, detail: `${candidate} and ${baseline} never ran in the same seed` }
      : mr === null
        ? { id: 'modules-ratio', target: modTarget, status: 'undefined', value: null, detail: main.onSeedMeans.notes.join('; ') }
        : {
            id: 'modules-ratio',
            target: modTarget,
            status: mr <= TARGET_MODULES_RATIO + EPS ? 'met' : 'missed',
            value: mr,
            detail: `ratio ${mr.toFixed(3)} (per seed ${main.perSeed.map((g) => (g.modulesRatio === null ? 'undefined' : g.modulesRatio.toFixed(2))).join(', ')})`,
          },
  );

  // hiedit (default mode) at least as good as hiedit-reference: seed-mean of the per-seed mean of ES/GS/LS.
  const refTarget = 'hiedit >= hiedit-reference: seed-mean of the mean of ES/GS/LS';
  const ref = compare(runs, 'hiedit', 'hiedit-reference');
  if (!ref) {
    checks.push({ id: 'hiedit-vs-reference', target: refTarget, status: 'not applicable', value: null, detail: 'hiedit and hiedit-reference never ran in the same seed' });
  } else {
    const h = metricStats(ref.perSeed.map((g) => g.candidateMean)).mean;
    const r = metricStats(ref.perSeed.map((g) => g.baselineMean)).mean;
    if (h === null || r === null) {
      checks.push({ id: 'hiedit-vs-reference', target: refTarget, status: 'undefined', value: null, detail: 'no metric of ES/GS/LS measured by both' });
    } else {
      checks.push({
        id: 'hiedit-vs-reference',
        target: refTarget,
        status: h >= r - EPS ? 'met' : 'missed',
        value: h - r,
        detail: `${(100 * h).toFixed(1)} vs ${(100 * r).toFixed(1)} (difference ${(100 * (h - r)).toFixed(1)} points) over seeds ${ref.seeds.join(', ')}; hiedit higher in ${ref.perSeed.filter((g) => (g.candidateMean ?? 0) > (g.baselineMean ?? 0) + EPS).length} of ${ref.perSeed.length}`,
      });
    }
  }

  const preTarget = `Pre_ES/GS/LS within ${100 * TARGET_PRE_GAP} points of ES/GS/LS for every editor (seed-means; streams of >= ${TARGET_PRE_MIN_EVAL} edits)`;
  const nEval = runs[0].results.n_eval;
  if (nEval < TARGET_PRE_MIN_EVAL) {
    checks.push({ id: 'pre-within-5', target: preTarget, status: 'not applicable', value: null, detail: `not applicable: the streams have ${nEval} edits (< ${TARGET_PRE_MIN_EVAL})` });
  } else {
    const gaps: { editor: string; k: HeadlineMetric; gap: number }[] = [];
    for (const [editor, stats] of Object.entries(editors)) {
      for (const k of HEADLINE_METRICS) {
        const pre = stats[`Pre_${k}` as EditorMetricKey].mean;
        const all = stats[k].mean;
        if (pre !== null && all !== null) gaps.push({ editor, k, gap: Math.abs(pre - all) });
      }
    }
    if (gaps.length === 0) {
      checks.push({ id: 'pre-within-5', target: preTarget, status: 'undefined', value: null, detail: 'no editor has both Pre_* and the overall metric' });
    } else {
      const worst = gaps.reduce((a, b) => (b.gap > a.gap ? b : a));
      const over = gaps.filter((g) => g.gap > TARGET_PRE_GAP + EPS);
      checks.push({
        id: 'pre-within-5',
        target: preTarget,
        status: over.length === 0 ? 'met' : 'missed',
        value: worst.gap,
        detail:
          `largest gap ${(100 * worst.gap).toFixed(1)} points (${worst.editor} Pre_${worst.k} vs ${worst.k}) over seeds ${seeds.join(', ')}` +
          (over.length > 0 ? `; over ${100 * TARGET_PRE_GAP}: ${over.map((g) => `${g.editor} ${g.k} ${(100 * g.gap).toFixed(1)}`).join(', ')}` : ''),
      });
    }
  }
  return checks;
}

/** Aggregates runs of one experiment over their seeds (see {@link checkSameExperiment} for what is refused). */
export function aggregateRuns(input: readonly SeedRun[], opts: AggregateOptions = {}): AggregateSummary {
  checkSameExperiment(input, opts);
  const candidate = opts.candidate ?? 'hiedit';
  const baseline = opts.baseline ?? 'rledit';
  if (candidate === baseline) throw new Error(`candidate and baseline are both ${JSON.stringify(candidate)}`);
  const runs = [...input].sort((a, b) => a.results.seed - b.results.seed);
  const seeds = runs.map((r) => r.results.seed);
  const names: string[] = [];
  for (const r of runs) for (const n of Object.keys(r.results.editors)) if (!names.includes(n)) names.push(n);
  const editors: AggregateSummary['editors'] = {};
  for (const name of names) {
    const stats = {} as Record<EditorMetricKey, MetricStats>;
    for (const k of EDITOR_METRIC_KEYS) stats[k] = metricStats(runs.map((r) => r.results.editors[name]?.[k] ?? null));
    editors[name] = stats;
  }
  const notes: string[] = [];
  for (const e of [candidate, baseline]) if (!names.includes(e)) notes.push(`${e} did not run in any of the seeds`);
  const main = compare(runs, candidate, baseline);
  if (!main && names.includes(candidate) && names.includes(baseline)) notes.push(`${candidate} and ${baseline} never ran in the same seed`);
  const comparisons = main ? [main] : [];
  const isRefPair = candidate === 'hiedit' && baseline === 'hiedit-reference';
  const ref = isRefPair ? undefined : compare(runs, 'hiedit', 'hiedit-reference');
  if (ref) comparisons.push(ref);
  for (const r of runs) {
    const missing = names.filter((n) => !(n in r.results.editors));
    if (missing.length > 0) notes.push(`seed ${r.results.seed} (${r.dir}) has no ${missing.join(', ')}: their statistics use the other seeds`);
  }
  const models = new Set(runs.map((r) => r.results.model));
  if (models.size > 1) {
    notes.push(
      opts.acrossModels
        ? `the runs edited ${models.size} different pretrained models (--across-models): the spread includes the models' pretraining`
        : 'each seed edited its own facts model (pretrained on the records of that seed\'s splits)',
    );
  }
  const f = runs[0].results;
  return {
    version: SUMMARY_VERSION,
    dataset: f.dataset,
    model: models.size === 1 ? f.model : null,
    dataHash: runs[0].dataHash ?? null,
    n_train: f.n_train,
    n_eval: f.n_eval,
    num_pre: f.num_pre,
    seeds,
    runs: runs.map((r) => ({ seed: r.results.seed, dir: r.dir, model: r.results.model, editors: Object.keys(r.results.editors), created: r.created ?? null })),
    editors,
    comparisons,
    checks: buildChecks(runs, main, candidate, baseline, seeds, editors),
    notes,
    warnings: configWarnings(runs.map((r) => ({ seed: r.results.seed, configs: r.configs ?? {} }))),
  };
}

/** Reads each directory ({@link loadSeedRun}) and aggregates them ({@link aggregateRuns}). */
export function aggregateDirs(dirs: readonly string[], opts: AggregateOptions = {}): AggregateSummary {
  return aggregateRuns(dirs.map(loadSeedRun), opts);
}

/** Reads a summary.json, refusing other versions of the shape. */
export function readSummary(file: string): AggregateSummary {
  const raw = readJsonFile(file) as Partial<AggregateSummary> | null;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: must be a JSON object`);
  if (raw.version !== SUMMARY_VERSION) throw new Error(`${file}: "version" is ${JSON.stringify(raw.version)}, this code reads version ${SUMMARY_VERSION}`);
  for (const k of ['dataset', 'seeds', 'runs', 'editors', 'comparisons', 'checks', 'notes', 'warnings'] as const) {
    if (!(k in raw)) throw new Error(`${file}: missing "${k}"`);
  }
  return raw as AggregateSummary;
}
