/**
 * Interleaved A/B of Gemma-2's fused kernels (soft-capped attention, (1 + w) RMSNorm, GeGLU and the rest of the
 * fused ops) against their composite forms, BLAS matmuls on in both arms: a whole forward and forward+backward of
 * a seeded random Gemma-2 a few hundred wide, then each new piece alone at that model's shapes. The fused kernels
 * are unregistered and registered again between repetitions, in one process.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { acceleratorStatus, attention, geluMul, initBackend, loadNativeBlas, median, rmsNorm, tf } from '@hiedit/tensor-core';
import { createTinyCheckpoint, loadModel } from '@hiedit/llm-loader';
import { registerAttentionKernels, unregisterAttentionKernels, type NativeAttention } from '../packages/tensor-core/src/attention-kernels';
import { registerFusedKernels, unregisterFusedKernels, type NativeFused } from '../packages/tensor-core/src/fused-kernels';

/** Gemma-2's structure (soft-caps, windows on even layers, GQA) at a width a laptop runs in milliseconds. */
const CONFIG = {
  vocab_size: 4096, hidden_size: 384, intermediate_size: 1536, num_hidden_layers: 4, num_attention_heads: 6,
  num_key_value_heads: 3, head_dim: 64, query_pre_attn_scalar: 64, sliding_window: 16, max_position_embeddings: 256,
};

/** composite: no fused kernels; fused: all of them; attn-composite: all but attention (near Gemma-2's path before soft-capping was fused). */
type Arm = 'composite' | 'fused' | 'attn-composite';

function timeArms(reps: number, arms: Arm[], set: (a: Arm) => void, fns: Record<string, () => void>): Record<string, Partial<Record<Arm, number[]>>> {
  const t: Record<string, Partial<Record<Arm, number[]>>> = {};
  for (const k of Object.keys(fns)) t[k] = Object.fromEntries(arms.map((a) => [a, []]));
  for (let r = 0; r < reps; r++) {
    for (const arm of r % 2 ? arms : [...arms].reverse()) {
      set(arm);
      for (const [k, fn] of Object.entries(fns)) {
        const a = performance.now();
        fn();
        t[k][arm]!.push(performance.now() - a);
      }
    }
  }
  return t;
}

/** Median and (in brackets) minimum of each arm: on a shared machine the minimum is the less disturbed figure. */
function report(title: string, t: Record<string, Partial<Record<Arm, number[]>>>): void {
  console.log(title);
  const cell = (xs: number[]): string => `${median(xs).toFixed(3).padStart(8)} (${Math.min(...xs).toFixed(3)}) ms`;
  for (const [k, v] of Object.entries(t)) {
    const mid = v['attn-composite'] ? `   attn-composite ${cell(v['attn-composite'])}` : '';
    const ratio = median(v.fused!) / median(v.composite!);
    console.log(`  ${k.padEnd(34)} composite ${cell(v.composite!)}${mid}   fused ${cell(v.fused!)}   fused/composite ${ratio.toFixed(3)}`);
  }
}

/** Kernel calls of fn (tf.profile): a count that machine load does not disturb. */
async function kernelCalls(fn: () => void): Promise<number> {
  const info = await tf.profile(() => {
    fn();
    return [] as tf.Tensor[];
  });
  return info.kernels.length;
}

export async function main(argv: string[]): Promise<void> {
  const reps = Number(argv[0] ?? 15);
  const T = Number(argv[1] ?? 32);
  await initBackend();
  const addon = loadNativeBlas().addon as unknown as (NativeFused & NativeAttention) | undefined;
  if (!addon || !acceleratorStatus().active) throw new Error('gemma2-fused-ab: the native accelerator is not active');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gemma2-ab-'));
  try {
    await createTinyCheckpoint(dir, { architecture: 'gemma2', seed: 0, config: CONFIG });
    const model = await loadModel(dir, { tokenizer: false });
    const c = model.config;
    let s = 12345;
    const ids = Array.from({ length: T }, () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s % c.vocabSize;
    });
    const tuple = { ids, labels: [...ids.slice(1), -100] };
    // Shifts on every layer's down_proj: the backward runs through all layers.
    const gradModules = Array.from({ length: c.numLayers }, (_, i) => `model.layers.${i}.mlp.down_proj`);
    const zeros = gradModules.map((n) => tf.zeros([model.module(n).dIn, model.module(n).dOut]) as tf.Tensor2D);
    const set = (arm: Arm): void => {
      if (arm === 'composite') unregisterFusedKernels();
      else registerFusedKernels(addon);
      if (arm === 'fused') registerAttentionKernels(addon);
      else unregisterAttentionKernels();
    };
    const fb = (): void => {
      const g = tf.tidy(() => tf.grads((...sh: tf.Tensor[]) => model.lossUnderShifts([tuple], new Map(gradModules.map((n, i) => [n, sh[i] as tf.Tensor2D]))))(zeros));
      tf.dispose(g);
    };
    const logits: Partial<Record<Arm, Float32Array>> = {};
    for (const arm of ['composite', 'fused'] as Arm[]) {
      set(arm);
      const l = model.forward([ids]);
      logits[arm] = l.dataSync() as Float32Array;
      l.dispose();
      fb();
    }
    let diff = 0;
    for (let i = 0; i < logits.fused!.length; i++) diff = Math.max(diff, Math.abs(logits.fused![i] - logits.composite![i]));
    const arms: Arm[] = ['composite', 'fused'];
    const wholeArms: Arm[] = ['composite', 'attn-composite', 'fused'];
    const fwd = (): void => model.forward([ids]).dispose();
    const calls: string[] = [];
    for (const arm of wholeArms) {
      set(arm);
      calls.push(`${arm} ${await kernelCalls(fwd)} / ${await kernelCalls(fb)}`);
    }
    const whole = timeArms(reps, wholeArms, set, { forward: fwd, 'forward+backward': fb });

    // Each piece alone at the model's shapes, with its gradient (sum of the output times a fixed r).
    const H = c.numHeads;
    const kvH = c.numKvHeads;
    const hd = c.headDim;
    const d = c.hiddenSize;
    const rnd = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed);
    const q = rnd([1, T, H, hd], 1) as tf.Tensor4D;
    const k = rnd([1, T, kvH, hd], 2) as tf.Tensor4D;
    const v = rnd([1, T, kvH, hd], 3) as tf.Tensor4D;
    const mask = tf.tensor4d(Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)), [1, 1, T, T]);
    const rAtt = rnd([T, H * hd], 4);
    const gate = rnd([T, c.intermediateSize], 5);
    const up = rnd([T, c.intermediateSize], 6);
    const rMlp = rnd([T, c.intermediateSize], 7);
    const x = rnd([T, d], 8);
    const w = tf.mul(rnd([d], 9), 0.1);
    const rNorm = rnd([T, d], 10);
    const att = (a: tf.Tensor): tf.Tensor => attention(a as tf.Tensor4D, k, v, { scale: 1 / Math.sqrt(hd), bias: mask, softcap: c.attnSoftcap });
    const withGrad = (f: (...a: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], r: tf.Tensor) => (): void => {
      tf.dispose(tf.tidy(() => tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), r)))(inputs)));
    };
    const ops = timeArms(reps * 10, arms, set, {
      'soft-capped attention': () => att(q).dispose(),
      'soft-capped attention + grad (q)': withGrad(att, [q], rAtt),
      'GeGLU': () => geluMul(gate, up).dispose(),
      'GeGLU + grad': withGrad((a, b) => geluMul(a, b), [gate, up], rMlp),
    });
    // (1 + w) with the fused kernels on in both arms: "composite" adds 1 to the weight first (one more Add each way),
    // "fused" passes the offset to the kernel.
    set('fused');
    let offsetInKernel = true;
    const norm = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => (offsetInKernel ? rmsNorm(a, b, c.normEps, 1) : rmsNorm(a, tf.add(b, 1), c.normEps));
    const offset = timeArms(reps * 10, arms, (arm) => {
      offsetInKernel = arm === 'fused';
    }, {
      forward: () => tf.dispose(tf.tidy(() => norm(x, w))),
      'forward + grad (x, w)': withGrad(norm, [x, w], rNorm),
    });
    console.log(`Gemma-2 ${JSON.stringify(CONFIG)}, T=${T}; ${reps} interleaved reps (pieces: ${reps * 10}); ${acceleratorStatus().reason}`);
    console.log(`max |logit difference| fused vs composite: ${diff.toExponential(2)}`);
    console.log(`kernel calls, forward / forward+backward: ${calls.join(', ')}`);
    report('whole model (composite = every fused and attention kernel unregistered, attn-composite = all but attention; BLAS matmuls in all):', whole);
    report('each piece alone:', ops);
    report('(1 + w) RMSNorm, fused kernels on in both ("composite" = tf.add(w, 1) then the kernel, "fused" = the offset in the kernel):', offset);
    tf.dispose([q, k, v, mask, rAtt, gate, up, rMlp, x, w, rNorm, ...zeros]);
    model.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
