/**
 * Seeded randomness: xoshiro128** (Blackman & Vigna) seeded through splitmix32, so every random choice in
 * hiedit is reproducible from one seed and resumable from a saved state.
 */
import * as tf from '@tensorflow/tfjs';

/** splitmix32 step: a good 32-bit mixer to expand seeds and keys into generator state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** FNV-1a over UTF-16 code units, mixed with a key: labels name independent sub-streams. */
function hashLabel(key0: number, key1: number, label: string): [number, number] {
  let h = 0x811c9dc5 ^ key0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const st = { s: (h ^ Math.imul(key1, 0x27d4eb2d)) >>> 0 };
  return [splitmix32(st), splitmix32(st)];
}

const TWO_PI = 2 * Math.PI;

/**
 * A small, fast, seeded generator. Not cryptographic. `fork(label)` gives an independent stream that
 * depends only on this generator's key and the label (not on how many numbers were drawn), so adding
 * draws in one place never shifts the randomness of another.
 */
export class SeededRandom {
  private key0 = 0;
  private key1 = 0;
  private s = new Uint32Array(4);
  private spare: number | undefined;

  /** @param seed any safe integer (negative allowed); the same seed always gives the same stream. */
  constructor(seed: number) {
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
      throw new Error(`SeededRandom: seed must be a safe integer, got ${String(seed)}`);
    }
    // Use both halves of the integer so seeds beyond 2^32 stay distinct.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.setKey(lo, hi);
  }

  private setKey(k0: number, k1: number): void {
    this.key0 = k0 >>> 0;
    this.key1 = k1 >>> 0;
    const st = { s: (this.key0 ^ Math.imul(this.key1, 0x9e3779b1)) >>> 0 };
    // Mix in key1 again so (k0, k1) pairs colliding in the xor above still diverge.
    for (let i = 0; i < 4; i++) this.s[i] = (splitmix32(st) ^ Math.imul(this.key1 + i, 0x85ebca77)) >>> 0;
    if (this.s[0] === 0 && this.s[1] === 0 && this.s[2] === 0 && this.s[3] === 0) this.s[0] = 1; // all-zero is a fixed point
    this.spare = undefined;
  }

  /** Next raw 32-bit output. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased. */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`SeededRandom.int: n must be a positive safe integer, got ${n}`);
    if (n <= 4294967296) {
      // Rejection sampling removes the modulo bias of the top partial block.
      const limit = Math.floor(4294967296 / n) * n;
      for (;;) {
        const r = this.nextUint32();
        if (r < limit) return r % n;
      }
    }
    return Math.floor(this.next() * n);
  }

  /** Standard normal via Box-Muller (the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(TWO_PI * u2);
    return r * Math.cos(TWO_PI * u2);
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** An independent generator named by `label`; deterministic in (this generator's key, label). */
  fork(label: string): SeededRandom {
    const child = new SeededRandom(0);
    const [k0, k1] = hashLabel(this.key0, this.key1, String(label));
    child.setKey(k0, k1);
    return child;
  }

  /** Everything needed to resume exactly: [key0, key1, s0, s1, s2, s3, hasSpare, spare]. */
  getState(): number[] {
    return [this.key0, this.key1, this.s[0], this.s[1], this.s[2], this.s[3], this.spare === undefined ? 0 : 1, this.spare ?? 0];
  }

  /** Restores a state from getState(); throws on a malformed one. */
  setState(state: number[]): void {
    const ok =
      Array.isArray(state) &&
      state.length === 8 &&
      state.slice(0, 6).every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) &&
      (state[6] === 0 || state[6] === 1) &&
      Number.isFinite(state[7]) &&
      state.slice(2, 6).some((v) => v !== 0);
    if (!ok) {
      throw new Error(`SeededRandom.setState: expected 8 numbers as returned by getState(), got ${JSON.stringify(state)}`);
    }
    this.key0 = state[0];
    this.key1 = state[1];
    this.s.set(state.slice(2, 6));
    this.spare = state[6] === 1 ? state[7] : undefined;
  }
}

/** A float32 tensor of N(0, std^2) samples drawn from `rng` in row-major order. The caller disposes it. */
export function randomNormal(shape: number[], rng: SeededRandom, std = 1): tf.Tensor {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`randomNormal: invalid shape ${JSON.stringify(shape)}`);
  }
  if (!Number.isFinite(std) || std < 0) throw new Error(`randomNormal: std must be finite and >= 0, got ${std}`);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
  return tf.tensor(data, shape, 'float32');
}
