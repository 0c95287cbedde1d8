/**
 * Test fixture: a model that is only its linear weights. The journal is pure weight arithmetic, so
 * its tests need nothing more; anything that runs the network uses llm-loader's tiny models instead.
 */
import { EditableModel, ModuleDescriptor, SeededRandom, TokenizedTuple, TraceResult, tf } from '@hiedit/tensor-core';

/** Uniform [0, 1) values from tensor-core's seeded generator, so fixtures never use Math.random. */
export function rng(seed: number): () => number {
  const r = new SeededRandom(seed);
  return () => r.next();
}

/** Uniform(-scale, scale) values. */
export function randomArray(n: number, next: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (next() * 2 - 1) * scale;
  return a;
}

export class WeightsOnlyModel implements EditableModel {
  readonly modules: ModuleDescriptor[];
  private readonly weights = new Map<string, tf.Variable>();
  /** When set, addShift throws on its n-th call (to test all-or-nothing application). */
  failOnAddShiftCall: number | undefined;
  private addCalls = 0;

  constructor(shapes: { name: string; dIn: number; dOut: number }[], seed: number) {
    const next = rng(seed);
    this.modules = shapes.map((s, i) => ({ ...s, layer: i }));
    for (const s of shapes) {
      const init = tf.tensor2d(randomArray(s.dIn * s.dOut, next), [s.dIn, s.dOut]);
      this.weights.set(s.name, tf.variable(init, false));
      init.dispose();
    }
  }

  module(name: string): ModuleDescriptor {
    const m = this.modules.find((x) => x.name === name);
    if (!m) throw new Error(`model has no module named ${name}`);
    return m;
  }

  addShift(name: string, delta: tf.Tensor2D, scale = 1): void {
    this.addCalls++;
    if (this.failOnAddShiftCall === this.addCalls) throw new Error('injected failure');
    const w = this.weights.get(this.module(name).name)!;
    tf.tidy(() => { w.assign(scale === 1 ? tf.add(w, delta) : tf.add(w, tf.mul(delta, scale))); });
  }

  readWeight(name: string): tf.Tensor2D {
    return tf.clone(this.weights.get(this.module(name).name)!) as tf.Tensor2D;
  }

  writeWeight(name: string, value: tf.Tensor2D): void {
    this.weights.get(this.module(name).name)!.assign(value);
  }

  host(name: string): Float32Array {
    return this.weights.get(name)!.dataSync() as Float32Array;
  }

  trace(_t: TokenizedTuple, _m: readonly string[]): TraceResult { throw new Error('WeightsOnlyModel cannot trace'); }
  lossUnderShifts(): tf.Scalar { throw new Error('WeightsOnlyModel has no loss'); }
  logProbsUnderShifts(): tf.Tensor2D { throw new Error('WeightsOnlyModel has no log-probabilities'); }

  dispose(): void {
    for (const w of this.weights.values()) w.dispose();
  }
}
