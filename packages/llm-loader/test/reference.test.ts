/**
 * The checked-in reference checkpoints (copied from ../shared/reference) against outputs computed by an
 * independent float64 PyTorch implementation: logits, argmax, loss, gradients and greedy tokens.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '@hiedit/tensor-core';
import { loadModel, type CausalLM } from '../src';
import { relL2 } from './compare';

interface Reference {
  input_ids: number[];
  logits: number[];
  logits_shape: [number, number];
  argmax_per_position: number[];
  loss: number;
  grads: Record<string, { shape: number[]; values: number[] }>;
  grad_l2_norms?: Record<string, number>;
  greedy: { prompt: number[]; generated: number[] };
}

const FIXTURES = path.join(__dirname, 'fixtures');

describe.each(['gpt2_tiny', 'llama_tiny', 'gemma2_tiny', 'qwen3_tiny'])('reference checkpoint %s', (name) => {
  const dir = path.join(FIXTURES, name);
  const ref: Reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
  let model: CausalLM;

  beforeAll(async () => {
    model = await loadModel(dir);
  });
  afterAll(() => model?.dispose());

  it('reproduces logits within 1e-4 and the argmax at every position', () => {
    const { shape, data } = model.logits(ref.input_ids);
    expect(shape).toEqual(ref.logits_shape);
    let maxErr = 0;
    for (let i = 0; i < data.length; i++) maxErr = Math.max(maxErr, Math.abs(data[i] - ref.logits[i]));
    expect(maxErr).toBeLessThan(1e-4);
    const [T, V] = shape;
    for (let t = 0; t < T; t++) {
      let best = 0;
      for (let v = 1; v < V; v++) if (data[t * V + v] > data[t * V + best]) best = v;
      expect(best).toBe(ref.argmax_per_position[t]);
    }
  });

  it('reproduces the loss', () => {
    expect(Math.abs(model.loss(ref.input_ids) - ref.loss)).toBeLessThan(1e-4);
  });

  it('reproduces every reference gradient within 1e-4 relative L2, in checkpoint layout', () => {
    for (const [param, g] of Object.entries(ref.grads)) {
      const out = model.grad(param, ref.input_ids);
      expect(out.shape).toEqual(g.shape);
      expect(relL2(out.grad, g.values)).toBeLessThan(1e-4);
      expect(Math.abs(out.loss - ref.loss)).toBeLessThan(1e-4);
    }
  });

  it('matches the gradient norm of every tensor the reference lists', () => {
    const norms = Object.entries(ref.grad_l2_norms ?? {});
    for (const [param, norm] of norms) {
      const { grad } = model.grad(param, ref.input_ids);
      let s = 0;
      for (const x of grad) s += x * x;
      expect(Math.abs(Math.sqrt(s) - norm) / Math.max(norm, 1e-12)).toBeLessThan(1e-4);
    }
  });

  it('generates the same 8 greedy tokens', () => {
    expect(model.generate(ref.greedy.prompt, ref.greedy.generated.length)).toEqual(ref.greedy.generated);
  });

  it('leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    model.logits(ref.input_ids);
    model.loss(ref.input_ids);
    model.grad(Object.keys(ref.grads)[0], ref.input_ids);
    model.generate(ref.greedy.prompt, 3);
    expect(tf.memory().numTensors).toBe(before);
  });
});
