/**
 * High-level policy HiNet (spec §3.3): per-shape-group encoders, a linear gate over all modules,
 * and a hard top-k (or adaptive) selection with a straight-through mask.
 */
import { tf, RunningNormalizer, SeededRandom, randomNormal, shapeKey } from '@hiedit/tensor-core';
import type { EditFeatures, ModuleDescriptor } from '@hiedit/tensor-core';
import type { HighLevelConfig } from './config';
import { straightThrough } from './ops';
import type { ParamSet } from './params';

/** Indices of the k largest scores; ties go to the lower index so the choice is deterministic. */
export function topKIndices(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, k).sort((a, b) => a - b);
}

/** Hard 0/1 top-k mask of `scores` (exactly k ones). */
export function topKMask(scores: ArrayLike<number>, k: number): Float32Array {
  if (!Number.isInteger(k) || k < 1 || k > scores.length) throw new Error(`top-k: k must be in 1..${scores.length}, got ${k}`);
  const m = new Float32Array(scores.length);
  for (const i of topKIndices(scores, k)) m[i] = 1;
  return m;
}

/** Adaptive selection: scores above `threshold`, clamped to [minK, maxK] by rank. */
export function thresholdMask(scores: ArrayLike<number>, threshold: number, minK: number, maxK: number): Float32Array {
  let above = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > threshold) above++;
  return topKMask(scores, Math.min(maxK, Math.max(minK, above)));
}

/** Gate output inside a gradient computation. */
export interface GateOutput {
  /** Raw gate scores g (|M|). */
  scores: tf.Tensor1D;
  /** Straight-through mask (|M|): forward exactly `hard`, gradient of the scores (minus the threshold when adaptive). */
  mask: tf.Tensor1D;
  /** The hard selection. */
  hard: Float32Array;
}

/** The high-level policy. Parameters live in the policy's ParamSet under `high.`. */
export class HiNet {
  readonly normalizers = new Map<string, RunningNormalizer>();
  private readonly groupOf: { key: string; index: number; dIn: number }[] = [];

  constructor(
    readonly config: HighLevelConfig,
    readonly modules: readonly ModuleDescriptor[],
    private readonly params: ParamSet,
    rng: SeededRandom,
  ) {
    const H = config.hidden;
    const counts = new Map<string, number>();
    for (const m of modules) {
      const key = shapeKey(m);
      const index = counts.get(key) ?? 0;
      counts.set(key, index + 1);
      this.groupOf.push({ key, index, dIn: m.dIn });
      if (index === 0) {
        const D = m.dIn + m.dOut;
        this.normalizers.set(key, new RunningNormalizer(D, config.normEps));
        params.add(`high.${key}.W`, randomNormal([D, H], rng.fork(`high.${key}.W`), 1 / Math.sqrt(D)));
        params.add(`high.${key}.b`, tf.zeros([H]));
      }
    }
    for (const [key, n] of counts) {
      params.add(`high.${key}.scale`, tf.ones([n, H]));
      params.add(`high.${key}.shift`, tf.zeros([n, H]));
    }
    const M = modules.length;
    params.add('high.gate.W', randomNormal([H * M, M], rng.fork('high.gate.W'), 1 / Math.sqrt(H * M)));
    params.add('high.gate.b', tf.zeros([M]));
    if (config.adaptive) params.add('high.threshold', tf.zeros([]));
  }

  /** Fold every module's features into its group's encoder normalizer. */
  updateNormalizers(features: ReadonlyMap<string, EditFeatures>): void {
    this.modules.forEach((m, i) => {
      const f = features.get(m.name)!;
      const x = tf.concat([f.keys, f.valueGrads], 1) as tf.Tensor2D;
      try {
        this.normalizers.get(this.groupOf[i].key)!.update(x);
      } finally {
        x.dispose();
      }
    });
  }

  /** Gate scores (|M|) from the features of every module. Call inside tf.tidy / a gradient function. */
  scores(features: ReadonlyMap<string, EditFeatures>): tf.Tensor1D {
    const pooled = this.modules.map((m, i) => {
      const { key, index } = this.groupOf[i];
      const f = features.get(m.name)!;
      const x = this.normalizers.get(key)!.normalize(tf.concat([f.keys, f.valueGrads], 1) as tf.Tensor2D);
      const pre = tf.add(tf.matMul(x, this.params.get(`high.${key}.W`)), this.params.get(`high.${key}.b`));
      const s = tf.slice(this.params.get(`high.${key}.scale`), [index, 0], [1, -1]);
      const o = tf.slice(this.params.get(`high.${key}.shift`), [index, 0], [1, -1]);
      const z = tf.add(tf.mul(tf.relu(pre), s), o);
      // averaging the concatenation over tokens = concatenating the per-module token averages
      return tf.mean(z, 0);
    });
    const flat = tf.concat(pooled, 0).reshape([1, -1]);
    return tf.add(tf.matMul(flat, this.params.get('high.gate.W')), this.params.get('high.gate.b')).reshape([-1]) as tf.Tensor1D;
  }

  /** Selection from scores: hard top-k (or adaptive threshold) forward, straight-through backward. */
  select(scores: tf.Tensor1D): GateOutput {
    const g = scores.dataSync() as Float32Array;
    if (!this.config.adaptive) {
      const hard = topKMask(g, this.config.k);
      return { scores, hard, mask: straightThrough(tf.tensor1d(hard), scores) as tf.Tensor1D };
    }
    const thr = this.params.get('high.threshold');
    const hard = thresholdMask(g, thr.dataSync()[0], this.config.minK, this.config.maxK);
    return { scores, hard, mask: straightThrough(tf.tensor1d(hard), tf.sub(scores, thr)) as tf.Tensor1D };
  }

  dispose(): void {
    for (const n of this.normalizers.values()) n.dispose();
    this.normalizers.clear();
  }
}
