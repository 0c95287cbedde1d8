import * as tf from '@tensorflow/tfjs';
import { untaped } from './untaped';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

test('same value; downstream gradients unchanged; fewer ops recorded', async () => {
  const x = tf.tensor2d([[0.5, -1, 2], [1.5, 0.25, -0.75]]);
  const w = tf.tensor2d([[1, -2], [0.5, 3], [2, -1]]);
  const before = tf.memory().numTensors;
  const prefix = (t: tf.Tensor2D): tf.Tensor2D => tf.tanh(tf.mul(tf.add(t, 1), t)) as tf.Tensor2D;
  const a = untaped(x, prefix);
  const b = tf.tidy(() => prefix(x));
  expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
  tf.dispose([a, b]);
  expect(tf.memory().numTensors).toBe(before);
  // Gradient w.r.t. w only: the prefix (on x) is not on the path.
  const f = (useUntaped: boolean) => (wi: tf.Tensor) => tf.sum(tf.square(tf.matMul(useUntaped ? untaped(x, prefix) : prefix(x), wi as tf.Tensor2D)));
  const g1 = tf.grad(f(true))(w);
  const g2 = tf.grad(f(false))(w);
  expect(Array.from(g1.dataSync())).toEqual(Array.from(g2.dataSync()));
  tf.dispose([g1, g2]);
  expect(tf.memory().numTensors).toBe(before);
  // Saved tensors: with the prefix untaped the engine clones fewer tensors for the backward pass.
  const identities = async (useUntaped: boolean): Promise<number> => {
    const p = await tf.profile(() => {
      tf.dispose(tf.grad(f(useUntaped))(w));
      return [] as tf.Tensor[];
    });
    return p.kernels.filter((k) => k.name === 'Identity').length;
  };
  expect(await identities(true)).toBeLessThan(await identities(false));
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, w]);
});

test('a gradient through the untaped part is a clear error, not a silent zero', () => {
  const x = tf.tensor1d([1, 2, 3]);
  expect(() => tf.grad((xi: tf.Tensor) => tf.sum(untaped(xi, (t) => tf.square(t), 'gpt2 prefix')))(x)).toThrow(/gpt2 prefix: a gradient was requested/);
  x.dispose();
});
