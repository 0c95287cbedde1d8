import { tf, initBackend, namedVariables } from '@hiedit/tensor-core';
import { Adam, ParamSet } from '@hiedit/rl-hierarchy';

// Adam itself (update rule, bitwise resume) is tested in tensor-core; what belongs here is that the
// policies' ParamSet plugs into it exactly like plain named variables.
beforeAll(async () => {
  await initBackend();
});

test('Adam over a ParamSet updates exactly as over the same named variables', () => {
  const before = tf.memory().numTensors;
  const grads = [[0.5, -2, 0.01], [0.3, -1, -0.02], [-0.1, 0.5, 0.03]];
  const cfg = { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8 };

  const ps = new ParamSet();
  ps.add('w', tf.tensor1d([1, 2, 3]));
  const plain = tf.tidy(() => tf.variable(tf.tensor1d([1, 2, 3])));
  const viaSet = new Adam(cfg);
  const viaVars = new Adam(cfg);
  for (const g of grads) {
    const gt = tf.tensor1d(g);
    viaSet.apply(ps, new Map([['w', gt]]));
    viaVars.apply(namedVariables([plain]), new Map([[plain.name, gt]]));
    gt.dispose();
  }
  const a = Array.from(ps.get('w').dataSync());
  expect(a).toEqual(Array.from(plain.dataSync()));
  expect(a).not.toEqual([1, 2, 3]);

  viaSet.dispose();
  viaVars.dispose();
  ps.dispose();
  plain.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
