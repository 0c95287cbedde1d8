import { tf, initBackend } from '@hiedit/tensor-core';
import { Adam, ParamSet } from '@hiedit/rl-hierarchy';

beforeAll(async () => {
  await initBackend();
});

/** Adam in double precision, written out from the paper's update rule. */
function reference(p0: number[], grads: number[][], lr: number, b1: number, b2: number, eps: number): number[] {
  const p = p0.slice();
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, t) => {
    for (let i = 0; i < p.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mh = m[i] / (1 - Math.pow(b1, t + 1));
      const vh = v[i] / (1 - Math.pow(b2, t + 1));
      p[i] -= (lr * mh) / (Math.sqrt(vh) + eps);
    }
  });
  return p;
}

test('Adam matches the update rule and resumes bitwise from its serialized moments', () => {
  const before = tf.memory().numTensors;
  const grads = [[0.5, -2, 0.01], [0.3, -1, -0.02], [-0.1, 0.5, 0.03], [0.2, 0.2, 0.2]];
  const cfg = { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8 };
  const run = (stopAt?: number) => {
    const ps = new ParamSet();
    ps.add('w', tf.tensor1d([1, 2, 3]));
    let adam = new Adam(cfg);
    grads.forEach((g, t) => {
      if (t === stopAt) {
        const saved = adam.toHost();
        const step = adam.step;
        adam.dispose();
        adam = new Adam(cfg);
        adam.fromHost(step, saved);
      }
      const gt = tf.tensor1d(g);
      adam.apply(ps, new Map([['w', gt]]));
      gt.dispose();
    });
    const out = Array.from(ps.get('w').dataSync());
    adam.dispose();
    ps.dispose();
    return out;
  };
  const straight = run();
  const expected = reference([1, 2, 3], grads, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps);
  straight.forEach((x, i) => expect(Math.abs(x - expected[i])).toBeLessThan(1e-5));
  expect(run(2)).toEqual(straight);
  expect(tf.memory().numTensors).toBe(before);
});
