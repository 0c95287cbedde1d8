import { createHash } from 'crypto';

/** Sizes of the three splits, as record counts. */
export interface SplitSizes {
  readonly train: number;
  readonly validation: number;
  readonly evaluation: number;
}

/** Options of {@link splitRequests}. */
export interface SplitOptions {
  /** Seed of the permutation; the same seed and ids give the same splits on every machine. */
  readonly seed: number;
  /**
   * Counts per split. Default: 60% / 10% / 30% of the records, dealt out in whole groups (so the splits
   * come out near, not exactly at, those fractions when subjects have several records).
   */
  readonly sizes?: Partial<SplitSizes>;
  /**
   * Keep every record of one subject in the same split (default true), so an evaluation edit never
   * repeats a subject the editor was trained on. Records without a subject are their own group.
   */
  readonly groupBySubject?: boolean;
}

/** The three disjoint splits, each in stream order. */
export interface Splits<T> {
  readonly train: T[];
  readonly validation: T[];
  readonly evaluation: T[];
}

/** Default split fractions when no sizes are given. */
export const DEFAULT_SPLIT_FRACTIONS: SplitSizes = { train: 0.6, validation: 0.1, evaluation: 0.3 };

function rank(seed: number, key: string): string {
  return createHash('sha256').update(`${seed}\u0000${key}`).digest('hex');
}

/**
 * Deterministic, disjoint train / validation / evaluation splits.
 *
 * Groups (subjects, or single records) are ordered by sha256(seed, group key) — a seeded permutation
 * that depends only on the seed and the keys, not on the machine or on the input order — and dealt out
 * to train, then validation, then evaluation. With explicit sizes, a split that would end inside a group
 * keeps only the members it needs; the rest of that group is left unused, so no subject crosses splits.
 * Without sizes, every record is used: a whole group goes to the split in whose share (60% / 10% / 30%,
 * cumulative, rounded down) its first record falls. Within a split records keep that permuted order,
 * which is the order of the editing stream.
 *
 * @throws Error when explicit sizes cannot be met, or when the default deal leaves a split with a share
 * empty (too few subjects for three splits).
 */
export function splitRequests<T extends { readonly id: string; readonly subject?: string }>(
  items: readonly T[],
  opts: SplitOptions,
): Splits<T> {
  if (!Number.isFinite(opts.seed)) throw new Error(`splitRequests: seed must be a finite number, got ${opts.seed}`);
  const n = items.length;
  const sizes: SplitSizes = opts.sizes
    ? { train: opts.sizes.train ?? 0, validation: opts.sizes.validation ?? 0, evaluation: opts.sizes.evaluation ?? 0 }
    : (() => {
        const train = Math.floor(n * DEFAULT_SPLIT_FRACTIONS.train);
        const validation = Math.floor(n * DEFAULT_SPLIT_FRACTIONS.validation);
        return { train, validation, evaluation: n - train - validation };
      })();
  for (const k of ['train', 'validation', 'evaluation'] as const) {
    if (!Number.isInteger(sizes[k]) || sizes[k] < 0) {
      throw new Error(`splitRequests: sizes.${k} must be a non-negative integer, got ${sizes[k]}`);
    }
  }
  const total = sizes.train + sizes.validation + sizes.evaluation;
  if (total > n) {
    throw new Error(
      `splitRequests: asked for ${sizes.train} train + ${sizes.validation} validation + ${sizes.evaluation} evaluation = ${total} records, but only ${n} exist`,
    );
  }
  const ids = new Set<string>();
  for (const it of items) {
    if (ids.has(it.id)) throw new Error(`splitRequests: duplicate id "${it.id}" (ids must be unique)`);
    ids.add(it.id);
  }
  const bySubject = opts.groupBySubject ?? true;
  const groups = new Map<string, T[]>();
  for (const it of items) {
    const key = bySubject && it.subject !== undefined ? `s:${it.subject}` : `i:${it.id}`;
    const g = groups.get(key);
    if (g) g.push(it);
    else groups.set(key, [it]);
  }
  const order = [...groups.entries()]
    .map(([key, members]) => ({ r: rank(opts.seed, key), members }))
    .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0));
  const out: Splits<T> = { train: [], validation: [], evaluation: [] };
  const plan: (keyof SplitSizes)[] = ['train', 'validation', 'evaluation'];
  // Within a group, records are ranked too so a truncated group keeps a seeded, not a positional, subset.
  const ranked = (members: T[]): T[] =>
    [...members].sort((a, b) => {
      const ra = rank(opts.seed, `r:${a.id}`);
      const rb = rank(opts.seed, `r:${b.id}`);
      return ra < rb ? -1 : ra > rb ? 1 : 0;
    });
  if (!opts.sizes) {
    // Cutting at exact counts would split a group and drop its rest, leaving the last split short.
    const trainEnd = sizes.train;
    const validationEnd = sizes.train + sizes.validation;
    let seen = 0;
    for (const { members } of order) {
      const dest = seen < trainEnd ? out.train : seen < validationEnd ? out.validation : out.evaluation;
      dest.push(...ranked(members));
      seen += members.length;
    }
    for (const k of plan) {
      if (out[k].length === 0 && sizes[k] > 0) {
        throw new Error(
          `splitRequests: no record left for the ${k} split: whole subject groups of ${n} records cannot fill ` +
            `${(100 * DEFAULT_SPLIT_FRACTIONS.train).toFixed(0)}% / ${(100 * DEFAULT_SPLIT_FRACTIONS.validation).toFixed(0)}% / ` +
            `${(100 * DEFAULT_SPLIT_FRACTIONS.evaluation).toFixed(0)}% shares; give sizes, or pass groupBySubject: false`,
        );
      }
    }
    return out;
  }
  let s = 0;
  for (const { members } of order) {
    while (s < plan.length && out[plan[s]].length >= sizes[plan[s]]) s++;
    if (s >= plan.length) break;
    const dest = out[plan[s]];
    dest.push(...ranked(members).slice(0, sizes[plan[s]] - dest.length));
  }
  for (const k of plan) {
    if (out[k].length < sizes[k]) {
      throw new Error(
        `splitRequests: only ${out[k].length} records left for the ${k} split (asked for ${sizes[k]}); ` +
          'subjects with several records cannot be divided between splits — ask for fewer, or pass groupBySubject: false',
      );
    }
  }
  return out;
}
