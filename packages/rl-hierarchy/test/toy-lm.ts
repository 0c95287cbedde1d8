/**
 * A small but real causal LM implementing EditableModel with tf ops, for the policy tests:
 * embedding -> causal mean pooling -> two residual tanh projections -> a tanh MLP (up/down) -> output head.
 * Edit modules: layers.0.proj, layers.1.proj (d x d), mlp.up (d x f), mlp.down (f x d).
 */
import { tf, SeededRandom, randomNormal, IGNORE_INDEX } from '@hiedit/tensor-core';
import type {
  EditableModel,
  EditFeatures,
  ModuleDescriptor,
  TokenizedEditRequest,
  TokenizedTuple,
  TraceResult,
  TracePositions,
} from '@hiedit/tensor-core';

export interface ToyLMSpec {
  vocab: number;
  dim: number;
  ffn: number;
  seed: number;
}

export class ToyLM implements EditableModel {
  readonly modules: readonly ModuleDescriptor[];
  private readonly weights = new Map<string, tf.Variable>();
  private readonly embed: tf.Variable;
  private readonly head: tf.Variable;

  constructor(readonly spec: ToyLMSpec) {
    const { vocab, dim, ffn, seed } = spec;
    const rng = new SeededRandom(seed);
    this.modules = [
      { name: 'layers.0.proj', dIn: dim, dOut: dim, layer: 0 },
      { name: 'layers.1.proj', dIn: dim, dOut: dim, layer: 1 },
      { name: 'mlp.up', dIn: dim, dOut: ffn, layer: 2 },
      { name: 'mlp.down', dIn: ffn, dOut: dim, layer: 2 },
    ];
    const mk = (shape: number[], label: string, std: number) => {
      const t = randomNormal(shape, rng.fork(label), std);
      const v = tf.variable(t, false);
      t.dispose();
      return v;
    };
    this.embed = mk([vocab, dim], 'embed', 1);
    this.head = mk([dim, vocab], 'head', 1 / Math.sqrt(dim));
    for (const m of this.modules) this.weights.set(m.name, mk([m.dIn, m.dOut], m.name, 1 / Math.sqrt(m.dIn)));
  }

  module(name: string): ModuleDescriptor {
    const m = this.modules.find((x) => x.name === name);
    if (!m) throw new Error(`ToyLM has no module ${name}`);
    return m;
  }

  private w(name: string, shifts?: ReadonlyMap<string, tf.Tensor2D>): tf.Tensor2D {
    const base = this.weights.get(name);
    if (!base) throw new Error(`ToyLM has no module ${name}`);
    const s = shifts?.get(name);
    return (s ? tf.add(base, s) : base) as tf.Tensor2D;
  }

  /** Logits (L, V) of one sequence; `probes` are added to module outputs (for value gradients). */
  private run(ids: readonly number[], shifts?: ReadonlyMap<string, tf.Tensor2D>, probes?: Map<string, tf.Tensor2D>, keys?: Map<string, tf.Tensor2D>): tf.Tensor2D {
    const L = ids.length;
    const x = tf.gather(this.embed, tf.tensor1d(Array.from(ids), 'int32')) as tf.Tensor2D;
    const counts = tf.range(1, L + 1).reshape([L, 1]);
    let h = tf.div(tf.cumsum(x, 0), counts) as tf.Tensor2D;
    const lin = (name: string, input: tf.Tensor2D): tf.Tensor2D => {
      keys?.set(name, input);
      const y = tf.matMul(input, this.w(name, shifts));
      const p = probes?.get(name);
      return (p ? tf.add(y, p) : y) as tf.Tensor2D;
    };
    h = tf.add(h, tf.tanh(lin('layers.0.proj', h))) as tf.Tensor2D;
    h = tf.add(h, tf.tanh(lin('layers.1.proj', h))) as tf.Tensor2D;
    const a = tf.tanh(lin('mlp.up', h)) as tf.Tensor2D;
    h = tf.add(h, lin('mlp.down', a)) as tf.Tensor2D;
    return tf.matMul(h, this.head);
  }

  private labelPositions(t: TokenizedTuple): number[] {
    const out: number[] = [];
    t.labels.forEach((l, i) => {
      if (l !== IGNORE_INDEX) out.push(i);
    });
    return out;
  }

  /** Sum of CE over label positions of one tuple, and their count. */
  private ceSum(t: TokenizedTuple, shifts?: ReadonlyMap<string, tf.Tensor2D>, probes?: Map<string, tf.Tensor2D>, keys?: Map<string, tf.Tensor2D>): [tf.Scalar, number] {
    const pos = this.labelPositions(t);
    const logits = this.run(t.ids, shifts, probes, keys);
    const lp = tf.logSoftmax(tf.gather(logits, tf.tensor1d(pos, 'int32')));
    const onehot = tf.oneHot(tf.tensor1d(pos.map((i) => t.labels[i]), 'int32'), this.spec.vocab);
    return [tf.neg(tf.sum(tf.mul(lp, onehot))) as tf.Scalar, pos.length];
  }

  trace(tuple: TokenizedTuple, modules: readonly string[], positions: TracePositions = 'all'): TraceResult {
    for (const n of modules) this.module(n);
    const L = tuple.ids.length;
    const rows = positions === 'ans' ? this.labelPositions(tuple) : Array.from({ length: L }, (_, i) => i);
    const features = new Map<string, EditFeatures>();
    const loss = tf.tidy(() => {
      const names = this.modules.map((m) => m.name);
      const zeros = names.map((n) => tf.zeros([L, this.module(n).dOut]) as tf.Tensor2D);
      // keys from a plain forward pass: tensors made inside tf.grads do not outlive it
      const keys = new Map<string, tf.Tensor2D>();
      this.run(tuple.ids, undefined, undefined, keys);
      let lossValue = 0;
      const g = tf.grads((...ps: tf.Tensor[]) => {
        const probes = new Map(names.map((n, i) => [n, ps[i] as tf.Tensor2D] as const));
        const [s, c] = this.ceSum(tuple, undefined, probes);
        const l = tf.div(s, c) as tf.Scalar;
        lossValue = l.dataSync()[0];
        return l;
      })(zeros);
      const idx = tf.tensor1d(rows, 'int32');
      names.forEach((n, i) => {
        if (!modules.includes(n)) return;
        features.set(n, {
          keys: tf.keep(tf.gather(keys.get(n)!, idx)) as tf.Tensor2D,
          valueGrads: tf.keep(tf.gather(g[i], idx)) as tf.Tensor2D,
        });
      });
      return lossValue;
    });
    return { loss, features };
  }

  lossUnderShifts(tuples: readonly TokenizedTuple[], shifts?: ReadonlyMap<string, tf.Tensor2D>): tf.Scalar {
    return tf.tidy(() => {
      let total: tf.Scalar = tf.scalar(0);
      let count = 0;
      for (const t of tuples) {
        const [s, c] = this.ceSum(t, shifts);
        total = tf.add(total, s);
        count += c;
      }
      return tf.div(total, count);
    });
  }

  logProbsUnderShifts(tuples: readonly TokenizedTuple[], shifts?: ReadonlyMap<string, tf.Tensor2D>): tf.Tensor2D {
    return tf.tidy(() =>
      tf.concat(
        tuples.map((t) => tf.logSoftmax(tf.gather(this.run(t.ids, shifts), tf.tensor1d(this.labelPositions(t), 'int32')))),
        0,
      ),
    ) as tf.Tensor2D;
  }

  addShift(name: string, delta: tf.Tensor2D, scale = 1): void {
    const w = this.weights.get(name);
    if (!w) throw new Error(`ToyLM has no module ${name}`);
    tf.tidy(() => w.assign(tf.add(w, tf.mul(delta, scale))));
  }

  readWeight(name: string): tf.Tensor2D {
    const w = this.weights.get(name);
    if (!w) throw new Error(`ToyLM has no module ${name}`);
    return w.clone() as tf.Tensor2D;
  }

  writeWeight(name: string, value: tf.Tensor2D): void {
    const w = this.weights.get(name);
    if (!w) throw new Error(`ToyLM has no module ${name}`);
    if (value.shape[0] !== w.shape[0] || value.shape[1] !== w.shape[1]) throw new Error(`ToyLM: ${name} is ${w.shape}, got ${value.shape}`);
    w.assign(value);
  }

  dispose(): void {
    for (const w of this.weights.values()) w.dispose();
    this.embed.dispose();
    this.head.dispose();
  }
}

/** A seeded stream of synthetic edit requests over the toy vocabulary. */
export function toyRequests(n: number, vocab: number, seed: number): TokenizedEditRequest[] {
  const rng = new SeededRandom(seed);
  const tuple = (prompt: number[], answer: number[]): TokenizedTuple => {
    const full = [...prompt, ...answer];
    return { ids: full.slice(0, -1), labels: [...new Array(prompt.length - 1).fill(IGNORE_INDEX), ...answer] };
  };
  const randomPrompt = (len: number) => Array.from({ length: len }, () => rng.int(vocab));
  return Array.from({ length: n }, (_, i) => {
    const answer = [rng.int(vocab), rng.int(vocab)];
    const prompt = randomPrompt(3);
    // the paraphrase keeps the prompt's tokens behind a new first token, so it is related but not equal
    return {
      id: `req${i}`,
      edit: tuple(prompt, answer),
      paraphrases: [tuple([rng.int(vocab), ...prompt], answer)],
      locality: [tuple(randomPrompt(3), [rng.int(vocab)])],
    };
  });
}
