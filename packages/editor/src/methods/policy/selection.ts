/**
 * How a policy editor chooses the modules of an edit at edit time. `gate` (HiEdit): the trained HiNet's top k. The
 * ablations keep HiEdit's trained low level and replace only this choice: `random` (k modules picked by a seeded hash
 * of the request, so the same request always gets the same modules), `fixed` (the k modules best on the training
 * split, chosen when training finishes) and `all` (every candidate). The rule also orders the modules the calibration
 * falls back to when the first choice does not hold, so no ablation borrows the gate's ranking.
 */
import type { TokenizedTuple } from '@hiedit/tensor-core';
import { refuseUnknownFields, requireObject } from '../schema';

/** The selection rule as a user gives it (the rule itself is the method's; the user sets its parameters). */
export interface SelectionInput {
  /** random: seed of the hash (default 0). */
  readonly seed?: number;
  /** fixed: the chosen modules (written when training finishes; give them to skip the choice). */
  readonly modules?: readonly string[];
  /** gate: the training split's module merits as a prior on the gate's per-edit scores (see {@link GatePrior}). */
  readonly prior?: { readonly weight?: number; readonly merits?: readonly number[] };
}

/**
 * A prior on the gate's choice: each module's mean merit on the training split (fixed-k's measure, merit.ts), added
 * to the gate's per-edit scores as `z(gate) + weight * z(merits)` (z: standardized over the candidates), so the gate
 * corrects a choice that is good on average per edit instead of choosing from nothing. `merits` are measured when
 * training finishes (null until then: the gate alone chooses); weight 0 is no prior.
 */
export interface GatePrior {
  readonly weight: number;
  readonly merits: readonly number[] | null;
}

/** The resolved selection rule, recorded in editor.json (absent for a gate without a prior). */
export type ModuleSelection =
  | { readonly rule: 'gate'; readonly prior?: GatePrior }
  | { readonly rule: 'random'; readonly seed: number }
  | { readonly rule: 'fixed'; readonly modules: readonly string[] | null }
  | { readonly rule: 'all' }
  /** A rule the method supplies itself (PolicyMethod.customSelection), e.g. the benchmark's oracle-k. */
  | { readonly rule: 'custom' };

/** The rule names. */
export type SelectionRule = ModuleSelection['rule'];

const SELECTION_KEYS: Record<SelectionRule, readonly string[]> = { gate: ['prior'], random: ['seed'], fixed: ['modules'], all: [], custom: [] };

/** Resolves the user's `selection` settings for `rule` over `candidates`; errors name the field. */
export function resolveSelection(rule: SelectionRule, given: unknown, candidates: readonly string[], where: string): ModuleSelection {
  const o = requireObject(given ?? {}, where, 'selection');
  if ('rule' in o && o.rule !== rule) throw new Error(`${where}: selection.rule is "${rule}" for this method, got ${JSON.stringify(o.rule)}`);
  const { rule: _rule, ...rest } = o;
  const notGate = Object.keys(rest).filter((f) => f !== 'prior');
  if (rule === 'gate' && notGate.length) {
    throw new Error(`${where}: selection.${notGate[0]} is for the ablations (random-k, fixed-k, all); the gate takes only selection.prior`);
  }
  refuseUnknownFields(rest, SELECTION_KEYS[rule], `${where}: selection`);
  if (rule === 'random') {
    const seed = rest.seed ?? 0;
    if (!Number.isInteger(seed) || (seed as number) < 0) throw new Error(`${where}: selection.seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
    return { rule, seed: seed as number };
  }
  if (rule === 'gate') {
    const prior = resolveGatePrior(rest.prior, candidates, where);
    return prior ? { rule, prior } : { rule };
  }
  if (rule === 'fixed') {
    const m = rest.modules ?? null;
    if (m === null) return { rule, modules: null };
    if (!Array.isArray(m) || m.length === 0 || m.some((n) => typeof n !== 'string')) {
      throw new Error(`${where}: selection.modules must be a non-empty array of module names, got ${JSON.stringify(m)}`);
    }
    const unknown = m.filter((n) => !candidates.includes(n));
    if (candidates.length > 0 && unknown.length) {
      throw new Error(`${where}: selection.modules names ${unknown.join(', ')}, not among the edit modules (${candidates.join(', ')})`);
    }
    if (new Set(m).size !== m.length) throw new Error(`${where}: selection.modules lists a module twice: ${JSON.stringify(m)}`);
    return { rule, modules: [...m] as string[] };
  }
  return { rule };
}

/** The gate prior of `given` (null when absent or of weight 0); errors name the field. */
function resolveGatePrior(given: unknown, candidates: readonly string[], where: string): GatePrior | null {
  if (given === undefined) return null;
  const o = requireObject(given, where, 'selection.prior');
  refuseUnknownFields(o, ['weight', 'merits'], `${where}: selection.prior`);
  const weight = o.weight ?? 0;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw new Error(`${where}: selection.prior.weight must be a finite number >= 0, got ${JSON.stringify(o.weight)}`);
  }
  if (weight === 0) return null;
  const merits = o.merits ?? null;
  if (merits !== null) {
    if (!Array.isArray(merits) || merits.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new Error(`${where}: selection.prior.merits must be an array of finite numbers, got ${JSON.stringify(merits)}`);
    }
    if (candidates.length > 0 && merits.length !== candidates.length) {
      throw new Error(`${where}: selection.prior.merits has ${merits.length} values for ${candidates.length} edit modules`);
    }
  }
  return { weight, merits: merits === null ? null : [...(merits as number[])] };
}

/** `x` standardized over its entries (mean 0, unit population sd); all zeros when its entries are equal. */
export function standardized(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i] / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - mean) ** 2 / n;
  const sd = Math.sqrt(v);
  return Float64Array.from({ length: n }, (_, i) => (sd > 1e-12 ? (x[i] - mean) / sd : 0));
}

/** 32-bit FNV-1a over `words`, each folded in as four bytes. */
function fnv1a(words: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    for (let b = 0; b < 4; b++) {
      h ^= (w >>> (8 * b)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h >>> 0;
}

/**
 * The random rule's ranking of `modules` for an edit tuple: a hash of the seed, the tuple's tokens and labels (the
 * prompt and the new answer) and each module's position. Deterministic: the same request (whatever its id) and seed
 * rank the modules the same way in any run.
 */
export function hashedRanking(seed: number, tuple: TokenizedTuple, moduleCount: number): number[] {
  const base = [seed, ...tuple.ids, -1, ...tuple.labels];
  return Array.from({ length: moduleCount }, (_, i) => fnv1a([...base, -2, i]) / 2 ** 32);
}

/**
 * The rule's scores and first choice for one edit: `scores` rank the modules (the calibration's fallback follows
 * them), `selected` marks the first k. `gateScores`/`gateSelected` are the trained gate's (used by `gate` only).
 */
export function applySelection(sel: ModuleSelection, modules: readonly string[], k: number, tuple: TokenizedTuple,
  gate: { scores: Float32Array; selected: readonly boolean[] }): { scores: Float32Array; selected: boolean[] } {
  const M = modules.length;
  if (sel.rule === 'custom') throw new Error('applySelection: a custom rule is applied by its method');
  if (sel.rule === 'gate') {
    // Until training has measured the merits (an untrained editor), the gate alone chooses.
    if (!sel.prior?.merits) return { scores: gate.scores, selected: [...gate.selected] };
    if (sel.prior.merits.length !== M) throw new Error(`gate prior: ${sel.prior.merits.length} merits for ${M} modules`);
    const g = standardized(gate.scores);
    const p = standardized(sel.prior.merits);
    const w = sel.prior.weight;
    return topOf(Float32Array.from(g, (v, i) => v + w * p[i]), k);
  }
  if (sel.rule === 'all') return { scores: new Float32Array(M).fill(1), selected: new Array<boolean>(M).fill(true) };
  let scores: Float32Array;
  if (sel.rule === 'random') scores = Float32Array.from(hashedRanking(sel.seed, tuple, M));
  else {
    if (!sel.modules) throw new Error('fixed-k: no module choice yet (it is made when training finishes; train the editor first)');
    // The chosen modules first, in their order of merit; the rest keep policy order for the fallback.
    const order = [...sel.modules, ...modules.filter((n) => !sel.modules!.includes(n))];
    scores = Float32Array.from(modules, (n) => (M - order.indexOf(n)) / M);
  }
  return topOf(scores, k);
}

/** `scores` with its k best marked (ties: the lower index). */
function topOf(scores: Float32Array, k: number): { scores: Float32Array; selected: boolean[] } {
  const top = new Set([...scores.keys()].sort((a, b) => scores[b] - scores[a] || a - b).slice(0, Math.min(k, scores.length)));
  return { scores, selected: Array.from(scores, (_, i) => top.has(i)) };
}
