/**
 * The unedited model's side of a run: the predictions LS compares against, the held-out facts' predictions retention
 * compares against, and the notes that say where every editor starts from. Saved under the run's key and reused.
 */
import type { TokenizedTuple } from '@hiedit/tensor-core';
import {
  baselineFromJSON, baselineToJSON, measureCases, measureRetention, recordLocalityBaseline, recordRetentionBaseline, summarize,
  teacherForcedStats, tokenAccuracy, type EvalCase, type LocalityBaseline, type MeasureOptions, type RetentionBaseline,
} from '../eval';
import type { ProgressFactory } from '../progress';
import { readJsonIfExists, writeJsonAtomic } from './state';
import type { BenchModel, TextRequest } from './types';

/** What the unedited model gives every editor to be compared with. */
export interface UneditedBaseline {
  locality: LocalityBaseline;
  retention: RetentionBaseline;
  /** Notes for the report (the editors' starting point). */
  notes: string[];
  /** Whether it was read from an earlier run of the same settings. */
  reused: boolean;
}

/** What the baseline is recorded on. */
export interface BaselineInputs {
  model: BenchModel;
  evalCases: readonly EvalCase[];
  /** The evaluation requests as text (their old answers, where the dataset has them). */
  evalRequests: readonly TextRequest[];
  facts: readonly TokenizedTuple[];
  tokenize(prompt: string, answer: string): TokenizedTuple;
  measure: MeasureOptions;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Reads the baseline saved in `file` under `key`, or records it on the unedited model and saves it there. */
export function uneditedBaseline(file: string, key: string, inp: BaselineInputs, progress: ProgressFactory): UneditedBaseline {
  const saved = readJsonIfExists<{ key: string; locality: unknown; retention: number[][]; notes: string[] }>(file);
  if (saved && saved.key === key) {
    return { locality: baselineFromJSON(saved.locality, file), retention: saved.retention.map((r) => Int32Array.from(r)),
      notes: [...saved.notes], reused: true };
  }
  const { model, evalCases, facts, measure } = inp;
  const bar = progress('baseline (unedited model)', 3);
  const locality = recordLocalityBaseline(model, evalCases, measure);
  bar.tick();
  const retention = recordRetentionBaseline(model, facts, measure);
  bar.tick();
  // How well the unedited model knows the facts the edits overwrite (the edits' premise).
  const oldTuples = inp.evalRequests.filter((r) => r.oldTarget !== undefined).map((r) => inp.tokenize(r.prompt, r.oldTarget!));
  const oldAcc = oldTuples.length ? mean(teacherForcedStats(model, oldTuples, undefined, measure).map(tokenAccuracy)) : NaN;
  const pre = summarize(measureCases(model, evalCases, locality, { ...measure, wild: false }));
  bar.finish();
  const notes = [
    ...(Number.isFinite(oldAcc) ? [`Before editing, the model predicts ${(100 * oldAcc).toFixed(1)}% of the old answers' tokens on the evaluation prompts (teacher forcing).`] : []),
    `Before editing: ES ${(100 * pre.ES).toFixed(1)}%, GS ${pre.GS === null ? '-' : (100 * pre.GS).toFixed(1) + '%'} (the floor every editor starts from).`,
    `Retention set: ${facts.length} held-out facts; unedited token accuracy ${(100 * (measureRetention(model, facts, retention, measure).before)).toFixed(1)}%.`,
  ];
  writeJsonAtomic(file, { key, locality: baselineToJSON(locality), retention: retention.map((r) => Array.from(r)), notes });
  return { locality, retention, notes, reused: false };
}
