/**
 * `oracle-k`, the benchmark's upper bound (never an editor users get, so it stays out of @hiedit/editor's registry):
 * HiEdit's trained low level (it trains exactly like hiedit) on, per edit, the module set of size k that does best on
 * that edit's OWN paraphrase and locality prompts (the editor package's shiftMerit, each set at its calibrated
 * strength). It looks at evaluation prompts, so every table labels its row "(upper bound)". It tries every set of k of
 * the M candidates: C(M, k) calibrations per edit.
 */
import {
  hieditAblation, meritScale, policyFactory, shiftMerit, type CustomSelectionInput, type EditorFactory,
} from '@hiedit/editor';
import type { ParameterShift } from '@hiedit/tensor-core';

/** Every subset of `n` indices of size `k`, in lexicographic order. */
export function subsetsOfSize(n: number, k: number): number[][] {
  const out: number[][] = [];
  const pick = (start: number, acc: number[]): void => {
    if (acc.length === k) {
      out.push([...acc]);
      return;
    }
    for (let i = start; i <= n - (k - acc.length); i++) pick(i + 1, [...acc, i]);
  };
  pick(0, []);
  return out;
}

/** The oracle's choice for one edit: the set of best merit (ties: the first in lexicographic order) first. */
export function oracleSelection(inp: CustomSelectionInput): { scores: Float32Array; selected: boolean[] } {
  const { model, request, modules, shifts, k, calibration } = inp;
  let best: number[] = [];
  let bestMerit = -Infinity;
  for (const set of subsetsOfSize(modules.length, Math.min(k, modules.length))) {
    const chosen = new Map<string, ParameterShift>(set.map((i) => [modules[i], shifts.get(modules[i])!]));
    const merit = shiftMerit(model, request, chosen, meritScale(model, request, chosen, calibration));
    if (merit > bestMerit) {
      bestMerit = merit;
      best = set;
    }
  }
  const selected = modules.map((_, i) => best.includes(i));
  return { scores: Float32Array.from(selected, (s) => (s ? 1 : 0)), selected };
}

/** The oracle-k method (HiEdit's settings and training, the oracle's choice at edit time). */
export const ORACLE_K = hieditAblation({
  kind: 'oracle-k',
  summary: 'upper bound, benchmark only: per edit, the k modules best on that edit\'s own paraphrase and locality prompts',
  selection: 'custom',
  customSelection: oracleSelection,
});

/**
 * Its factory; the runner looks it up before the editor registry. It is an upper bound judged at HiEdit's calibrated
 * strength whatever a run compares, so a run-wide `--machinery` does not reach it.
 */
export const oracleKFactory: EditorFactory = { ...(policyFactory(ORACLE_K) as unknown as EditorFactory), sharedEditTimeOptions: false };

/** Editors only the benchmark knows, by kind. */
export const BENCHMARK_ONLY_EDITORS: Readonly<Record<string, EditorFactory>> = { 'oracle-k': oracleKFactory };
