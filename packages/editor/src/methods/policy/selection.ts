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
}

/** The resolved selection rule, recorded in editor.json (absent for `gate`). */
export type ModuleSelection =
  | { readonly rule: 'gate' }
  | { readonly rule: 'random'; readonly seed: number }
  | { readonly rule: 'fixed'; readonly modules: readonly string[] | null }
  | { readonly rule: 'all' }
  /** A rule the method supplies itself (PolicyMethod.customSelection), e.g. the benchmark's oracle-k. */
  | { readonly rule: 'custom' };

/** The rule names. */
export type SelectionRule = ModuleSelection['rule'];

const SELECTION_KEYS: Record<SelectionRule, readonly string[]> = { gate: [], random: ['seed'], fixed: ['modules'], all: [], custom: [] };

/** Resolves the user's `selection` settings for `rule` over `candidates`; errors name the field. */
export function resolveSelection(rule: SelectionRule, given: unknown, candidates: readonly string[], where: string): ModuleSelection {
  const o = requireObject(given ?? {}, where, 'selection');
  if ('rule' in o && o.rule !== rule) throw new Error(`${where}: selection.rule is "${rule}" for this method, got ${JSON.stringify(o.rule)}`);
  const { rule: _rule, ...rest } = o;
  refuseUnknownFields(rest, SELECTION_KEYS[rule], `${where}: selection`);
  if (rule === 'random') {
    const seed = rest.seed ?? 0;
    if (!Number.isInteger(seed) || (seed as number) < 0) throw new Error(`${where}: selection.seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
    return { rule, seed: seed as number };
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
  if (sel.rule === 'gate') return { scores: gate.scores, selected: [...gate.selected] };
  if (sel.rule === 'all') return { scores: new Float32Array(M).fill(1), selected: new Array<boolean>(M).fill(true) };
  let scores: Float32Array;
  if (sel.rule === 'random') scores = Float32Array.from(hashedRanking(sel.seed, tuple, M));
  else {
    if (!sel.modules) throw new Error('fixed-k: no module choice yet (it is made when training finishes; train the editor first)');
    // The chosen modules first, in their order of merit; the rest keep policy order for the fallback.
    const order = [...sel.modules, ...modules.filter((n) => !sel.modules!.includes(n))];
    scores = Float32Array.from(modules, (n) => (M - order.indexOf(n)) / M);
  }
  const top = new Set([...scores.keys()].sort((a, b) => scores[b] - scores[a] || a - b).slice(0, Math.min(k, M)));
  return { scores, selected: modules.map((_, i) => top.has(i)) };
}
