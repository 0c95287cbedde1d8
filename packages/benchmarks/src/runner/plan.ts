/** A run's plan before any model work: the options checked, the split sizes and the scoring style resolved. */
import type { MetricStyle } from '../eval';
import type { RunOptions } from './types';

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

/** Refuses options no run can use, naming the flag. */
export function checkOptions(o: RunOptions): void {
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

