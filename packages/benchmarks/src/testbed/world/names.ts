/**
 * Pronounceable made-up names. Each entity type has its own suffixes so a reader (and the model) can
 * tell a city from a language, and one registry keeps every name in the world distinct.
 */

/** The part of SeededRandom the generators need (structural, so tests can pass any seeded source). */
export interface Rng {
  next(): number;
  int(n: number): number;
  shuffle<T>(a: T[]): T[];
}

const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'kr', 'st', 'th', 'sh', 'tr', 'gr'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o', 'ai', 'ea', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'th', 'k', 'm'];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

function syllable(rng: Rng, last: boolean): string {
  // Codas only at the end keep names easy to say (no "rkst" clusters in the middle).
  return pick(rng, ONSETS) + pick(rng, VOWELS) + (last ? pick(rng, CODAS) : '');
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Suffixes per kind of generated name; '' means a bare 2-3 syllable stem. */
export const NAME_SUFFIXES = {
  person: [''],
  city: ['ton', 'burg', 'vik', 'grad', 'mouth', 'ford'],
  country: ['ia', 'land', 'istan', 'ora'],
  language: ['ish', 'ic', 'ese', 'ian'],
  company: ['corp', 'works', 'tek', 'ware'],
} as const;

export type NamedKind = keyof typeof NAME_SUFFIXES;

/** Hands out distinct names across all kinds. */
export class NameRegistry {
  private readonly used = new Set<string>();

  constructor(
    private readonly rng: Rng,
    /** Words that must never be generated as names (template words, fixed answer words). */
    reserved: Iterable<string> = [],
  ) {
    for (const w of reserved) this.used.add(w.toLowerCase());
  }

  /** A new name of `kind`, distinct (case-insensitively) from every name handed out before. */
  next(kind: NamedKind): string {
    for (let attempt = 0; attempt < 10000; attempt++) {
      const syllables = kind === 'person' ? 2 + (this.rng.next() < 0.35 ? 1 : 0) : this.rng.next() < 0.5 ? 1 : 2;
      let stem = '';
      for (let i = 0; i < syllables; i++) stem += syllable(this.rng, i === syllables - 1);
      const suffix = pick(this.rng, NAME_SUFFIXES[kind]);
      // Avoid doubled letters at the join ("Korvik" + "ia" is fine, "Tass" + "sia" is not).
      const name = capitalize(stem.endsWith(suffix.charAt(0)) ? stem + suffix.slice(1) : stem + suffix);
      if (name.length < 4 || name.length > 12) continue;
      const key = name.toLowerCase();
      if (this.used.has(key)) continue;
      this.used.add(key);
      return name;
    }
    throw new Error(`NameRegistry: could not find a new ${kind} name after 10000 attempts (world too large?)`);
  }

  /** `n` new names of `kind`. */
  many(kind: NamedKind, n: number): string[] {
    return Array.from({ length: n }, () => this.next(kind));
  }
}
