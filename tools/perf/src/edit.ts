/**
 * The edit workloads of issue 18: what a user pays for one HiEdit edit (trace, policy, calibration, apply, journal
 * append) and for one meta-training step, on the real code path (`LifelongEditor.editTokenized` over a `hiedit`
 * editor, rl-hierarchy's `PolicyTrainer`). The policy is untrained (seeded initial weights): its arithmetic per edit
 * is the trained one's, only the calibration's path (how many strengths and module sets it tries) depends on the
 * weights, so the number of calibration forwards is recorded next to every timing.
 *
 * Phases are timed by wrapping methods of the live objects (own properties shadowing the prototype's, removed
 * afterwards), never by re-implementing a phase: trace = the model's `trace`, policy = the policy's `computeEdit`,
 * calibration = the rest of the editor's `propose`, journal = the journal's `appendEdit`, apply = the rest of the edit.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { type TokenizedEditRequest, type TokenizedTuple } from '@hiedit/tensor-core';
import type { CausalLM } from '@hiedit/llm-loader';
import { EditJournal, journalHeaderFor, LifelongEditor, PolicyEditor } from '@hiedit/editor';
import { PolicyTrainer } from '@hiedit/rl-hierarchy';
import { timeForwardBackward } from './workloads';

/** Milliseconds of one edit by phase (medians over the repetitions, each phase on its own). */
export interface EditPhases {
  trace: number;
  policy: number;
  calibration: number;
  apply: number;
  journal: number;
}

/** What the edit workload measures on one model. */
export interface EditWorkloadResult {
  /** Candidate modules of the editor, and how many the gate selects per edit (k). */
  modules: string[];
  k: number;
  /** Tokens of the edit prompt (prompt + answer) and of the answer. */
  tokens: number;
  answerTokens: number;
  /** Median wall ms of one whole edit (editTokenized) and of each phase. */
  editMs: number;
  phasesMs: EditPhases;
  /** Loss + gradients w.r.t. the candidate modules' weights on the edit tuple: the floor an edit must pay (one trace). */
  forwardBackwardMs: number;
  /** editMs / forwardBackwardMs. */
  editPerForwardBackward: number;
  /** Model calls of one edit by method (the calibration's forwards are the `logProbsUnderShifts` calls). */
  editCalls: Record<string, number>;
  /** Module sets the calibration tried, and the modules the first measured edit shifted. */
  tries: number | undefined;
  selected: string[];
  /** Bytes the journal grew per edit (factors + record). */
  journalBytesPerEdit: number;
}

/** Repetitions of the edit workload (one untimed warm-up precedes each). */
export interface EditReps {
  edit: number;
  backward: number;
}

/** One meta-training step: median wall ms and the model calls of one step. */
export interface MetaStepResult {
  metaStepMs: number;
  metaStepCalls: Record<string, number>;
}

type Method = (...args: unknown[]) => unknown;

/**
 * Times and counts calls of `names` on `obj` by shadowing them with own properties; `restore()` removes them so the
 * prototype's methods are back. Calls made while another wrapped call is running are counted but not timed twice.
 */
class CallProbe {
  readonly ms = new Map<string, number>();
  readonly calls = new Map<string, number>();
  private readonly undo: (() => void)[] = [];

  wrap(label: string, obj: object, name: string): void {
    const target = obj as Record<string, unknown>;
    const original = target[name];
    if (typeof original !== 'function') throw new Error(`edit workload: ${label} has no method ${name}`);
    const had = Object.prototype.hasOwnProperty.call(target, name);
    const key = `${label}.${name}`;
    target[name] = (...args: unknown[]): unknown => {
      this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
      const t0 = performance.now();
      try {
        return (original as Method).apply(obj, args);
      } finally {
        this.ms.set(key, (this.ms.get(key) ?? 0) + performance.now() - t0);
      }
    };
    this.undo.push(() => {
      if (had) target[name] = original;
      else delete target[name];
    });
  }

  reset(): void {
    this.ms.clear();
    this.calls.clear();
  }

  msOf(key: string): number {
    return this.ms.get(key) ?? 0;
  }

  restore(): void {
    for (const u of this.undo.reverse()) u();
    this.undo.length = 0;
  }
}

/** Model methods whose calls the workload counts (the editor and the trainer reach the model only through these). */
const MODEL_METHODS = ['trace', 'logProbsUnderShifts', 'lossUnderShifts', 'forward', 'addShift'] as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The edit request of the workload: `ids` as prompt + answer (the last `answerTokens` ids are the answer), one
 * locality prompt (the same ids shifted by one, its own next tokens as labels) so the meta-training step pays its
 * locality term, no paraphrase.
 */
export function editRequest(ids: readonly number[], answerTokens: number): TokenizedEditRequest {
  if (!(answerTokens >= 1 && answerTokens < ids.length)) throw new Error(`edit workload: answerTokens must be in 1..${ids.length - 1}, got ${answerTokens}`);
  const labels = ids.map((_, i) => (i >= ids.length - answerTokens - 1 && i < ids.length - 1 ? ids[i + 1] : -100));
  const edit: TokenizedTuple = { ids: [...ids], labels };
  const loc = [...ids.slice(1), ids[0]];
  const locality: TokenizedTuple = { ids: loc, labels: loc.map((_, i) => (i === loc.length - 1 ? -100 : loc[i + 1])) };
  return { id: 'bench-edit', edit, paraphrases: [], locality: [locality] };
}

const refuseText = (): never => {
  throw new Error('edit workload: requests are tokenized up front (editTokenized)');
};

/**
 * The edit workload's one departure from `hiedit create`'s settings: a calibration miss applies the edit at the largest
 * strength (onMiss 'max') instead of moving to the gate's next modules and then skipping it. The untrained policy's
 * edits miss on random weights, and a skipped edit applies and journals no shift, so it would time neither; a trained
 * policy's edit mostly holds on the gate's first choice, after 4-7 forwards (rl-hierarchy's DEFAULT_CALIBRATION).
 */
export const EDIT_WORKLOAD_CALIBRATION = { onMiss: 'max' } as const;

/** A fresh, untrained `hiedit` editor over `modules` with the settings `hiedit create` gives, plus `seed` and `extra`. */
function hieditEditor(model: CausalLM, modules: readonly string[], seed: number, journal?: EditJournal, extra: Record<string, unknown> = {}): LifelongEditor {
  const lifelong = LifelongEditor.create({ model, kind: 'hiedit', tokenize: refuseText, modules, settings: { policy: { seed }, ...extra }, journal });
  if (!(lifelong.editor instanceof PolicyEditor)) throw new Error(`edit workload: hiedit created a ${lifelong.editor.kind} editor, not a policy editor`);
  return lifelong;
}

/**
 * Runs the edit workload on `model` with a fresh `hiedit` editor over `modules` (settings as a user gets them from
 * `hiedit create`, plus `seed`) and a journal in a temporary directory. Every timed edit is rolled back (untimed), so
 * each rep edits the same weights. The first edit is the warm-up: its model-call counts are reported (every rep makes
 * the same calls: same request, same weights), its time is not.
 */
export function runEditWorkload(model: CausalLM, modules: readonly string[], ids: readonly number[], reps: EditReps,
  opts: { seed: number; answerTokens?: number } = { seed: 1234 }): EditWorkloadResult {
  const answerTokens = opts.answerTokens ?? 2;
  const request = editRequest(ids, answerTokens);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-bench-journal-'));
  const journal = EditJournal.create(path.join(dir, 'journal.hjl'), journalHeaderFor(model));
  const lifelong = hieditEditor(model, modules, opts.seed, journal, { trainer: { calibration: EDIT_WORKLOAD_CALIBRATION } });
  const editor = lifelong.editor as PolicyEditor;
  const probe = new CallProbe();
  try {
    for (const m of MODEL_METHODS) probe.wrap('model', model, m);
    probe.wrap('policy', editor.policy, 'computeEdit');
    probe.wrap('editor', editor, 'propose');
    probe.wrap('journal', journal, 'appendEdit');
    const text = { prompt: 'benchmark prompt', target: 'benchmark answer' };
    const phases: EditPhases[] = [];
    const totals: number[] = [];
    let editCalls: Record<string, number> = {};
    let first: { tries?: number; selected: string[] } | undefined;
    const sizeBefore = fs.statSync(journal.file).size;
    for (let i = 0; i <= reps.edit; i++) {
      probe.reset();
      const t0 = performance.now();
      const report = lifelong.editTokenized(text, request);
      const total = performance.now() - t0;
      const propose = probe.msOf('editor.propose');
      const journalMs = probe.msOf('journal.appendEdit');
      if (i === 0) {
        // The warm-up edit: its counts are the same as every rep's (same request, same weights), its time is not.
        first = { tries: report.tries, selected: report.selected.map((s) => s.module) };
        editCalls = Object.fromEntries([...probe.calls].filter(([k]) => k.startsWith('model.')).map(([k, v]) => [k.slice(6), v]));
      } else {
        const trace = probe.msOf('model.trace');
        const policy = probe.msOf('policy.computeEdit');
        phases.push({ trace, policy, calibration: propose - trace - policy, apply: total - propose - journalMs, journal: journalMs });
        totals.push(total);
      }
      const grown = fs.statSync(journal.file).size;
      if (i === 0) editCalls.journalBytes = grown - sizeBefore;
      // Untimed: every rep edits the same weights.
      lifelong.rollback(report.editId);
    }
    const phasesMs: EditPhases = {
      trace: median(phases.map((p) => p.trace)),
      policy: median(phases.map((p) => p.policy)),
      calibration: median(phases.map((p) => p.calibration)),
      apply: median(phases.map((p) => p.apply)),
      journal: median(phases.map((p) => p.journal)),
    };
    const journalBytesPerEdit = editCalls.journalBytes;
    delete editCalls.journalBytes;
    probe.restore();
    const forwardBackwardMs = timeForwardBackward(model, [...ids], [...modules], reps.backward);
    const editMs = median(totals);
    return {
      modules: [...modules],
      k: editor.policy.config.high?.k ?? modules.length,
      tokens: ids.length,
      answerTokens,
      editMs,
      phasesMs,
      forwardBackwardMs,
      editPerForwardBackward: editMs / forwardBackwardMs,
      editCalls,
      tries: first?.tries,
      selected: first?.selected ?? [],
      journalBytesPerEdit,
    };
  } finally {
    probe.restore();
    lifelong.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Median ms of one meta-training step as `PolicyTrainer.train` runs it (trace, locality reference, calibration and
 * gate targets, gradient pass, Adam update; the edit stays in the model for the next step, as in training), Adam
 * stepping every step (the default steps every 4th: a step here is the dearer kind). One epoch over `reps + 1` copies
 * of the request; each step is timed between the trainer's progress events, the first is the warm-up.
 */
export function runMetaStepWorkload(model: CausalLM, modules: readonly string[], ids: readonly number[], reps: number,
  opts: { seed: number; answerTokens?: number } = { seed: 1234 }): MetaStepResult {
  const request = editRequest(ids, opts.answerTokens ?? 2);
  const lifelong = hieditEditor(model, modules, opts.seed);
  try {
    return timeMetaStep(model, lifelong.editor as PolicyEditor, request, reps);
  } finally {
    lifelong.dispose();
  }
}

function timeMetaStep(model: CausalLM, editor: PolicyEditor, request: TokenizedEditRequest, reps: number): MetaStepResult {
  const stream = Array.from({ length: reps + 1 }, (_, i) => ({ ...request, id: `bench-step-${i}` }));
  const probe = new CallProbe();
  const steps: number[] = [];
  let calls: Record<string, number> = {};
  let t0 = 0;
  const trainer = new PolicyTrainer(model, editor.policy, {
    ...editor.settings().trainer, epochs: 1, updateEvery: 1, seed: 1,
    onProgress: (e) => {
      if (e.kind !== 'step') return;
      const now = performance.now();
      if (steps.length === 0 && Object.keys(calls).length === 0) calls = Object.fromEntries([...probe.calls].map(([k, v]) => [k.slice(6), v]));
      else steps.push(now - t0);
      t0 = performance.now();
    },
  });
  try {
    for (const m of MODEL_METHODS) probe.wrap('model', model, m);
    t0 = performance.now();
    trainer.train(stream);
    return { metaStepMs: median(steps), metaStepCalls: calls };
  } finally {
    probe.restore();
    trainer.dispose();
  }
}
