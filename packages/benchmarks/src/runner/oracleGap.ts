/**
 * The oracle gap (issue 13, deliverable 2): how much a per-edit choice of modules could gain over the best single fixed
 * choice. For each evaluation request, from the BASE model each time (a per-edit judgement, not the lifelong stream),
 * every module set of size k gets HiEdit's trained low-level shift at the run's edit-time options and is scored with
 * the benchmark's own metrics on that edit's paraphrase and locality prompts. score[edit][set] = mean(ES, GS, LS).
 * The oracle (best set per edit) looks at evaluation prompts: an upper bound, never an editor. Where it is close to the
 * best fixed set, no policy choosing modules can beat a fixed choice.
 */
import { addShifts, disposeShifts, WeightSnapshot, type ParameterShift, type TokenizedEditRequest, type TokenizedTuple } from '@hiedit/tensor-core';
import { meritScale, PolicyEditor, tokenizeRequest } from '@hiedit/editor';
import { measureCases, recordLocalityBaseline, type CaseScores, type EvalCase, type LocalityBaseline, type MeasureOptions } from '../eval';
import { subsetsOfSize } from './oracle';
import { toEvalCase } from './cases';
import type { BenchModel, TextRequest } from './types';

/** Sets scored per edit before the command refuses (C(M, k) grows fast; --max-sets raises it). */
export const DEFAULT_MAX_SETS = 5000;

/** C(n, k), exact for the sizes that matter here (stops growing past `cap`, which is all the check needs). */
export function countSets(n: number, k: number, cap = Number.MAX_SAFE_INTEGER): number {
  if (k < 0 || k > n) return 0;
  let c = 1;
  for (let i = 1; i <= Math.min(k, n - k); i++) {
    c = (c * (n - i + 1)) / i;
    if (c > cap) return c;
  }
  return Math.round(c);
}

/** The summary mean of one case as the run's headline takes it: the mean of ES, GS and LS, those the case has. */
export function caseMean(s: Pick<CaseScores, 'ES' | 'GS' | 'LS'>): number {
  const parts = [s.ES, s.GS, s.LS].filter((v): v is number => typeof v === 'number');
  return parts.length ? parts.reduce((a, b) => a + b, 0) / parts.length : 0;
}

/** One edit's scores: every set's, the set HiEdit picks first (its gate, with the gate's prior when it has one), and HiEdit's own edit (with its miss rule). */
export interface EditSetScores {
  id: string;
  /** mean(ES, GS, LS) per set, in the order of the sets. */
  scores: number[];
  /** Index of the gate's first choice among the sets (-1 when the gate picks another number of modules than k). */
  gate: number;
  /** mean(ES, GS, LS) of what HiEdit's editor proposes for the edit (the gate's choice, calibrated, with fallback or skip). */
  hiedit: number;
  /** Modules HiEdit's editor shifted (empty: skipped). */
  hieditModules: string[];
}

/** What scoring an edit's sets needs. */
export interface SetScoringInputs {
  editor: PolicyEditor;
  model: BenchModel;
  /** Holds the edit modules' base weights; restored after each scoring. */
  snapshot: WeightSnapshot;
  sets: readonly (readonly number[])[];
  baseline: LocalityBaseline;
  measure: MeasureOptions;
}

function scoreApplied(inp: SetScoringInputs, evalCase: EvalCase, shifts: ReadonlyMap<string, ParameterShift>, scale: number): number {
  try {
    if (scale > 0) addShifts(inp.model, shifts, [...shifts.keys()], scale);
    return caseMean(measureCases(inp.model, [evalCase], inp.baseline, { ...inp.measure, wild: false })[0]);
  } finally {
    inp.snapshot.restore();
  }
}

/**
 * Scores every set for one request on the base model: the low level's shifts of every candidate module (as HiEdit's
 * editor computes them), each set at its own calibrated strength (meritScale: 0 when it misses under a skip or
 * fallback rule, so a set that cannot hold is judged unapplied), measured with the run's metrics for this one case.
 */
export function scoreEditSets(inp: SetScoringInputs, request: TokenizedEditRequest, evalCase: EvalCase): EditSetScores {
  const { editor, model } = inp;
  const modules = editor.modules;
  const trace = model.trace(request.edit, modules, editor.settings().trainer.positions);
  // Normalizers stay frozen: each edit is judged from the same policy state, whatever the method does in a stream.
  let edit;
  try {
    edit = editor.policy.computeEdit(trace.features, { updateLowNormalizers: false });
  } finally {
    for (const f of trace.features.values()) {
      f.keys.dispose();
      f.valueGrads.dispose();
    }
  }
  let scores: number[];
  let gate: number;
  try {
    const calibration = editor.editCalibration;
    scores = inp.sets.map((set) => {
      const chosen = new Map(set.map((i) => [modules[i], edit.shifts.get(modules[i])!] as const));
      return scoreApplied(inp, evalCase, chosen, meritScale(model, request, chosen, calibration));
    });
    // The editor's own first choice: the gate's, with its prior when it has one.
    const first = editor.chooseModules(model, request, edit, calibration).mask;
    const picked = first.modules.flatMap((_, i) => (first.selected[i] ? [i] : []));
    gate = inp.sets.findIndex((s) => s.length === picked.length && s.every((i, j) => i === picked[j]));
  } finally {
    disposeShifts(edit.shifts);
  }
  const proposal = editor.propose(model, request);
  let hiedit: number;
  try {
    hiedit = scoreApplied(inp, evalCase, proposal.shifts, 1);
  } finally {
    disposeShifts(proposal.shifts.values());
  }
  return { id: request.id, scores, gate, hiedit, hieditModules: [...proposal.selected] };
}

/** The gap's summary, means in percent (as the run's tables print them) over the edits. */
export interface OracleGapSummary {
  edits: number;
  sets: number;
  /** Mean over edits of each edit's best set. */
  oracleMean: number;
  /** Max over sets of the mean over edits, and that set's modules. */
  bestFixedMean: number;
  bestFixedSet: string[];
  /** oracleMean - bestFixedMean, in points. */
  gapPoints: number;
  /** Mean over edits of the gate's first choice (null when the gate picks another number of modules than k). */
  gateMean: number | null;
  /** Mean over edits of what HiEdit's editor does (its choice with its miss rule). */
  hieditMean: number;
  /** Expected mean of a set drawn uniformly at random (the mean over sets and edits). */
  randomSetMean: number;
  /** Mean over edits of every set, by set (modules joined by "+"). */
  setMeans: Record<string, number>;
}

/** Summarizes per-edit set scores (fractions) into the gap's figures (percent). */
export function summarizeOracleGap(edits: readonly EditSetScores[], sets: readonly (readonly number[])[], modules: readonly string[]): OracleGapSummary {
  if (edits.length === 0) throw new Error('oracle gap: no edits to judge');
  if (sets.length === 0) throw new Error('oracle gap: no module sets to judge');
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const names = sets.map((s) => s.map((i) => modules[i]));
  const bySet = sets.map((_, j) => mean(edits.map((e) => e.scores[j])));
  let best = 0;
  bySet.forEach((v, j) => { if (v > bySet[best]) best = j; });
  const oracle = mean(edits.map((e) => Math.max(...e.scores)));
  const gateKnown = edits.every((e) => e.gate >= 0);
  return {
    edits: edits.length,
    sets: sets.length,
    oracleMean: 100 * oracle,
    bestFixedMean: 100 * bySet[best],
    bestFixedSet: names[best],
    gapPoints: 100 * (oracle - bySet[best]),
    gateMean: gateKnown ? 100 * mean(edits.map((e) => e.scores[e.gate])) : null,
    hieditMean: 100 * mean(edits.map((e) => e.hiedit)),
    randomSetMean: 100 * mean(bySet),
    setMeans: Object.fromEntries(names.map((n, j) => [n.join('+'), 100 * bySet[j]])),
  };
}

/** What judging a run's evaluation requests needs. */
export interface OracleGapInputs {
  editor: PolicyEditor;
  model: BenchModel;
  requests: readonly TextRequest[];
  tokenize(prompt: string, answer: string): TokenizedTuple;
  k: number;
  measure: MeasureOptions;
  /** Called after each edit (progress). */
  onEdit?(done: number): void;
}

/** Scores every k-set on every request (base model each time) and summarizes; the model's weights end as they began. */
export function judgeOracleGap(inp: OracleGapInputs): { summary: OracleGapSummary; sets: string[][]; edits: EditSetScores[] } {
  const { editor, model } = inp;
  const modules = editor.modules;
  if (!(inp.k >= 1 && inp.k <= modules.length)) throw new Error(`oracle gap: k must be in 1..${modules.length} (the candidate modules), got ${inp.k}`);
  const sets = subsetsOfSize(modules.length, inp.k);
  const cases = inp.requests.map((r) => toEvalCase(r, inp.tokenize));
  const baseline = recordLocalityBaseline(model, cases, inp.measure);
  const snapshot = new WeightSnapshot(model, modules);
  try {
    const edits = inp.requests.map((r, i) => {
      const request = tokenizeRequest(r, inp.tokenize, r.id, `request "${r.id}"`);
      const scored = scoreEditSets({ editor, model, snapshot, sets, baseline, measure: inp.measure }, request, cases[i]);
      inp.onEdit?.(i + 1);
      return scored;
    });
    return { summary: summarizeOracleGap(edits, sets, modules), sets: sets.map((s) => s.map((i) => modules[i])), edits };
  } finally {
    snapshot.restore();
    snapshot.dispose();
  }
}
