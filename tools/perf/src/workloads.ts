/**
 * The measured workloads on our side (the PyTorch side in tools/torch_bench.py mirrors them one for one):
 * forward, forward+backward to three MLP weights, a trace of six modules, and greedy generation.
 */
import { median, medianMs, tf, type TokenizedTuple } from '@hiedit/tensor-core';
import type { CausalLM } from '@hiedit/llm-loader';

/** Repetitions per workload (medians are reported; one untimed warm-up precedes each). */
export interface Reps {
  forward: number;
  backward: number;
  trace: number;
  generation: number;
}

/** Next-token tuple over the whole sequence: the same loss torch computes as CE(logits[:-1], ids[1:]). */
export function nextTokenTuple(ids: number[]): TokenizedTuple {
  return { ids, labels: [...ids.slice(1), -100] };
}

/** Median ms of one forward pass producing (1, T, V) logits. */
export function timeForward(model: CausalLM, ids: number[], reps: number): number {
  return medianMs(reps, () => {
    model.forward([ids]).dispose();
  });
}

/**
 * Median ms of loss + gradients w.r.t. three weights. The gradient w.r.t. a zero shift of W equals the
 * gradient w.r.t. W, and going through lossUnderShifts computes no other parameter's gradient.
 */
export function timeForwardBackward(model: CausalLM, ids: number[], modules: string[], reps: number): number {
  const tuple = nextTokenTuple(ids);
  const zeros = modules.map((n) => {
    const m = model.module(n);
    return tf.zeros([m.dIn, m.dOut]) as tf.Tensor2D;
  });
  try {
    return medianMs(reps, () => {
      const grads = tf.tidy(() =>
        tf.grads((...shifts: tf.Tensor[]) => model.lossUnderShifts([tuple], new Map(modules.map((n, i) => [n, shifts[i] as tf.Tensor2D]))))(zeros),
      );
      tf.dispose(grads);
    });
  } finally {
    tf.dispose(zeros);
  }
}

/** Median ms of one trace (keys and value gradients) of `modules` at every position. */
export function timeTrace(model: CausalLM, ids: number[], modules: string[], reps: number): number {
  const tuple = nextTokenTuple(ids);
  return medianMs(reps, () => {
    const r = model.trace(tuple, modules, 'all');
    for (const f of r.features.values()) {
      f.keys.dispose();
      f.valueGrads.dispose();
    }
  });
}

/** Per-token cost of greedy decoding after a context, prefill excluded. */
export interface GenerationResult {
  context: number;
  newTokens: number;
  msPerToken: number;
  tokensPerS: number;
  firstIds: number[];
}

/**
 * Per-token decode cost from the difference between generating `newTokens` and 1 token after the same
 * context: both include the same prefill, so it cancels. The two are timed back to back in each rep and
 * the median of the per-rep differences is kept, so load from other processes hits both alike. NaN when
 * the difference drowns in noise (it is never clamped into a fake number).
 */
export function timeGeneration(model: CausalLM, context: number[], newTokens: number, reps: number): GenerationResult {
  if (newTokens < 2) throw new Error('timeGeneration: newTokens must be at least 2');
  const run = (n: number): number => {
    const t0 = performance.now();
    model.generate(context, n);
    return performance.now() - t0;
  };
  run(newTokens);
  const diffs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const one = run(1);
    const many = run(newTokens);
    diffs.push((many - one) / (newTokens - 1));
  }
  const d = median(diffs);
  const per = d > 0 ? d : NaN;
  return { context: context.length, newTokens, msPerToken: per, tokensPerS: 1000 / per, firstIds: model.generate(context, Math.min(newTokens, 8)) };
}
