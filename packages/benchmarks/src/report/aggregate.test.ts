import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  aggregateDirs,
  checkSameExperiment,
  computeGain,
  loadSeedRun,
  metricStats,
  readSummary,
  SUMMARY_VERSION,
  type AggregateSummary,
  type TargetCheck,
} from './aggregate';
import { formatSummary } from './aggregateFormat';
import { renderSummaryHtml } from './aggregateHtml';
import { writeSummary } from './aggregateWrite';
import type { EditorResult, ResultsFile } from './results';

type Metrics = Partial<EditorResult>;

function editor(m: Metrics): EditorResult {
  return {
    ES: 0.5, GS: 0.5, LS: 0.5, LS_gold: 0.5, Pre_ES: 0.5, Pre_GS: 0.5, Pre_LS: 0.5, WILD_ES: 0.1, WILD_GS: 0.1,
    retention: 0.9, layers_per_edit: 4, ms_per_edit: 3, train_seconds: 10, ...m,
  };
}

function results(seed: number, editors: Record<string, Metrics>, over: Partial<ResultsFile> = {}): ResultsFile {
  const eds: Record<string, EditorResult> = {};
  const curves: ResultsFile['curves'] = {};
  for (const [n, m] of Object.entries(editors)) {
    eds[n] = editor(m);
    curves[n] = [{ edits: 10, ES: eds[n].ES as number, GS: eds[n].GS, LS: eds[n].LS }];
  }
  return { dataset: 'world', model: 'world-model:w1', seed, n_train: 10, n_eval: 20, num_pre: 5, editors: eds, curves, ...over };
}

let root: string;
let counter = 0;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-agg-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Writes a run directory holding results.json (and details.json when `dataHash` is given). */
function runDir(r: ResultsFile, details?: { dataHash?: string; style?: string }): string {
  const dir = path.join(root, `run-${counter++}-s${r.seed}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(r));
  if (details) fs.writeFileSync(path.join(dir, 'details.json'), JSON.stringify({ settings: { dataset: r.dataset, ...details } }));
  return dir;
}

function check(s: AggregateSummary, id: string): TargetCheck {
  const c = s.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
}

// Three seeds worked by hand (fractions):
//   seed 0: hiedit 0.6/0.5/0.4 (2 modules) vs rledit 0.5/0.5/0.2 (4): rel. ES +0.2, GS 0, LS +1 -> mean of ratios 0.4;
//           means 0.5 vs 0.4 -> ratio of means 0.25
//   seed 1: hiedit 0.4/0.4/0.4 vs rledit 0.5/0.5/0.5: every rel. -0.2 -> both -0.2
//   seed 2: hiedit 0.5/0.6/0.1 vs rledit 0.5/0.4/0.3: 0, +0.5, -2/3 -> mean of ratios -1/18; means 0.4 vs 0.4 -> 0
//   seed-means: hiedit 0.5/0.5/0.3, rledit 0.5/(1.4/3)/(1/3): rel. 0, +1/14, -0.1 -> mean of ratios -0.0095238;
//               means 1.3/3 vs 1.3/3 -> ratio of means 0
const SEEDS: Record<number, Record<string, Metrics>> = {
  0: { hiedit: { ES: 0.6, GS: 0.5, LS: 0.4, layers_per_edit: 2 }, rledit: { ES: 0.5, GS: 0.5, LS: 0.2 } },
  1: {
    hiedit: { ES: 0.4, GS: 0.4, LS: 0.4, layers_per_edit: 2 },
    rledit: { ES: 0.5, GS: 0.5, LS: 0.5 },
    'hiedit-reference': { ES: 0.3, GS: 0.3, LS: 0.3, layers_per_edit: 2 },
    ft: { GS: null, ms_per_edit: 200 },
  },
  2: {
    hiedit: { ES: 0.5, GS: 0.6, LS: 0.1, layers_per_edit: 2 },
    rledit: { ES: 0.5, GS: 0.4, LS: 0.3 },
    'hiedit-reference': { ES: 0.5, GS: 0.5, LS: 0.5, layers_per_edit: 2 },
  },
};

describe('aggregate: numbers', () => {
  test('metricStats: mean, sample sd, min, max, n over the non-null values', () => {
    const s = metricStats([0.6, null, 0.4, 0.5]);
    expect(s.mean).toBeCloseTo(0.5, 12);
    expect(s.std).toBeCloseTo(0.1, 12); // sqrt((0.01 + 0.01 + 0) / 2)
    expect([s.min, s.max, s.n]).toEqual([0.4, 0.6, 3]);
    expect(s.perSeed).toEqual([0.6, null, 0.4, 0.5]);
    expect(metricStats([0.3])).toMatchObject({ mean: 0.3, std: null, n: 1 });
    expect(metricStats([null, null])).toMatchObject({ mean: null, std: null, min: null, max: null, n: 0 });
  });

  test('computeGain: both definitions, the modules ratio, and what is undefined', () => {
    const g = computeGain(editor({ ES: 0.6, GS: 0.5, LS: 0.4, layers_per_edit: 2 }), editor({ ES: 0.5, GS: 0.5, LS: 0.2 }));
    expect(g.perMetric.ES).toBeCloseTo(0.2, 12);
    expect(g.perMetric.GS).toBeCloseTo(0, 12);
    expect(g.perMetric.LS).toBeCloseTo(1, 12);
    expect(g.meanOfRatios).toBeCloseTo(0.4, 12);
    expect(g.ratioOfMeans).toBeCloseTo(0.25, 12);
    expect(g.modulesRatio).toBe(0.5);
    // A metric only one editor measured is left out of both: here GS, so ES and LS only.
    const h = computeGain(editor({ ES: 0.6, GS: null, LS: 0.4 }), editor({ ES: 0.5, GS: 0.9, LS: 0.2 }));
    expect(h.perMetric.GS).toBeNull();
    expect(h.meanOfRatios).toBeCloseTo(0.6, 12); // (0.2 + 1) / 2
    expect(h.ratioOfMeans).toBeCloseTo(0.5 / 0.35 - 1, 12);
    const z = computeGain(editor({ ES: 0.3 }), editor({ ES: 0, layers_per_edit: 0 }));
    expect(z.meanOfRatios).toBeNull();
    expect(z.ratioOfMeans).toBeCloseTo(1.3 / 1 - 1, 12); // means (0.3+0.5+0.5)/3 vs (0+0.5+0.5)/3
    expect(z.modulesRatio).toBeNull();
    expect(z.notes.join(' ')).toMatch(/baseline's ES is 0.*modules ratio is undefined/);
  });

  test('three seeds: per editor statistics, per-seed and seed-mean gains, wins, checks', () => {
    // Given out of order: the summary sorts by seed.
    const dirs = [2, 0, 1].map((s) => runDir(results(s, SEEDS[s])));
    const s = aggregateDirs(dirs);
    expect(s.version).toBe(SUMMARY_VERSION);
    expect(s.seeds).toEqual([0, 1, 2]);
    expect(s.runs.map((r) => r.dir)).toEqual([dirs[1], dirs[2], dirs[0]]);
    expect(Object.keys(s.editors)).toEqual(['hiedit', 'rledit', 'hiedit-reference', 'ft']);
    expect(s.model).toBe('world-model:w1');

    const es = s.editors.hiedit.ES;
    expect(es.mean).toBeCloseTo(0.5, 12);
    expect(es.std).toBeCloseTo(0.1, 12);
    expect([es.min, es.max, es.n]).toEqual([0.4, 0.6, 3]);
    expect(s.editors.rledit.GS.mean).toBeCloseTo(1.4 / 3, 12);
    expect(s.editors.rledit.GS.std).toBeCloseTo(Math.sqrt(((0.5 - 1.4 / 3) ** 2 * 2 + (0.4 - 1.4 / 3) ** 2) / 2), 12);
    expect(s.editors['hiedit-reference'].ES).toMatchObject({ n: 2, perSeed: [null, 0.3, 0.5] });
    expect(s.editors.ft.GS).toMatchObject({ n: 0, mean: null });
    expect(s.editors.ft.ms_per_edit).toMatchObject({ n: 1, mean: 200, std: null });

    const [main, ref] = s.comparisons;
    expect([main.candidate, main.baseline, ref.candidate, ref.baseline]).toEqual(['hiedit', 'rledit', 'hiedit', 'hiedit-reference']);
    const mor = main.perSeed.map((g) => g.meanOfRatios as number);
    [0.4, -0.2, -1 / 18].forEach((v, i) => expect(mor[i]).toBeCloseTo(v, 12));
    [0.25, -0.2, 0].forEach((v, i) => expect(main.perSeed[i].ratioOfMeans as number).toBeCloseTo(v, 12));
    expect(main.onSeedMeans.perMetric.GS).toBeCloseTo(1 / 14, 12);
    expect(main.onSeedMeans.perMetric.LS).toBeCloseTo(-0.1, 12);
    expect(main.onSeedMeans.meanOfRatios).toBeCloseTo(-0.0095238095, 9);
    expect(main.onSeedMeans.ratioOfMeans).toBeCloseTo(0, 12);
    expect(main.onSeedMeans.modulesRatio).toBe(0.5);
    expect(main.acrossSeeds.meanOfRatios.mean).toBeCloseTo(0.0481481481, 9);
    expect(main.acrossSeeds.meanOfRatios.std).toBeCloseTo(0.3131546641, 9);
    expect(main.wins).toEqual({ meanOfRatios: 1, ratioOfMeans: 1, of: 3 }); // a gain of exactly 0 is no win
    expect(ref.seeds).toEqual([1, 2]);

    expect(check(s, 'gain-mean-of-ratios')).toMatchObject({ status: 'missed' });
    expect(check(s, 'gain-ratio-of-means')).toMatchObject({ status: 'missed' });
    expect(check(s, 'modules-ratio')).toMatchObject({ status: 'met', value: 0.5 });
    // hiedit (0.4, 0.4) vs hiedit-reference (0.3, 0.5) on seeds 1 and 2: 0.4 vs 0.4 -> met (>=).
    const hr = check(s, 'hiedit-vs-reference');
    expect(hr.status).toBe('met');
    expect(hr.value as number).toBeCloseTo(0, 12);
    expect(check(s, 'pre-within-5')).toMatchObject({ status: 'not applicable', value: null });
    expect(s.notes.join('\n')).toMatch(/seed 0 .* has no hiedit-reference, ft/);

    const text = formatSummary(s);
    expect(text).toMatch(/hiedit\s+ES\s+50\.0\s+10\.0\s+40\.0\s+60\.0\s+3\s+60\.0\s+40\.0\s+50\.0/);
    expect(text).toMatch(/^0\s+50\.0\s+40\.0\s+\+20\.0%\s+\+0\.0%\s+\+100\.0%\s+\+40\.0%\s+\+25\.0%\s+0\.50$/m);
    expect(text).toContain('[missed] hiedit vs rledit: relative gain over ES/GS/LS (ratio of the means)');
    // Seed 2's ratio of means is 0 up to rounding noise: shown without a minus sign.
    expect(text).toMatch(/^2\s+40\.0\s+40\.0\s+\+0\.0%\s+\+50\.0%\s+-66\.7%\s+-5\.6%\s+\+0\.0%\s+0\.50$/m);
    expect(formatSummary(s, true)).toContain('| hiedit | ES | 50.0 | 10.0 | 40.0 | 60.0 | 3 | 60.0 | 40.0 | 50.0 |');
  });
});

describe('aggregate: targets flip between met and missed', () => {
  function agg(seeds: Record<string, Metrics>[], over: Partial<ResultsFile> = {}): AggregateSummary {
    return aggregateDirs(seeds.map((eds, i) => runDir(results(i, eds, over))));
  }
  const base = { ES: 0.5, GS: 0.5, LS: 0.5 };

  test('the +8.48% gain: exactly at the target is met, just below is missed', () => {
    const at = agg([{ hiedit: { ES: 0.5424, GS: 0.5424, LS: 0.5424, layers_per_edit: 2 }, rledit: base }, { hiedit: { ES: 0.5424, GS: 0.5424, LS: 0.5424, layers_per_edit: 2 }, rledit: base }]);
    expect(check(at, 'gain-mean-of-ratios')).toMatchObject({ status: 'met' });
    expect(check(at, 'gain-ratio-of-means')).toMatchObject({ status: 'met' });
    expect(check(at, 'gain-ratio-of-means').value as number).toBeCloseTo(0.0848, 12);
    expect(at.comparisons[0].wins).toEqual({ meanOfRatios: 2, ratioOfMeans: 2, of: 2 });
    const below = agg([{ hiedit: { ES: 0.542, GS: 0.542, LS: 0.542 }, rledit: base }]);
    expect(check(below, 'gain-mean-of-ratios')).toMatchObject({ status: 'missed' });
    // The two definitions disagree when one metric of the baseline is small (LS 0.1 here): rel. -0.2, -0.2,
    // +1 -> mean of ratios +20% (met); means 1.0/3 vs 1.1/3 -> ratio of means -9.1% (missed).
    const split = agg([{ hiedit: { ES: 0.4, GS: 0.4, LS: 0.2 }, rledit: { ES: 0.5, GS: 0.5, LS: 0.1 } }]);
    expect(check(split, 'gain-mean-of-ratios').value as number).toBeCloseTo(0.2, 12);
    expect(check(split, 'gain-ratio-of-means').value as number).toBeCloseTo(1 / 1.1 - 1, 12);
    expect(check(split, 'gain-mean-of-ratios').status).toBe('met');
    expect(check(split, 'gain-ratio-of-means').status).toBe('missed');
  });

  test('a tie computed with rounding noise is neither a win nor shown as negative', () => {
    // Means (0.3+0.2+0.1)/3 = 0.2 vs (0.1+0.2+0.3)/3 = 0.2000000000000000(1): a ratio of means of about -1e-16.
    const tie = agg([{ hiedit: { ES: 0.3, GS: 0.2, LS: 0.1 }, rledit: { ES: 0.1, GS: 0.2, LS: 0.3 } }]);
    const g = tie.comparisons[0].perSeed[0].ratioOfMeans as number;
    expect(Math.abs(g)).toBeLessThan(1e-12);
    expect(tie.comparisons[0].wins.ratioOfMeans).toBe(0);
    expect(formatSummary(tie)).toMatch(/^seed-means\s+20\.0\s+20\.0\s+\+200\.0%\s+\+0\.0%\s+-66\.7%\s+\+44\.4%\s+\+0\.0%\s+1\.00$/m);
    expect(check(tie, 'gain-ratio-of-means').detail).toMatch(/^\+0\.00% on the means/);
  });

  test('modules ratio, hiedit vs hiedit-reference, and undefined / not applicable cases', () => {
    const more = agg([{ hiedit: { layers_per_edit: 3 }, rledit: { layers_per_edit: 4 } }]);
    expect(check(more, 'modules-ratio')).toMatchObject({ status: 'missed', value: 0.75 });
    const worse = agg([{ hiedit: { ES: 0.4 }, 'hiedit-reference': { ES: 0.5 }, rledit: base }]);
    expect(check(worse, 'hiedit-vs-reference')).toMatchObject({ status: 'missed' });
    expect(check(worse, 'hiedit-vs-reference').value as number).toBeCloseTo(-0.1 / 3, 12);
    expect(check(more, 'hiedit-vs-reference').status).toBe('not applicable');
    const zero = agg([{ hiedit: base, rledit: { ES: 0 } }]);
    expect(check(zero, 'gain-mean-of-ratios')).toMatchObject({ status: 'undefined', value: null });
    expect(check(zero, 'gain-mean-of-ratios').detail).toMatch(/baseline's ES is 0/);
    expect(check(zero, 'gain-ratio-of-means').status).toBe('met'); // 0.5 vs 1/3
    const alone = agg([{ hiedit: base, mend: base }]);
    expect(alone.comparisons).toEqual([]);
    expect(check(alone, 'gain-mean-of-ratios').status).toBe('not applicable');
    expect(alone.notes).toContain('rledit did not run in any of the seeds');
  });

  test('Pre_* within 5 points applies from 1000 edits, on the seed-means of every editor', () => {
    const long = { n_eval: 1000, num_pre: 100 };
    const ok = agg([{ hiedit: { Pre_ES: 0.54 }, rledit: { Pre_LS: 0.46 } }, { hiedit: { Pre_ES: 0.56 }, rledit: { Pre_LS: 0.44 } }], long);
    // hiedit Pre_ES seed-mean 0.55 vs ES 0.5 -> exactly 5 points: met.
    expect(check(ok, 'pre-within-5')).toMatchObject({ status: 'met' });
    expect(check(ok, 'pre-within-5').value as number).toBeCloseTo(0.05, 12);
    const bad = agg([{ hiedit: base, rledit: { Pre_GS: 0.57 } }], long);
    expect(check(bad, 'pre-within-5')).toMatchObject({ status: 'missed' });
    expect(check(bad, 'pre-within-5').detail).toMatch(/rledit Pre_GS vs GS.*over 5: rledit GS 7\.0/);
    const short = agg([{ hiedit: base, rledit: { Pre_GS: 0.9 } }], { n_eval: 999, num_pre: 100 });
    expect(check(short, 'pre-within-5').status).toBe('not applicable');
  });
});

describe('aggregate: refusals', () => {
  const eds = { hiedit: {}, rledit: {} };

  test('runs that differ in anything but the seed are refused, naming both directories and the field', () => {
    const a = runDir(results(0, eds));
    const b = runDir(results(1, eds, { n_eval: 30 }));
    expect(() => aggregateDirs([a, b])).toThrow(new RegExp(`cannot aggregate ${a} and ${b}: different n_eval \\(20 vs 30\\)`));
    expect(() => aggregateDirs([a, runDir(results(1, eds, { dataset: 'zsre' }))])).toThrow(/different dataset \("world" vs "zsre"\)/);
    expect(() => aggregateDirs([a, runDir(results(1, eds, { model: 'world-model:w2' }))])).toThrow(/different model \("world-model:w1" vs "world-model:w2"\)/);
    expect(() => aggregateDirs([a, runDir(results(1, eds, { n_train: 11 }))])).toThrow(/different n_train/);
    expect(() => aggregateDirs([a, runDir(results(1, eds, { num_pre: 4 }))])).toThrow(/different num_pre/);
    const twin = runDir(results(0, eds));
    expect(() => aggregateDirs([a, twin])).toThrow(new RegExp(`${a} and ${twin}: both are seed 0`));
    expect(() => aggregateDirs([a, a])).toThrow(/both are seed 0/);
    expect(() => checkSameExperiment([])).toThrow(/nothing to aggregate/);
  });

  test('runs of different pretrained models are aggregated only with acrossModels, and say so', () => {
    const a = runDir(results(0, eds));
    const b = runDir(results(1, eds, { model: 'world-model:w2' }));
    expect(() => aggregateDirs([a, b])).toThrow(/different model .*pass --across-models/);
    const s = aggregateDirs([a, b], { acrossModels: true });
    expect(s.model).toBeNull();
    expect(s.runs.map((r) => r.model)).toEqual(['world-model:w1', 'world-model:w2']);
    expect(s.notes.some((n) => /2 different pretrained models/.test(n))).toBe(true);
    // everything else is still checked
    expect(() => aggregateDirs([a, runDir(results(1, eds, { model: 'world-model:w2', n_eval: 30 }))], { acrossModels: true })).toThrow(/different n_eval/);
    expect(() => aggregateDirs([a, runDir(results(0, eds, { model: 'world-model:w2' }))], { acrossModels: true })).toThrow(/both are seed 0/);
  });

  test('runs on two model sizes or architectures are never seeds of one experiment; runs that do not say are not refused', () => {
    const deep = runDir(results(0, eds, { model: 'world-model:w1', model_size: 'deep', model_arch: 'llama' }));
    const small = runDir(results(1, eds, { model: 'world-model:w2', model_size: 'small', model_arch: 'llama' }));
    expect(() => aggregateDirs([deep, small], { acrossModels: true })).toThrow(/different model_size \("deep" vs "small"\)/);
    const gpt2 = runDir(results(1, eds, { model: 'world-model:w2', model_size: 'deep', model_arch: 'gpt2' }));
    expect(() => aggregateDirs([deep, gpt2], { acrossModels: true })).toThrow(/different model_arch \("llama" vs "gpt2"\)/);
    const unsaid = runDir(results(1, eds, { model: 'world-model:w2' }));
    expect(aggregateDirs([deep, unsaid], { acrossModels: true }).runs).toHaveLength(2);
  });

  test('per-seed facts models are accepted only with the same data file', () => {
    const facts = (seed: number, model: string) => results(seed, eds, { dataset: 'counterfact', model });
    const a = runDir(facts(0, 'facts-model:facts-a'), { dataHash: 'h1', style: 'counterfact' });
    const b = runDir(facts(1, 'facts-model:facts-b'), { dataHash: 'h1', style: 'counterfact' });
    const s = aggregateDirs([a, b]);
    expect(s.model).toBeNull();
    expect(s.dataHash).toBe('h1');
    expect(s.runs.map((r) => r.model)).toEqual(['facts-model:facts-a', 'facts-model:facts-b']);
    const other = runDir(facts(2, 'facts-model:facts-c'), { dataHash: 'h2', style: 'counterfact' });
    expect(() => aggregateDirs([a, other])).toThrow(/different data file .*"h1" vs "h2"/);
    const noDetails = runDir(facts(2, 'facts-model:facts-c'));
    expect(() => aggregateDirs([a, noDetails])).toThrow(/different model .*only when both details.json name the same data file/);
    const zsreStyle = runDir(facts(2, 'facts-model:facts-c'), { dataHash: 'h1', style: 'zsre' });
    expect(() => aggregateDirs([a, zsreStyle])).toThrow(/different scoring style/);
  });

  test('missing and invalid inputs are named', () => {
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    expect(() => loadSeedRun(empty)).toThrow(new RegExp(`${empty}: no results.json`));
    const bad = runDir(results(0, eds));
    const raw = JSON.parse(fs.readFileSync(path.join(bad, 'results.json'), 'utf8'));
    raw.editors.hiedit.ES = 1.5;
    fs.writeFileSync(path.join(bad, 'results.json'), JSON.stringify(raw));
    expect(() => loadSeedRun(bad)).toThrow(/invalid .*results\.json:\n.*editors\.hiedit\.ES: must be a fraction/);
    const broken = runDir(results(0, eds));
    fs.writeFileSync(path.join(broken, 'details.json'), '{not json');
    expect(() => loadSeedRun(broken)).toThrow(/details\.json: not valid JSON/);
    expect(() => aggregateDirs([runDir(results(0, eds))], { candidate: 'x', baseline: 'x' })).toThrow(/both "x"/);
  });
});

describe('aggregate: provenance of the trained editors', () => {
  function withPolicy(seed: number, version: number, initEta: number): string {
    const dir = runDir(results(seed, { hiedit: {}, rledit: {} }));
    const p = path.join(dir, 'editors', 'hiedit', 'trained', 'policy');
    fs.mkdirSync(p, { recursive: true });
    // The seed differs by design and must not count as a difference.
    fs.writeFileSync(path.join(p, 'policy.json'), JSON.stringify({ format: 'hiedit-policy', version, config: { low: { initEta, rank: 64 }, high: { k: 2 }, seed } }));
    return dir;
  }

  test('an editor trained with other settings in another seed is a warning naming the seeds and keys', () => {
    const same = aggregateDirs([withPolicy(0, 2, 0.005), withPolicy(1, 2, 0.005), runDir(results(2, { hiedit: {}, rledit: {} }))]);
    expect(same.warnings).toEqual([]);
    const mixed = aggregateDirs([withPolicy(0, 2, 0.005), withPolicy(1, 1, 0.01), withPolicy(2, 2, 0.005)]);
    expect(mixed.warnings).toHaveLength(1);
    expect(mixed.warnings[0]).toMatch(/^hiedit was trained with different settings in different seeds/);
    expect(mixed.warnings[0]).toContain('seed 0 vs 1: (policy format version) 2 vs 1, low.initEta 0.005 vs 0.01');
    expect(mixed.warnings[0]).not.toContain('seed 0 vs 2');
    expect(formatSummary(mixed)).toMatch(/WARNING: hiedit was trained/);
    expect(renderSummaryHtml(mixed)).toContain('Warning:</b> hiedit was trained');
  });
});

describe('aggregate: output files', () => {
  test('summary.json round-trips with its version; summary.html is self-contained and escaped', () => {
    const s = aggregateDirs([0, 1].map((seed) => runDir(results(seed, { hiedit: {}, '<rledit>': {} }))), { baseline: '<rledit>' });
    const out = path.join(root, 'out');
    const written = writeSummary(out, s);
    expect(readSummary(written.json)).toEqual(JSON.parse(JSON.stringify(s)));
    expect(fs.readdirSync(out).sort()).toEqual(['summary.html', 'summary.json']); // no temp files left
    const html = fs.readFileSync(written.html as string, 'utf8');
    expect(html).toBe(renderSummaryHtml(s));
    expect(html).toContain('<style>');
    expect(html).toContain('border-collapse:collapse'); // report.html's table styling
    expect(html).not.toMatch(/https?:|\/\/[a-z]|<script|<link|src=/i);
    expect(html).not.toContain('<rledit>');
    expect(html).toContain('hiedit vs &lt;rledit&gt;');
    fs.writeFileSync(path.join(out, 'v0.json'), JSON.stringify({ ...s, version: 0 }));
    expect(() => readSummary(path.join(out, 'v0.json'))).toThrow(/"version" is 0, this code reads version 1/);
    expect(writeSummary(path.join(root, 'json-only'), s, { html: false }).html).toBeUndefined();
  });
});
