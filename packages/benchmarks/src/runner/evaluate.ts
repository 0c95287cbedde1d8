/**
 * An editor's evaluation: the stream of evaluation requests goes through an editor session (validate, tokenize,
 * propose, apply all-or-nothing, journal when asked), exactly as `hiedit edit` applies them, then the final model is
 * scored. The scoring of a final model is its own function, so `hiedit-bench eval` scores a model edited elsewhere the
 * same way.
 */
import * as fs from 'fs';
import { currentWeightsDigest, type TokenizedTuple } from '@hiedit/tensor-core';
import { EditJournal, journalHeaderFor, LifelongEditor } from '@hiedit/editor';
import {
  byStreamPosition, measureCases, measureRetention, runEvalStream, summarize, type CurvePoint, type EvalCase, type EvalModel,
  type LocalityBaseline, type MeasureOptions, type PositionBucket, type RetentionBaseline, type RetentionResult,
} from '../eval';
import type { ProgressFactory } from '../progress';
import type { EditorResult } from '../report';
import type { BenchEditor, BenchModel, TextRequest } from './types';

/** One editor's saved result (editors/NAME/result.json). */
export interface EditorRecord {
  key: string;
  metrics: EditorResult;
  curve: CurvePoint[];
  modulesPerEdit: string[][];
  msPerEdit: number[];
  /** Absent in results written before it was recorded. */
  movedOnEdits?: number;
  /** Final-model metrics by position in the stream; absent in results written before it was recorded. */
  byPosition?: PositionBucket[];
  /** SHA-256 of the edit modules' weights after the stream; absent in results written before it was recorded. */
  finalWeightsDigest?: string;
  /** The stream's journal, when the run wrote one. */
  journal?: string;
  /** The editor's edit-time options (editTimeOptions); absent for results written before they were recorded. */
  options?: string;
  retention: RetentionResult;
  train: { seconds: number; epochs?: number; steps?: number } | null;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function clampFraction(v: number | null): number | null {
  return v === null ? null : Math.min(1, Math.max(0, v));
}

/** What scoring a final model needs. */
export interface FinalModelInputs {
  model: EvalModel;
  cases: readonly EvalCase[];
  locality: LocalityBaseline;
  facts: readonly TokenizedTuple[];
  retentionBase: RetentionBaseline;
  measure: MeasureOptions;
  numPre: number;
  /** Modules each edit shifted (stream order); without it every edit counts as applied. */
  modulesPerEdit?: readonly (readonly string[])[];
  /** ms of each edit (stream order), for ms_per_edit; 0 without it. */
  msPerEdit?: readonly number[];
  progress: ProgressFactory;
  label: string;
}

/** Scores a final (edited) model on the requests it was edited with: results.json's metrics, by position, retention. */
export function scoreFinalModel(inp: FinalModelInputs): { metrics: EditorResult; byPosition: PositionBucket[]; retention: RetentionResult } {
  const { model, cases, locality, measure, numPre } = inp;
  const bar = inp.progress(`${inp.label} measuring`, 2);
  const scores = measureCases(model, cases, locality, measure);
  bar.tick();
  const retention = measureRetention(model, inp.facts, inp.retentionBase, measure);
  bar.finish();
  const all = summarize(scores);
  const pre = summarize(scores.slice(0, numPre));
  const applied = inp.modulesPerEdit ? inp.modulesPerEdit.map((m) => m.length > 0) : cases.map(() => true);
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
    ...appliedEditStats(inp.modulesPerEdit),
    ms_per_edit: mean(inp.msPerEdit ?? []),
    train_seconds: 0,
  };
  return { metrics, byPosition: byStreamPosition(scores, applied), retention };
}

/**
 * The applied share (edits that shifted at least one module) and modules per edit over all edits and over the applied
 * ones. Without the modules of each edit nothing is known: layers_per_edit 0 (as before), the others null.
 */
export function appliedEditStats(modulesPerEdit: readonly (readonly string[])[] | undefined):
  Pick<EditorResult, 'applied_share' | 'layers_per_edit' | 'modules_per_applied_edit'> {
  if (!modulesPerEdit) return { applied_share: null, layers_per_edit: 0, modules_per_applied_edit: null };
  const applied = modulesPerEdit.filter((m) => m.length > 0);
  return {
    applied_share: modulesPerEdit.length ? applied.length / modulesPerEdit.length : null,
    layers_per_edit: mean(modulesPerEdit.map((m) => m.length)),
    modules_per_applied_edit: applied.length ? mean(applied.map((m) => m.length)) : null,
  };
}

/** What an editor's evaluation needs. */
export interface EvaluationInputs extends Omit<FinalModelInputs, 'model' | 'modulesPerEdit' | 'msPerEdit' | 'label'> {
  name: string;
  editor: BenchEditor;
  model: BenchModel;
  /** The evaluation requests as text, in stream order (what the session validates, tokenizes and journals). */
  requests: readonly TextRequest[];
  tokenize(prompt: string, answer: string): TokenizedTuple;
  /** Write the stream's journal here (replaced if it exists), so `hiedit export` can rebuild the final model. */
  journalFile?: string;
}

/** Runs the evaluation stream through an editor session and scores the final model. */
export async function evaluateEditor(inp: EvaluationInputs): Promise<Omit<EditorRecord, 'key' | 'train'>> {
  const { name, model, requests } = inp;
  if (requests.length !== inp.cases.length) throw new Error(`evaluateEditor: ${requests.length} requests but ${inp.cases.length} cases`);
  let journal: EditJournal | undefined;
  if (inp.journalFile) {
    // The stream always starts from the base model, so an earlier (interrupted) stream's journal is stale.
    fs.rmSync(inp.journalFile, { force: true });
    journal = EditJournal.create(inp.journalFile, journalHeaderFor(model));
  }
  const session = new LifelongEditor({ model, editor: inp.editor, tokenize: inp.tokenize, journal });
  const bar = inp.progress(`${name} editing`, requests.length);
  const stream = await runEvalStream(
    model,
    inp.cases,
    (_case, i) => {
      const r = requests[i];
      const report = session.edit({ id: r.id, prompt: r.prompt, target: r.target, paraphrases: r.paraphrases, locality: r.locality });
      const modules = report.selected.map((s) => s.module);
      return { modules, movedOn: (report.tries ?? 1) > 1 && modules.length > 0 };
    },
    { measure: inp.measure, baseline: inp.locality, progress: bar },
  );
  bar.finish();
  const finalWeightsDigest = currentWeightsDigest(model, inp.editor.modules);
  const scored = scoreFinalModel({ ...inp, model, modulesPerEdit: stream.modulesPerEdit, msPerEdit: stream.msPerEdit, label: name });
  return {
    metrics: scored.metrics, curve: stream.curve, modulesPerEdit: stream.modulesPerEdit, msPerEdit: stream.msPerEdit,
    movedOnEdits: stream.movedOnEdits, byPosition: scored.byPosition, retention: scored.retention, finalWeightsDigest,
    ...(inp.journalFile ? { journal: inp.journalFile } : {}),
  };
}
