/**
 * The models' attention runs as tensor-core's fused kernel when the accelerator is active (so the reference
 * tests, which compare logits, gradients and cached generation with PyTorch, cover it), and padded batches
 * and the KV-cache layout agree with unpadded single rows.
 */
import * as path from 'path';
import { attentionKernelsActive, tf } from '@hiedit/tensor-core';
import { loadModel, type CausalLM } from '../src';

const FIXTURES = path.join(__dirname, 'fixtures');

async function kernelNames(fn: () => void): Promise<string[]> {
  const info = await tf.profile(() => {
    fn();
    return [] as tf.Tensor[];
  });
  return info.kernels.map((k) => k.name);
}

describe.each([
  ['gpt2_tiny', 'HieditAttentionPacked'],
  ['llama_tiny', 'HieditAttention'],
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
    const bwd = await kernelNames(() => {
      const w = model.modules[0];
      const zero = tf.zeros([w.dIn, w.dOut]) as tf.Tensor2D;
      const g = tf.grad((s: tf.Tensor) => model.lossUnderShifts([{ ids: [1, 2, 3, 4], labels: [2, 3, 4, -100] }], new Map([[w.name, s as tf.Tensor2D]])))(zero);
      tf.dispose([zero, g]);
    });
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
    const gen = model.generate(b, 4);
    const seq = [...b];
    for (let i = 0; i < 4; i++) {
      const { data } = model.logits(seq);
      let best = 0;
      for (let v = 1; v < V; v++) if (data[(seq.length - 1) * V + v] > data[(seq.length - 1) * V + best]) best = v;
      seq.push(best);
    }
    expect(gen).toEqual(seq.slice(b.length));
    expect(tf.memory().numTensors).toBe(before);
  });
});
