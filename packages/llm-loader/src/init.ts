/**
 * Seeded host-side random weights for the tiny-checkpoint factory. Kept local and dependency-free so a
 * given (config, seed) yields the same checkpoint bytes on every machine and tfjs backend.
 */
import type { InitKind } from './models/arch';

/** mulberry32: tiny, fast, well-distributed 32-bit generator; ample for test weights. */
export class WeightRng {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    this.state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/**
 * Values for one parameter: matrices and embeddings N(0, std); norm gains 1 + N(0, 0.1) and biases
 * N(0, std) so that no parameter is trivial; (1 + w) norm weights N(0, 0.1), the same gains (a test can tell if any of them is ignored).
 */
export function initValues(kind: InitKind, size: number, rng: WeightRng, std: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const z = rng.normal();
    out[i] = kind === 'norm' ? 1 + 0.1 * z : kind === 'offsetNorm' ? 0.1 * z : std * z;
  }
  return out;
}
