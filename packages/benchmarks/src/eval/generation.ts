/**
 * Generation-based success (WILD_ES / WILD_GS, spec §6): greedy decoding from the prompt alone, success
 * when the generated text begins with the new answer. Teacher forcing feeds the gold prefix and so
 * overstates success; here every token the model emits is its own.
 */
import { tf, IGNORE_INDEX } from '@hiedit/tensor-core';
import { padBatch, planBatches, type BatchOptions } from './batch';
import type { EvalModel, TokenizedTuple } from './types';

/** Splits a teacher-forcing tuple into the prompt ids and the answer ids (spec §2 layout). */
export function splitTuple(t: TokenizedTuple): { prompt: number[]; answer: number[] } {
  const first = t.labels.findIndex((l) => l !== IGNORE_INDEX);
  if (first < 0) throw new Error('splitTuple: tuple has no answer positions');
  // Position `first` predicts the first answer token, so the prompt ends at `first` inclusive.
  const prompt = t.ids.slice(0, first + 1) as number[];
  const answer = t.labels.slice(first).filter((l) => l !== IGNORE_INDEX) as number[];
  return { prompt, answer };
}

/**
 * Greedy continuation of many prompts at once: each step is one forward of the right-padded batch and
 * one readback of the B next tokens. `steps[k]` tokens are generated for prompt k.
 */
export function greedyBatch(
  model: EvalModel,
  prompts: readonly (readonly number[])[],
  steps: readonly number[],
  opts: BatchOptions & { vocabSize?: number } = {},
): number[][] {
  const out = prompts.map(() => [] as number[]);
  const maxSteps = steps.reduce((m, s) => Math.max(m, s), 0);
  const lengths = prompts.map((p, k) => p.length + steps[k]);
  const vocab = opts.vocabSize ?? (model as { config?: { vocabSize?: number } }).config?.vocabSize ?? 32000;
  for (const batch of planBatches(lengths, vocab, opts)) {
    for (let s = 0; s < maxSteps; s++) {
      const active = batch.filter((k) => out[k].length < steps[k]);
      if (active.length === 0) break;
      const rows = active.map((k) => [...prompts[k], ...out[k]]);
      const { ids, mask } = padBatch(rows);
      const last: number[] = [];
      rows.forEach((r, b) => last.push(b, r.length - 1));
      const next = tf.tidy(() => {
        const logits = model.forward(ids, mask);
        const at = tf.gatherND(logits, tf.tensor2d(last, [active.length, 2], 'int32')) as tf.Tensor2D;
        return tf.argMax(at, 1).toInt();
      });
      const nextIds = next.dataSync() as Int32Array;
      next.dispose();
      active.forEach((k, b) => out[k].push(nextIds[b]));
    }
  }
  return out;
}

/**
 * Whether `generated` begins with `answer`. With a decoder the comparison is on text (another
 * tokenization of the same words still counts) and the answer must end at a word boundary
 * ("Paris" does not match "Parisian"); without one, on token ids.
 */
export function beginsWith(generated: readonly number[], answer: readonly number[], decode?: (ids: number[]) => string): boolean {
  if (!decode) {
    if (generated.length < answer.length) return false;
    for (let i = 0; i < answer.length; i++) if (generated[i] !== answer[i]) return false;
    return true;
  }
  const gen = decode([...generated]).trimStart();
  const ans = decode([...answer]).trim();
  if (ans.length === 0) return false;
  if (!gen.startsWith(ans)) return false;
  const after = gen.charAt(ans.length);
  return after === '' || !/[\p{L}\p{N}]/u.test(after);
}

/**
 * For each tuple: 1 when greedy generation from its prompt begins with its answer, else 0. One token more
 * than the answer is generated so the word-boundary check sees what follows.
 */
export function generationSuccess(
  model: EvalModel,
  tuples: readonly TokenizedTuple[],
  decode?: (ids: number[]) => string,
  opts: BatchOptions = {},
): number[] {
  const parts = tuples.map(splitTuple);
  const extra = decode ? 1 : 0;
  const gens = greedyBatch(
    model,
    parts.map((p) => p.prompt),
    parts.map((p) => p.answer.length + extra),
    opts,
  );
  return parts.map((p, k) => (beginsWith(gens[k], p.answer, decode) ? 1 : 0));
}
