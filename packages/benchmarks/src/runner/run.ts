/**
 * One benchmark run (spec §4 evaluation protocol, §6 metrics): data -> splits -> model -> unedited
 * baseline -> for each editor: train on the train split (validation for early stopping), reset the model,
 * run the evaluation stream with the frozen editor, measure on the final model -> results.json,
 * details.json, report.html. Every phase's output is saved atomically under the run directory with the key
 * of its settings, so a rerun with the same settings skips what is done.
 */
import * as fs from 'fs';
import { tf, type TokenizedTuple } from '@hiedit/tensor-core';
import { modelShapeInfo } from '@hiedit/editor';
import { POLICY_VERSION } from '@hiedit/rl-hierarchy';
import { splitRequests } from '../datasets';
import {
  baselineFromJSON,
  baselineToJSON,
  byStreamPosition,
  measureCases,
  measureRetention,
  moduleHeatmap,
  recordLocalityBaseline,
  recordRetentionBaseline,
  runEvalStream,
  summarize,
  teacherForcedStats,
  tokenAccuracy,
  type CurvePoint,
  type EvalCase,
  type LocalityBaseline,
  type MetricStyle,
  type PositionBucket,
  type RetentionBaseline,
  type RetentionResult,
} from '../eval';
import { progressFactory, type ProgressFactory } from '../progress';
import { formatTable, headline, renderReport, validateResults, type EditorResult, type HeatmapData, type ResultsFile } from '../report';
import { retentionFacts, toEvalCase } from './cases';
import { claimRunDir, readJsonIfExists, RunDir, settingsKey, writeDirAtomic, writeFileAtomic, writeJsonAtomic } from './state';
import type { Splits } from '../datasets';
import type { RetentionSelection } from './cases';
import type { BenchEditor, BenchEditorFactory, BenchModel, BenchProposal, DataBundle, ModelBundle, RunOptions, RunnerDeps, TextRequest } from './types';

/** What a finished run hands back. */
export interface RunOutcome {
  results: ResultsFile;
  resultsPath: string;
  reportPath: string;
  /** The text table printed at the end. */
  table: string;
  /** Phases skipped because their saved output matched the settings (e.g. `hiedit:eval`). */
  skipped: string[];
}

/** Where the runner reports what it does (lines, not progress bars). */
export interface RunIO {
  log(line: string): void;
  progress?: ProgressFactory;
}

/** One editor's saved result (editors/NAME/result.json). */
interface EditorRecord {
  key: string;
  metrics: EditorResult;
  curve: CurvePoint[];
  modulesPerEdit: string[][];
  msPerEdit: number[];
  /** Absent in results written before it was recorded. */
  movedOnEdits?: number;
  /** Final-model metrics by position in the stream; absent in results written before it was recorded. */
  byPosition?: PositionBucket[];
  retention: RetentionResult;
  train: { seconds: number; epochs?: number; steps?: number } | null;
}

/** The validation split's default size: a fifth of the training split, at least 5 when training at all. */
export function defaultValidationSize(nTrain: number): number {
  return nTrain > 0 ? Math.max(5, Math.round(nTrain / 5)) : 0;
}

/** Resolved split sizes of a run. */
export interface SplitPlan {
  nTrain: number;
  nVal: number;
  nEval: number;
  numPre: number;
}

/**
 * Split sizes for `n` records: explicit sizes are kept (and must fit); missing ones default to at most
 * 100 evaluation and 100 training requests, scaled down to 60% / 30% of a small dataset, with the
 * validation split taking max(5, train/5) of what is left.
 */
export function defaultSizes(n: number, o: Pick<RunOptions, 'nTrain' | 'nVal' | 'nEval' | 'numPre'>): SplitPlan {
  const nEval = o.nEval ?? Math.max(1, Math.min(100, Math.floor(0.6 * n)));
  const nTrain = o.nTrain ?? Math.max(0, Math.min(100, Math.floor(0.3 * n), n - nEval));
  const left = Math.max(0, n - nEval - nTrain);
  const nVal = o.nVal ?? Math.min(defaultValidationSize(nTrain), left);
  const numPre = o.numPre ?? Math.min(20, nEval);
  if (nTrain + nVal + nEval > n) {
    throw new Error(`run: the data holds ${n} requests, fewer than --train ${nTrain} + --val ${nVal} + --eval ${nEval} = ${nTrain + nVal + nEval}`);
  }
  if (numPre > nEval) throw new Error(`run: --num-pre (${numPre}) cannot exceed --eval (${nEval})`);
  return { nTrain, nVal, nEval, numPre };
}

/** The default scoring of a dataset: CounterFact-style when old answers exist, zsRE-style for zsRE. */
export function defaultStyle(dataset: string): MetricStyle {
  return dataset === 'zsre' ? 'zsre' : 'counterfact';
}

function checkOptions(o: RunOptions): void {
  const intField = (v: unknown, name: string, min: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`run: ${name} must be an integer >= ${min}, got ${String(v)}`);
  };
  if (!['world', 'counterfact', 'zsre'].includes(o.dataset)) throw new Error(`run: --dataset must be world, counterfact or zsre, got "${o.dataset}"`);
  if (o.dataset !== 'world' && !o.data) throw new Error(`run: --dataset ${o.dataset} needs --data FILE (a ${o.dataset} record file)`);
  if (o.nTrain !== undefined) intField(o.nTrain, '--train', 0);
  if (o.nEval !== undefined) intField(o.nEval, '--eval', 1);
  if (o.numPre !== undefined) intField(o.numPre, '--num-pre', 0);
  intField(o.seed, '--seed', 0);
  if (o.nVal !== undefined) intField(o.nVal, '--val', 0);
  if (o.heldOut !== undefined) intField(o.heldOut, '--held-out', 0);
  if (o.numPre !== undefined && o.nEval !== undefined && o.numPre > o.nEval) {
    throw new Error(`run: --num-pre (${o.numPre}) cannot exceed --eval (${o.nEval})`);
  }
  if (o.editors.length === 0) throw new Error('run: --editors lists no editor');
  const dup = o.editors.find((e, i) => o.editors.indexOf(e) !== i);
  if (dup) throw new Error(`run: editor "${dup}" is listed twice`);
  if (!o.out) throw new Error('run: --out DIR is required');
}

/** Restores the snapshot of every snapshotted module (the model's pre-edit weights). */
class WeightSnapshot {
  private readonly saved = new Map<string, tf.Tensor2D>();
  constructor(private readonly model: BenchModel) {}
  /** Copies the current weights of modules not yet saved; call before anything shifts them. */
  add(names: readonly string[]): void {
    for (const n of names) if (!this.saved.has(n)) this.saved.set(n, this.model.readWeight(n));
  }
  has(name: string): boolean {
    return this.saved.has(name);
  }
  restore(): void {
    for (const [n, w] of this.saved) this.model.writeWeight(n, w);
  }
  dispose(): void {
    for (const w of this.saved.values()) w.dispose();
    this.saved.clear();
  }
}

/** Applies a proposal to the weights and disposes it; returns the modules shifted. */
export function applyProposal(model: BenchModel, p: BenchProposal): string[] {
  const names: string[] = [];
  try {
    for (const [name, s] of p.shifts) {
      if (s.kind === 'dense') model.addShift(name, s.delta);
      else {
        const d = tf.tidy(() => tf.matMul(s.left, s.right) as tf.Tensor2D);
        try {
          model.addShift(name, d);
        } finally {
          d.dispose();
        }
      }
      names.push(name);
    }
  } finally {
    for (const s of p.shifts.values()) {
      if (s.kind === 'dense') s.delta.dispose();
      else {
        s.left.dispose();
        s.right.dispose();
      }
    }
  }
  return names;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function clampFraction(v: number | null): number | null {
  return v === null ? null : Math.min(1, Math.max(0, v));
}

/** Runs the benchmark; see the module comment. */
export async function runBenchmark(opts: RunOptions, deps: RunnerDeps, io: RunIO): Promise<RunOutcome> {
  checkOptions(opts);
  // Unknown editor names fail now, not after minutes of pretraining.
  for (const name of opts.editors) deps.editorFactory(name);
  const progress = io.progress ?? progressFactory({ quiet: opts.quiet });
  const skipped: string[] = [];
  const style = opts.style ?? defaultStyle(opts.dataset);
  const wild = opts.wild ?? true;
  const heldOut = opts.heldOut ?? 200;

  const data = await deps.loadData(opts, progress);
  io.log(`data: ${data.label} (${data.requests.length} requests${data.skipped?.length ? `, ${data.skipped.length} invalid records skipped` : ''})`);
  const { nTrain, nVal, nEval, numPre } = defaultSizes(data.requests.length, opts);
  const splits = splitRequests(data.requests, { seed: opts.seed, sizes: { train: nTrain, validation: nVal, evaluation: nEval } });
  const used = [...splits.train, ...splits.validation, ...splits.evaluation];
  const retained = retentionFacts(data.requests, used, heldOut, data.heldOutFacts);
  const mb = await deps.obtainModel(opts, data, progress, [...used.map((r) => r.id), ...retained.requestIds]);
  try {
    return await runWithModel(opts, deps, io, { data, splits, retained, mb, progress, skipped, style, wild, heldOut, nTrain, nVal, nEval, numPre });
  } finally {
    // The run owns the model it obtained.
    mb.model.dispose();
  }
}

/** The part of a run after the model is ready (split out so the model is disposed whatever happens). */
async function runWithModel(
  opts: RunOptions,
  deps: RunnerDeps,
  io: RunIO,
  ctx: {
    data: DataBundle;
    splits: Splits<TextRequest>;
    retained: RetentionSelection;
    mb: ModelBundle;
    progress: ProgressFactory;
    skipped: string[];
    style: MetricStyle;
    wild: boolean;
    heldOut: number;
  } & SplitPlan,
): Promise<RunOutcome> {
  const { data, splits, retained, mb, progress, skipped, style, wild, heldOut, nTrain, nVal, nEval, numPre } = ctx;
  const run = new RunDir(opts.out);
  const model = mb.model;
  io.log(`model: ${mb.name} (${mb.dir})`);
  const modules = opts.modules ?? deps.defaultModules(model);
  const settings = {
    dataset: opts.dataset,
    data: data.label,
    dataHash: data.hash,
    skipInvalid: opts.skipInvalid === true,
    model: mb.name,
    modelHash: mb.hash,
    seed: opts.seed,
    nTrain,
    nVal,
    nEval,
    numPre,
    style,
    wild,
    heldOut,
    modules,
  };
  const runKey = settingsKey(settings);
  if (claimRunDir(run, settings, opts.fresh ? 'fresh' : opts.overwrite ? 'overwrite' : 'resume')) io.log(`resuming the run in ${opts.out}`);

  const tokenize = (p: string, a: string): TokenizedTuple => mb.tokenize(p, a);
  const trainCases = splits.train.map((r) => toEvalCase(r, tokenize));
  const valCases = splits.validation.map((r) => toEvalCase(r, tokenize));
  const evalCases = splits.evaluation.map((r) => toEvalCase(r, tokenize));
  const facts = retained.facts.map((f) => tokenize(f.prompt, f.answer));
  const decodeFn = model.tokenizer ? (ids: number[]) => model.tokenizer!.decode(ids, { skipSpecialTokens: true }) : undefined;
  const measureOpts = { style, wild, decode: decodeFn, vocabSize: model.config.vocabSize };

  // Unedited predictions: LS compares with these; retention with the held-out facts' predictions.
  let locality: LocalityBaseline;
  let retentionBase: RetentionBaseline;
  const savedBase = readJsonIfExists<{ key: string; locality: unknown; retention: number[][]; notes: string[] }>(run.baselineJson);
  const notes = [...(mb.notes ?? [])];
  if (data.skipped?.length) notes.push(`${data.skipped.length} invalid record(s) of ${data.label} skipped: ${data.skipped.map((k) => `#${k.index}`).join(', ')}.`);
  if (savedBase && savedBase.key === runKey) {
    locality = baselineFromJSON(savedBase.locality, run.baselineJson);
    retentionBase = savedBase.retention.map((r) => Int32Array.from(r));
    notes.push(...savedBase.notes);
    skipped.push('baseline');
  } else {
    const bar = progress('baseline (unedited model)', 3);
    locality = recordLocalityBaseline(model, evalCases, measureOpts);
    bar.tick();
    retentionBase = recordRetentionBaseline(model, facts, measureOpts);
    bar.tick();
    // How well the unedited model knows the facts the edits overwrite (the edits' premise).
    const oldTuples = splits.evaluation.filter((r) => r.oldTarget !== undefined).map((r) => tokenize(r.prompt, r.oldTarget!));
    const oldAcc = oldTuples.length ? mean(teacherForcedStats(model, oldTuples, undefined, measureOpts).map(tokenAccuracy)) : NaN;
    const pre = summarize(measureCases(model, evalCases, locality, { ...measureOpts, wild: false }));
    bar.finish();
    const baseNotes = [
      ...(Number.isFinite(oldAcc) ? [`Before editing, the model predicts ${(100 * oldAcc).toFixed(1)}% of the old answers' tokens on the evaluation prompts (teacher forcing).`] : []),
      `Before editing: ES ${(100 * pre.ES).toFixed(1)}%, GS ${pre.GS === null ? '-' : (100 * pre.GS).toFixed(1) + '%'} (the floor every editor starts from).`,
      `Retention set: ${facts.length} held-out facts; unedited token accuracy ${(100 * (measureRetention(model, facts, retentionBase, measureOpts).before)).toFixed(1)}%.`,
    ];
    notes.push(...baseNotes);
    writeJsonAtomic(run.baselineJson, { key: runKey, locality: baselineToJSON(locality), retention: retentionBase.map((r) => Array.from(r)), notes: baseNotes });
  }

  const snapshot = new WeightSnapshot(model);
  const records: Record<string, EditorRecord> = {};
  try {
    for (const name of opts.editors) {
      const factory = deps.editorFactory(name);
      // Resolved once, with the run's seed as the policy's initialization seed unless the settings give one. The key
      // covers the resolved settings (defaults included), not only the command line's: a change of defaults must not
      // reuse editors trained under the old ones. The policy file format stands for the policies' code likewise.
      const resolved = factory.resolveSettings(modelShapeInfo(model, modules), opts.editorSettings?.[name] ?? {}, { seed: opts.seed });
      const key = settingsKey({ run: runKey, editor: name, settings: { ...resolved, policyFormat: POLICY_VERSION } });
      const prev = readJsonIfExists<EditorRecord>(run.editorResultJson(name));
      if (prev && prev.key === key) {
        records[name] = prev;
        skipped.push(`${name}:train`, `${name}:eval`);
        io.log(`${name}: finished earlier, reusing ${run.editorResultJson(name)}`);
        continue;
      }
      let editor: BenchEditor | undefined;
      let train: EditorRecord['train'] = null;
      try {
        const trainedMeta = readJsonIfExists<{ key: string; seconds: number; epochs?: number; steps?: number }>(run.trainMetaJson(name));
        if (factory.trainable && trainedMeta?.key === key && fs.existsSync(run.trainedDir(name))) {
          // Loaded with the settings it was created and trained with (the ones the key stands for).
          editor = factory.load(run.trainedDir(name), model, modules, resolved);
          train = { seconds: trainedMeta.seconds, epochs: trainedMeta.epochs, steps: trainedMeta.steps };
          skipped.push(`${name}:train`);
          io.log(`${name}: trained earlier, loading ${run.trainedDir(name)}`);
        } else {
          editor = factory.create(model, modules, resolved);
          snapshot.add(editor.modules);
          if (factory.trainable) {
            if (trainCases.length === 0) throw new Error(`editor ${name} needs training but --train is 0`);
            snapshot.restore();
            const ckpt = run.trainCheckpointDir(name);
            const resume = prepareCheckpointDir(ckpt, key);
            if (resume) io.log(`${name}: resuming training from ${ckpt}`);
            train = await trainEditor(editor, model, trainCases, valCases, opts.seed, ckpt, resume, progress, name);
            const ed = editor;
            await writeDirAtomic(run.trainedDir(name), (tmp) => ed.save(tmp));
            writeJsonAtomic(run.trainMetaJson(name), { key, ...train });
          }
        }
        snapshot.add(editor.modules);
        snapshot.restore();
        const rec = await evaluateEditor(editor, model, evalCases, locality, facts, retentionBase, measureOpts, numPre, progress, name, snapshot);
        rec.metrics.train_seconds = train?.seconds ?? 0;
        records[name] = { key, train, ...rec };
        writeJsonAtomic(run.editorResultJson(name), records[name]);
      } finally {
        editor?.dispose();
        snapshot.restore();
      }
    }
  } finally {
    snapshot.dispose();
  }

  const results: ResultsFile = {
    dataset: opts.dataset,
    model: mb.name,
    seed: opts.seed,
    n_train: nTrain,
    n_eval: nEval,
    num_pre: numPre,
    editors: Object.fromEntries(opts.editors.map((n) => [n, records[n].metrics])),
    curves: Object.fromEntries(opts.editors.map((n) => [n, records[n].curve])),
  };
  validateResults(results);
  const head = headline(results);
  if (head) notes.push(head);
  notes.push(...skippedEditNotes(Object.fromEntries(opts.editors.map((n) => [n, records[n].modulesPerEdit]))));
  notes.push(...movedOnEditNotes(Object.fromEntries(opts.editors.map((n) => [n, { moved: records[n].movedOnEdits, edits: records[n].modulesPerEdit.length }]))));
  const heatmaps: Record<string, HeatmapData> = {};
  for (const n of opts.editors) heatmaps[n] = moduleHeatmap(records[n].modulesPerEdit, modules);
  const reportSettings = {
    editors: opts.editors.join(','),
    data_file: data.file,
    model_dir: mb.dir,
    n_val: nVal,
    metric_style: style,
    generation_metrics: wild,
    held_out_facts: facts.length,
    edit_modules: modules.join(', '),
    editor_settings: JSON.stringify(opts.editorSettings ?? {}),
    ...Object.fromEntries(
      opts.editors.map((n) => [
        `retention ${n}`,
        `${(100 * records[n].retention.before).toFixed(1)}% -> ${(100 * records[n].retention.after).toFixed(1)}% held-out token accuracy`,
      ]),
    ),
  };
  writeJsonAtomic(run.resultsJson, results);
  writeJsonAtomic(run.detailsJson, {
    settings,
    notes,
    editors: Object.fromEntries(
      opts.editors.map((n) => [n, { train: records[n].train, retention: records[n].retention, modulesPerEdit: records[n].modulesPerEdit, msPerEdit: records[n].msPerEdit, movedOnEdits: records[n].movedOnEdits, byPosition: records[n].byPosition }]),
    ),
    heatmaps,
  });
  const byPosition: Record<string, PositionBucket[]> = {};
  for (const n of opts.editors) if (records[n].byPosition) byPosition[n] = records[n].byPosition!;
  writeFileAtomic(run.reportHtml, renderReport({ results, heatmaps, byPosition, settings: reportSettings, notes }));
  return { results, resultsPath: run.resultsJson, reportPath: run.reportHtml, table: head ? `${formatTable(results)}\n\n${head}` : formatTable(results), skipped };
}

/**
 * Readies the editor's training checkpoint directory: a checkpoint written under other settings is
 * discarded; returns whether a checkpoint of these settings is there to resume from.
 */
export function prepareCheckpointDir(dir: string, key: string): boolean {
  const keyFile = `${dir}.key`;
  const prevKey = fs.existsSync(keyFile) ? fs.readFileSync(keyFile, 'utf8').trim() : undefined;
  if (prevKey !== key) {
    fs.rmSync(dir, { recursive: true, force: true });
    writeFileAtomic(keyFile, `${key}\n`);
    return false;
  }
  return fs.existsSync(dir) && fs.readdirSync(dir).length > 0;
}

/**
 * Trains one editor with a progress bar per epoch. The editor's own settings were given at creation;
 * training options are not repeated here.
 */
async function trainEditor(
  editor: BenchEditor,
  model: BenchModel,
  train: readonly EvalCase[],
  validation: readonly EvalCase[],
  seed: number,
  checkpointDir: string,
  resume: boolean,
  progress: ProgressFactory,
  name: string,
): Promise<NonNullable<EditorRecord['train']>> {
  let bar: ReturnType<ProgressFactory> | undefined;
  let barKey = '';
  const t0 = Date.now();
  const res = await editor.train(model, train, {
    seed,
    validation,
    checkpointDir,
    resume,
    onProgress: (e) => {
      const k = `${e.phase}:${e.epoch}`;
      if (e.phase === 'train' || e.phase === 'validate') {
        if (k !== barKey) {
          bar?.finish();
          barKey = k;
          bar = progress(`${name} ${e.phase} epoch ${e.epoch + 1}`, Math.max(e.total, 0));
        }
        bar!.set(e.step, e.loss !== undefined ? `loss ${e.loss.toFixed(4)}` : e.message);
      }
    },
  });
  bar?.finish();
  if (!res.finished) throw new Error(`editor ${name}: training stopped before it finished`);
  // The editor reports its training seconds, earlier (resumed) sessions included; this session's time is the fallback.
  return { seconds: res.seconds > 0 ? res.seconds : (Date.now() - t0) / 1000, epochs: res.epochs, steps: res.steps };
}

/** Runs the evaluation stream and measures the final model. */
async function evaluateEditor(
  editor: BenchEditor,
  model: BenchModel,
  cases: readonly EvalCase[],
  locality: LocalityBaseline,
  facts: readonly TokenizedTuple[],
  retentionBase: RetentionBaseline,
  measure: { style: MetricStyle; wild: boolean; decode?: (ids: number[]) => string; vocabSize: number },
  numPre: number,
  progress: ProgressFactory,
  name: string,
  snapshot: WeightSnapshot,
): Promise<Omit<EditorRecord, 'key' | 'train'>> {
  const bar = progress(`${name} editing`, cases.length);
  const stream = await runEvalStream(
    model,
    cases,
    (req) => {
      const proposal = editor.propose(model, req);
      const movedOn = (proposal.tries ?? 1) > 1 && proposal.selected.length > 0;
      const shifted = applyProposal(model, proposal);
      const unknown = shifted.filter((m) => !snapshot.has(m));
      if (unknown.length > 0) throw new Error(`editor ${name} shifted ${unknown.join(', ')}, outside its modules; the model could not be reset`);
      return { modules: shifted, movedOn };
    },
    { measure, baseline: locality, progress: bar },
  );
  bar.finish();
  const evalBar = progress(`${name} measuring`, 2);
  const scores = measureCases(model, cases, locality, measure);
  evalBar.tick();
  const retention = measureRetention(model, facts, retentionBase, measure);
  evalBar.finish();
  const all = summarize(scores);
  const pre = summarize(scores.slice(0, numPre));
  const metrics: EditorResult = {
    ES: clampFraction(all.ES),
    GS: clampFraction(all.GS),
    LS: clampFraction(all.LS),
    LS_gold: clampFraction(all.LS_gold),
    Pre_ES: numPre > 0 ? clampFraction(pre.ES) : null,
    Pre_GS: numPre > 0 ? clampFraction(pre.GS) : null,
    Pre_LS: numPre > 0 ? clampFraction(pre.LS) : null,
    WILD_ES: clampFraction(all.WILD_ES),
    WILD_GS: clampFraction(all.WILD_GS),
    retention: clampFraction(retention.retention),
    layers_per_edit: mean(stream.modulesPerEdit.map((m) => m.length)),
    ms_per_edit: mean(stream.msPerEdit),
    train_seconds: 0,
  };
  const byPosition = byStreamPosition(scores, stream.modulesPerEdit.map((m) => m.length > 0));
  return { metrics, curve: stream.curve, modulesPerEdit: stream.modulesPerEdit, msPerEdit: stream.msPerEdit, movedOnEdits: stream.movedOnEdits, byPosition, retention };
}

/**
 * One note per editor that left edits unapplied (no module shifted: HiEdit's calibration skips an edit that does not
 * hold within its strength range), since the metrics still count those requests and layers_per_edit alone hides why.
 */
export function skippedEditNotes(modulesPerEdit: Readonly<Record<string, readonly (readonly string[])[]>>): string[] {
  const out: string[] = [];
  for (const [name, edits] of Object.entries(modulesPerEdit)) {
    const skipped = edits.filter((m) => m.length === 0).length;
    if (skipped > 0) {
      out.push(`${name} applied ${edits.length - skipped} of ${edits.length} edits (${(100 * (edits.length - skipped) / edits.length).toFixed(1)}%); ` +
        `the other ${skipped} shifted no module (no module set the editor tried made them hold on their prompt within its calibration range, so they were skipped), ` +
        'and the metrics count them as they are.');
    }
  }
  return out;
}

/**
 * One note per editor that moved edits past its gate's first choice (calibration's 'next' rule), with the count.
 * Editors whose results predate the count (undefined) or that moved none are left out.
 */
export function movedOnEditNotes(counts: Readonly<Record<string, { moved?: number; edits: number }>>): string[] {
  const out: string[] = [];
  for (const [name, { moved, edits }] of Object.entries(counts)) {
    if (moved !== undefined && moved > 0) {
      out.push(`${name} moved ${moved} of ${edits} edits (${(100 * moved / edits).toFixed(1)}%) to its gate's next-ranked modules: ` +
        "the gate's first choice could not make them hold within the calibration range.");
    }
  }
  return out;
}
