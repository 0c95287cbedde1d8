/**
 * `hiedit-bench oracle-gap`'s work: the run's data, model and HiEdit editor readied exactly as `run` readies them (the
 * same cache keys, so an earlier run's trained editor is reused), then every k-set judged on every evaluation request
 * (oracleGap.ts). Writes DIR/oracle-gap.json.
 */
import * as path from 'path';
import { PolicyEditor } from '@hiedit/editor';
import { editTimeOptions } from './editTimeOptions';
import { countSets, DEFAULT_MAX_SETS, judgeOracleGap, type EditSetScores, type OracleGapSummary } from './oracleGap';
import { checkOptions } from './plan';
import { prepareRun, runMeasure, runSettings, type RunIO } from './run';
import { checkRunMachinery, runEditorSettings } from './runMachinery';
import { claimRunDir, RunDir, settingsKey, writeJsonAtomic } from './state';
import { editorKey, readyEditor } from './trainedEditor';
import type { RunnerDeps, RunOptions } from './types';

/** The editor whose low level and gate are judged. */
const JUDGED_EDITOR = 'hiedit';

/** A run's options plus the set size and the bound on the sets. */
export interface OracleGapOptions extends RunOptions {
  /** Set size (default: the editor's k). */
  k?: number;
  /** Refuse more sets than this (default DEFAULT_MAX_SETS). */
  maxSets?: number;
}

/** What the command prints (the file adds the sets and every edit's scores). */
export interface OracleGapReport extends OracleGapSummary {
  editor: string;
  dataset: string;
  data: string;
  model: string;
  seed: number;
  k: number;
  candidates: string[];
  /** The editor's edit-time options (what each set is judged with). */
  options: string;
  machinery: string;
  /** Whether the trained editor came from an earlier run. */
  trainedEarlier: boolean;
}

/** The report and where its file is. */
export interface OracleGapOutcome {
  report: OracleGapReport;
  file: string;
  /** The file's extra content: the sets (in score order) and each edit's scores. */
  sets: string[][];
  edits: EditSetScores[];
}

/** Where the gap's file goes. */
export function oracleGapFile(out: string): string {
  return path.join(out, 'oracle-gap.json');
}

/** Readies the run's HiEdit editor and judges every k-set on every evaluation request; see the module comment. */
export async function runOracleGap(opts: OracleGapOptions, deps: RunnerDeps, io: RunIO): Promise<OracleGapOutcome> {
  const scope = { ...opts, editors: [JUDGED_EDITOR] };
  checkOptions(scope);
  checkRunMachinery(scope);
  const maxSets = opts.maxSets ?? DEFAULT_MAX_SETS;
  if (!Number.isInteger(maxSets) || maxSets < 1) throw new Error(`oracle-gap: --max-sets must be a positive integer, got ${maxSets}`);
  if (opts.k !== undefined && !(Number.isInteger(opts.k) && opts.k >= 1)) throw new Error(`oracle-gap: --k must be a positive integer, got ${opts.k}`);
  const factory = deps.editorFactory(JUDGED_EDITOR);
  const ctx = await prepareRun(opts, deps, io);
  const model = ctx.mb.model;
  try {
    const modules = opts.modules ?? deps.defaultModules(model);
    const settings = runSettings(opts, ctx, modules);
    const runKey = settingsKey(settings);
    const run = new RunDir(opts.out);
    if (claimRunDir(run, settings, opts.fresh ? 'fresh' : opts.overwrite ? 'overwrite' : 'resume')) io.log(`using the run in ${opts.out}`);
    const id = { name: JUDGED_EDITOR, factory, model, modules, given: runEditorSettings(opts, JUDGED_EDITOR), seed: opts.seed, runKey };
    const resolved = editorKey(id);
    const k = opts.k ?? (resolved.settings as { policy?: { high?: { k: number } | null } }).policy?.high?.k ?? modules.length;
    if (k > modules.length) throw new Error(`oracle-gap: --k ${k} exceeds the ${modules.length} candidate modules (${modules.join(', ')})`);
    const count = countSets(modules.length, k, maxSets);
    if (count > maxSets) {
      throw new Error(`oracle-gap: ${modules.length} candidate modules give ${count > Number.MAX_SAFE_INTEGER ? 'more than 2^53' : count} sets of ${k}, ` +
        `more than --max-sets ${maxSets} (each is calibrated and measured on every edit); raise --max-sets or lower --k`);
    }
    const tokenize = ctx.mb.tokenize.bind(ctx.mb);
    const ready = await readyEditor({ ...id, resolved, run, train: ctx.splits.train, validation: ctx.splits.validation, tokenize, progress: ctx.progress, log: io.log });
    try {
      if (!(ready.editor instanceof PolicyEditor)) throw new Error(`oracle-gap: ${JUDGED_EDITOR} is not a policy editor`);
      const requests = ctx.splits.evaluation;
      const bar = ctx.progress(`oracle gap: ${count} sets x ${requests.length} edits`, requests.length);
      const judged = judgeOracleGap({ editor: ready.editor, model, requests, tokenize, k, measure: runMeasure(ctx), onEdit: (n) => bar.set(n) });
      bar.finish();
      const report: OracleGapReport = {
        editor: JUDGED_EDITOR, dataset: opts.dataset, data: ctx.data.label, model: ctx.mb.name, seed: opts.seed, k, candidates: [...modules],
        options: editTimeOptions(ready.editor.settings()), machinery: opts.machinery ?? 'default', trainedEarlier: ready.loaded, ...judged.summary,
      };
      const file = oracleGapFile(opts.out);
      writeJsonAtomic(file, { ...report, setModules: judged.sets, perEdit: judged.edits });
      return { report, file, sets: judged.sets, edits: judged.edits };
    } finally {
      ready.editor.dispose();
    }
  } finally {
    model.dispose();
  }
}
