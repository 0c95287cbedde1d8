/**
 * One benchmark run (spec §4 evaluation protocol, §6 metrics): data -> splits -> model -> unedited
 * baseline -> for each editor: train on the train split (validation for early stopping), reset the model,
 * run the evaluation stream with the frozen editor, measure on the final model -> results.json,
 * details.json, report.html. Every phase's output is saved atomically under the run directory with the key
 * of its settings, so a rerun with the same settings skips what is done.
 *
 * This file only sequences the phases; each lives in its own module: plan.ts (options, split sizes), baseline.ts (the
 * unedited model), trainedEditor.ts (settings, training, the editor directory), evaluate.ts (the stream through an
 * editor session, the final model's scores), outputs.ts (results, details, report).
 */
import { WeightSnapshot, type TokenizedTuple } from '@hiedit/tensor-core';
import { splitRequests } from '../datasets';
import { progressFactory, type ProgressFactory } from '../progress';
import type { ResultsFile } from '../report';
import { retentionFacts, toEvalCase } from './cases';
import { uneditedBaseline } from './baseline';
import { evaluateEditor, type EditorRecord } from './evaluate';
import { writeRunOutputs } from './outputs';
import { writeSplitFiles } from './requestFiles';
import { checkOptions, defaultSizes, defaultStyle } from './plan';
import { claimRunDir, readJsonIfExists, RunDir, settingsKey, writeJsonAtomic } from './state';
import { editTimeOptions } from './editTimeOptions';
import { editorKey, readyEditor } from './trainedEditor';
import { checkRunMachinery, runEditorSettings, runMachineryLabel } from './runMachinery';
import type { DataBundle, ModelBundle, RunOptions, RunnerDeps, TextRequest } from './types';
import type { Splits } from '../datasets';
import type { RetentionSelection } from './cases';
import type { SplitPlan } from './plan';
import type { MeasureOptions, MetricStyle } from '../eval';

export { checkOptions, defaultSizes, defaultStyle, defaultValidationSize, type SplitPlan } from './plan';
export { prepareCheckpointDir } from './trainedEditor';
export { movedOnEditNotes, skippedEditNotes } from './outputs';

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

/** A run's data and splits, settled before any model work (what `hiedit-bench splits` writes). */
export interface RunSplits extends SplitPlan {
  data: DataBundle;
  splits: Splits<TextRequest>;
  retained: RetentionSelection;
}

/** Loads the run's data and splits it (seeded); picks the held-out facts of the retention metric. */
export async function planSplits(opts: RunOptions, deps: Pick<RunnerDeps, 'loadData'>, progress: ProgressFactory, io: RunIO): Promise<RunSplits> {
  const data = await deps.loadData(opts, progress);
  io.log(`data: ${data.label} (${data.requests.length} requests${data.skipped?.length ? `, ${data.skipped.length} invalid records skipped` : ''})`);
  const plan = defaultSizes(data.requests.length, opts);
  const splits = splitRequests(data.requests, { seed: opts.seed, sizes: { train: plan.nTrain, validation: plan.nVal, evaluation: plan.nEval } });
  const used = [...splits.train, ...splits.validation, ...splits.evaluation];
  const retained = retentionFacts(data.requests, used, opts.heldOut ?? DEFAULT_HELD_OUT, data.heldOutFacts);
  return { data, splits, retained, ...plan };
}

/** Held-out facts of the retention metric when --held-out is not given. */
const DEFAULT_HELD_OUT = 200;

/** Runs the benchmark; see the module comment. */
export async function runBenchmark(opts: RunOptions, deps: RunnerDeps, io: RunIO): Promise<RunOutcome> {
  checkOptions(opts);
  checkRunMachinery(opts);
  // Unknown editor names fail now, not after minutes of pretraining.
  for (const name of opts.editors) deps.editorFactory(name);
  const ctx = await prepareRun(opts, deps, io);
  try {
    return await runWithModel(opts, deps, io, ctx);
  } finally {
    // The run owns the model it obtained.
    ctx.mb.model.dispose();
  }
}

/**
 * The run's data, splits and model (pretrained or reused from the cache, taught every request the run uses); the
 * caller owns `mb.model` and disposes it. `hiedit-bench oracle-gap` prepares the same way, so it finds the run's
 * cached models and trained editors.
 */
export async function prepareRun(opts: RunOptions, deps: Pick<RunnerDeps, 'loadData' | 'obtainModel'>, io: RunIO): Promise<RunContext> {
  const progress = io.progress ?? progressFactory({ quiet: opts.quiet });
  const planned = await planSplits(opts, deps, progress, io);
  const used = [...planned.splits.train, ...planned.splits.validation, ...planned.splits.evaluation];
  const mb = await deps.obtainModel(opts, planned.data, progress, [...used.map((r) => r.id), ...planned.retained.requestIds]);
  return { ...planned, mb, progress, style: opts.style ?? defaultStyle(opts.dataset), wild: opts.wild ?? true, heldOut: opts.heldOut ?? DEFAULT_HELD_OUT };
}

/** What a run knows once its data and model are ready. */
export interface RunContext extends RunSplits {
  mb: ModelBundle;
  progress: ProgressFactory;
  style: MetricStyle;
  wild: boolean;
  heldOut: number;
}

/** The run's settings: what results depend on, and so the key its saved phases are kept under. */
export function runSettings(opts: RunOptions, ctx: RunContext, modules: readonly string[]): Record<string, unknown> {
  const { data, mb } = ctx;
  return {
    dataset: opts.dataset, data: data.label, dataHash: data.hash, skipInvalid: opts.skipInvalid === true, model: mb.name,
    modelHash: mb.hash, seed: opts.seed, nTrain: ctx.nTrain, nVal: ctx.nVal, nEval: ctx.nEval, numPre: ctx.numPre,
    style: ctx.style, wild: ctx.wild, heldOut: ctx.heldOut, modules,
  };
}

/** How the run scores a model: its metric style, generation metrics, decoding and vocabulary. */
export function runMeasure(ctx: Pick<RunContext, 'mb' | 'style' | 'wild'>): MeasureOptions & { vocabSize: number } {
  const model = ctx.mb.model;
  const decode = model.tokenizer ? (ids: number[]) => model.tokenizer!.decode(ids, { skipSpecialTokens: true }) : undefined;
  return { style: ctx.style, wild: ctx.wild, decode, vocabSize: model.config.vocabSize };
}

/** The part of a run after the model is ready (split out so the model is disposed whatever happens). */
async function runWithModel(opts: RunOptions, deps: RunnerDeps, io: RunIO, ctx: RunContext): Promise<RunOutcome> {
  const { data, splits, retained, mb, progress } = ctx;
  const run = new RunDir(opts.out);
  const model = mb.model;
  io.log(`model: ${mb.name} (${mb.dir})`);
  const modules = opts.modules ?? deps.defaultModules(model);
  const settings = runSettings(opts, ctx, modules);
  const runKey = settingsKey(settings);
  if (claimRunDir(run, settings, opts.fresh ? 'fresh' : opts.overwrite ? 'overwrite' : 'resume')) io.log(`resuming the run in ${opts.out}`);

  writeSplitFiles(run.requestsDir, splits, retained.facts);
  const tokenize = (p: string, a: string): TokenizedTuple => mb.tokenize(p, a);
  const evalCases = splits.evaluation.map((r) => toEvalCase(r, tokenize));
  const facts = retained.facts.map((f) => tokenize(f.prompt, f.answer));
  const measure = runMeasure(ctx);

  const skipped: string[] = [];
  const notes = [...(mb.notes ?? [])];
  if (data.skipped?.length) notes.push(`${data.skipped.length} invalid record(s) of ${data.label} skipped: ${data.skipped.map((k) => `#${k.index}`).join(', ')}.`);
  // Unedited predictions: LS compares with these; retention with the held-out facts' predictions.
  const base = uneditedBaseline(run.baselineJson, runKey, { model, evalCases, evalRequests: splits.evaluation, facts, tokenize, measure }, progress);
  if (base.reused) skipped.push('baseline');
  notes.push(...base.notes);

  // Every editor starts from the base weights: the snapshot grows with the modules editors touch.
  const snapshot = new WeightSnapshot(model);
  const records: Record<string, EditorRecord> = {};
  try {
    for (const name of opts.editors) {
      const id = { name, factory: deps.editorFactory(name), model, modules, given: runEditorSettings(opts, name), seed: opts.seed, runKey };
      const prev = readJsonIfExists<EditorRecord>(run.editorResultJson(name));
      const resolved = editorKey(id);
      if (prev && prev.key === resolved.key && (!opts.journal || prev.journal)) {
        records[name] = prev;
        skipped.push(`${name}:train`, `${name}:eval`);
        io.log(`${name}: finished earlier, reusing ${run.editorResultJson(name)}`);
        continue;
      }
      const ready = await readyEditor({ ...id, resolved, run, train: splits.train, validation: splits.validation, tokenize, progress, log: io.log });
      try {
        if (ready.loaded) skipped.push(`${name}:train`);
        snapshot.add(ready.editor.modules);
        snapshot.restore();
        const rec = await evaluateEditor({
          name, editor: ready.editor, model, requests: splits.evaluation, cases: evalCases, tokenize, locality: base.locality,
          facts, retentionBase: base.retention, measure, numPre: ctx.numPre, progress,
          ...(opts.journal ? { journalFile: run.streamJournal(name) } : {}),
        });
        rec.metrics.train_seconds = ready.train?.seconds ?? 0;
        records[name] = { key: ready.key, train: ready.train, ...rec, options: editTimeOptions(ready.editor.settings()) };
        writeJsonAtomic(run.editorResultJson(name), records[name]);
      } finally {
        ready.editor.dispose();
        snapshot.restore();
      }
    }
  } finally {
    snapshot.dispose();
  }

  // Recorded beside the run's settings but not in its key: each editor's key covers its resolved settings.
  const recorded = opts.machinery !== undefined ? { ...settings, machinery: opts.machinery } : settings;
  const { results, table } = writeRunOutputs({
    run, editors: opts.editors, records, modules, notes,
    // Neither is part of the resume key: the model's hash tells the sizes apart, each editor's key its settings.
    settings: mb.builtIn ? { ...recorded, modelSize: mb.builtIn.size, modelArch: mb.builtIn.arch } : recorded,
    results: {
      dataset: opts.dataset, model: mb.name,
      ...(mb.builtIn ? { model_size: mb.builtIn.size, model_arch: mb.builtIn.arch } : {}),
      seed: opts.seed, n_train: ctx.nTrain, n_eval: ctx.nEval, num_pre: ctx.numPre,
    },
    reportSettings: {
      editors: opts.editors.join(','), data_file: data.file, model_dir: mb.dir, n_val: ctx.nVal, metric_style: ctx.style,
      generation_metrics: ctx.wild, held_out_facts: facts.length, edit_modules: modules.join(', '),
      ...(mb.builtIn ? { model_size: mb.builtIn.size, model_arch: mb.builtIn.arch } : {}),
      editor_settings: JSON.stringify(opts.editorSettings ?? {}),
      edit_time_options: runMachineryLabel(opts.machinery),
    },
  });
  return { results, resultsPath: run.resultsJson, reportPath: run.reportHtml, table, skipped };
}
