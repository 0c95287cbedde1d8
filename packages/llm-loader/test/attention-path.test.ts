/**
 * The models' attention runs as tensor-core's fused kernel when the accelerator is active (so the reference
 * tests, which compare logits, gradients and cached generation with PyTorch, cover it), and padded batches
 * and the KV-cache layout agree with unpadded single rows.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { attentionKernelsActive, installAccelerator, tf, uninstallAccelerator } from '@hiedit/tensor-core';
import { createTinyCheckpoint, loadModel, type CausalLM } from '../src';
import { relL2 } from './compare';

const FIXTURES = path.join(__dirname, 'fixtures');

async function kernelNames(fn: () => void): Promise<string[]> {
  const info = await tf.profile(() => {
    fn();
    return [] as tf.Tensor[];
  });
  return info.kernels.map((k) => k.name);
}

/** Kernels run by the gradient of a one-tuple loss through a shift of the model's first module. */
async function backwardKernelNames(model: CausalLM): Promise<string[]> {
  return kernelNames(() => {
    const w = model.modules[0];
    const zero = tf.zeros([w.dIn, w.dOut]) as tf.Tensor2D;
    const g = tf.grad((s: tf.Tensor) => model.lossUnderShifts([{ ids: [1, 2, 3, 4], labels: [2, 3, 4, -100] }], new Map([[w.name, s as tf.Tensor2D]])))(zero);
    tf.dispose([zero, g]);
  });
}

/** n greedy tokens after `prompt`, each from a full forward over the sequence so far (no KV cache). */
function greedyByFullForwards(model: CausalLM, prompt: number[], n: number): number[] {
  const V = model.config.vocabSize;
  const seq = [...prompt];
  for (let i = 0; i < n; i++) {
    const { data } = model.logits(seq);
    let best = 0;
    for (let v = 1; v < V; v++) if (data[(seq.length - 1) * V + v] > data[(seq.length - 1) * V + best]) best = v;
    seq.push(best);
  }
  return seq.slice(prompt.length);
}

describe.each([
  ['gpt2_tiny', 'HieditAttentionPacked'],
  ['llama_tiny', 'HieditAttention'],
  ['qwen3_tiny', 'HieditAttention'],
])('attention path of %s', (name, kernel) => {
  let model: CausalLM;
  beforeAll(async () => {
    model = await loadModel(path.join(FIXTURES, name));
  });
  afterAll(() => model?.dispose());

  test('forward and backward use the fused kernels when the accelerator is active, and no transposes', async () => {
    if (!attentionKernelsActive()) {
      console.log(`${name}: fused attention kernels inactive (no accelerator or HIEDIT_ACCELERATOR=off); only the composite path runs`);
      return;
    }
    const fwd = await kernelNames(() => model.forward([[1, 2, 3, 4, 5]]).dispose());
    expect(fwd.filter((k) => k === kernel)).toHaveLength(model.config.numLayers);
    expect(fwd).not.toContain('Transpose');
    expect(fwd).not.toContain('Softmax');
    const bwd = await backwardKernelNames(model);
    expect(bwd).toContain('HieditAttentionGrad');
    expect(bwd).not.toContain('Softmax');
  });

  test('a right-padded batch row and cached generation agree with the single unpadded row', () => {
    const before = tf.memory().numTensors;
    const a = [5, 9, 2, 7, 1, 3];
    const b = [4, 8, 6];
    const single = model.logits(b).data;
    const batch = model.forward([a, [...b, 0, 0, 0]], [a.map(() => 1), [1, 1, 1, 0, 0, 0]]);
    const rows = batch.dataSync();
    const V = model.config.vocabSize;
    let worst = 0;
    for (let i = 0; i < b.length * V; i++) worst = Math.max(worst, Math.abs(rows[6 * V + i] - single[i]));
    expect(worst).toBeLessThan(1e-4);
    batch.dispose();
    // Greedy generation with the KV cache equals argmax decoding by full forwards (no cache).
    expect(model.generate(b, 4)).toEqual(greedyByFullForwards(model, b, 4));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('Gemma-2 attention path', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gemma-path-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('soft-capped attention, the (1 + w) norms and GeGLU run as fused kernels, forward and backward (composite without the accelerator)', async () => {
    const capped = await loadModel(path.join(FIXTURES, 'gemma2_tiny'));
    const dir = path.join(tmp, 'uncapped');
    await createTinyCheckpoint(dir, { architecture: 'gemma2', seed: 2, config: { attn_logit_softcapping: null } });
    const uncapped = await loadModel(dir);
    try {
      if (!attentionKernelsActive()) {
        console.log('gemma2: fused attention kernels inactive (no accelerator or HIEDIT_ACCELERATOR=off); only the composite path runs');
        const a = await kernelNames(() => capped.forward([[1, 2, 3, 4, 5]]).dispose());
        expect(a.some((k) => k.startsWith('Hiedit'))).toBe(false);
        return;
      }
      const L = capped.config.numLayers;
      const a = await kernelNames(() => capped.forward([[1, 2, 3, 4, 5]]).dispose());
      expect(a.filter((k) => k === 'HieditAttention')).toHaveLength(L);
      expect(a.filter((k) => k === 'HieditGeluMul')).toHaveLength(L);
      // Four norms per layer and the final one, each with its (1 + w) inside the kernel: no Add of the weight.
      expect(a.filter((k) => k === 'HieditRmsNorm')).toHaveLength(4 * L + 1);
      // The only Tanh left is the final logits' soft-cap.
      expect(a.filter((k) => k === 'Tanh')).toHaveLength(1);
      expect(a).not.toContain('Softmax');
      const bwd = await backwardKernelNames(capped);
      expect(bwd.filter((k) => k === 'HieditAttentionGrad')).toHaveLength(L);
      expect(bwd.filter((k) => k === 'HieditGeluMulGrad')).toHaveLength(L);
      expect(bwd).not.toContain('Softmax');
      const b = await kernelNames(() => uncapped.forward([[1, 2, 3, 4, 5]]).dispose());
      expect(b.filter((k) => k === 'HieditAttention')).toHaveLength(uncapped.config.numLayers);
    } finally {
      capped.dispose();
      uncapped.dispose();
    }
  });

  test('with a window shorter than the rows, a right-padded batch row and cached generation agree with the single row', async () => {
    const dir = path.join(tmp, 'windowed');
    await createTinyCheckpoint(dir, { architecture: 'gemma2', seed: 3, config: { sliding_window: 3 } });
    const model = await loadModel(dir);
    try {
      const before = tf.memory().numTensors;
      const a = [5, 9, 2, 7, 1, 3, 8, 4];
      const b = [4, 8, 6, 2, 9];
      const V = model.config.vocabSize;
      const single = model.logits(b).data;
      const batch = model.forward([a, [...b, 0, 0, 0]], [a.map(() => 1), [1, 1, 1, 1, 1, 0, 0, 0]]);
      const rows = batch.dataSync();
      batch.dispose();
      let worst = 0;
      for (let i = 0; i < b.length * V; i++) worst = Math.max(worst, Math.abs(rows[a.length * V + i] - single[i]));
      expect(worst).toBeLessThan(1e-4);
      expect(model.generate(b, 5)).toEqual(greedyByFullForwards(model, b, 5));
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  test('fused and composite agree on a windowed, soft-capped Gemma-2: logits, loss, gradients, cached generation', async () => {
    if (!attentionKernelsActive()) {
      console.log('gemma2: no fused kernels to compare with (no accelerator or HIEDIT_ACCELERATOR=off)');
      return;
    }
    const dir = path.join(tmp, 'fused-vs-composite');
    await createTinyCheckpoint(dir, { architecture: 'gemma2', seed: 4, config: { sliding_window: 3, attn_logit_softcapping: 2 } });
    const model = await loadModel(dir);
    const ids = [5, 9, 2, 7, 1, 3, 8, 4];
    const params = [
      'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.gate_proj.weight', 'model.layers.1.input_layernorm.weight',
      'model.layers.2.post_feedforward_layernorm.weight', 'model.norm.weight',
    ];
    const run = (): { logits: Float32Array; loss: number; grads: Float32Array[]; tokens: number[] } => ({
      logits: model.logits(ids).data,
      loss: model.loss(ids),
      grads: params.map((p) => model.grad(p, ids).grad),
      tokens: model.generate(ids.slice(0, 5), 6),
    });
    try {
      const before = tf.memory().numTensors;
      const fused = run();
      uninstallAccelerator();
      expect(attentionKernelsActive()).toBe(false);
      const composite = run();
      expect(tf.memory().numTensors).toBe(before);
      expect(fused.tokens).toEqual(composite.tokens);
      expect(relL2(fused.logits, composite.logits)).toBeLessThan(1e-5);
      expect(Math.abs(fused.loss - composite.loss)).toBeLessThan(1e-5);
      fused.grads.forEach((g, i) => expect(relL2(g, composite.grads[i])).toBeLessThan(1e-5));
    } finally {
      installAccelerator('wasm');
      model.dispose();
    }
    expect(attentionKernelsActive()).toBe(true);
  });
});
