import * as tf from '@tensorflow/tfjs';
import { Adam, DEFAULT_ADAM, namedVariables, type AdamConfig, type NamedVariables } from './adam';
import { initBackend } from './backend';

beforeAll(async () => {
  await initBackend();
});

/** AdamW with global-norm clipping in double precision, written out from the update rule. */
function reference(p0: number[][], grads: number[][][], cfg: AdamConfig): number[][] {
  const { lr, beta1: b1, beta2: b2, eps, weightDecay = 0, clipNorm = 0 } = cfg;
  const p = p0.map((x) => x.slice());
  const m = p.map((x) => x.map(() => 0));
  const v = p.map((x) => x.map(() => 0));
  grads.forEach((gs, t) => {
    let scale = 1;
    if (clipNorm > 0) {
      const norm = Math.sqrt(gs.flat().reduce((a, g) => a + g * g, 0));
      scale = Math.min(1, clipNorm / (norm + 1e-6));
    }
    gs.forEach((g, k) => {
      for (let i = 0; i < g.length; i++) {
        const gi = g[i] * scale;
        m[k][i] = b1 * m[k][i] + (1 - b1) * gi;
        v[k][i] = b2 * v[k][i] + (1 - b2) * gi * gi;
        const upd = m[k][i] / (1 - Math.pow(b1, t + 1)) / (Math.sqrt(v[k][i] / (1 - Math.pow(b2, t + 1))) + eps);
        p[k][i] -= lr * (upd + weightDecay * p[k][i]);
      }
    });
  });
  return p;
}

const init = [[1, 2, 3], [-0.5, 0.25]];
const grads = [
  [[0.5, -2, 0.01], [1, -1]],
  [[0.3, -1, -0.02], [0.5, 0.5]],
  [[-0.1, 0.5, 0.03], [-2, 0.1]],
  [[0.2, 0.2, 0.2], [0, 0.3]],
];

/** Runs Adam over `grads`; with `stopAt`, saves, drops and restores the optimizer before that step. */
function run(cfg: AdamConfig, stopAt?: number): number[][] {
  const vars = init.map((x) => tf.tidy(() => tf.variable(tf.tensor1d(x))));
  const params = namedVariables(vars);
  let adam = new Adam(cfg);
  grads.forEach((gs, t) => {
    if (t === stopAt) {
      const saved = adam.toHost();
      const step = adam.step;
      adam.dispose();
      adam = new Adam(cfg);
      adam.fromHost(step, saved);
    }
    const gt = gs.map((g) => tf.tensor1d(g));
    adam.apply(params, new Map(vars.map((v, i) => [v.name, gt[i]])));
    gt.forEach((g) => g.dispose());
  });
  const out = vars.map((v) => Array.from(v.dataSync()));
  adam.dispose();
  vars.forEach((v) => v.dispose());
  return out;
}

test.each([
  ['plain', { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8 }],
  ['clipped AdamW', { lr: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1, clipNorm: 1 }],
])('%s Adam matches the update rule, resumes bitwise and leaks no tensor', (_label, cfg: AdamConfig) => {
  const before = tf.memory().numTensors;
  const straight = run(cfg);
  const expected = reference(init, grads, cfg);
  straight.flat().forEach((x, i) => expect(Math.abs(x - expected.flat()[i])).toBeLessThan(1e-5));
  expect(run(cfg, 2)).toEqual(straight);
  expect(tf.memory().numTensors).toBe(before);
});

test('a learning rate passed to apply overrides the configured one, and parameters without a gradient stay put', () => {
  const a = tf.tidy(() => tf.variable(tf.tensor1d([1])));
  const b = tf.tidy(() => tf.variable(tf.tensor1d([5])));
  const adam = new Adam({ ...DEFAULT_ADAM, lr: 123 });
  const g = tf.tensor1d([1]);
  adam.apply(namedVariables([a, b]), new Map([[a.name, g]]), 0.5);
  // the first Adam step moves by lr * sign(g) (up to eps)
  expect(a.dataSync()[0]).toBeCloseTo(0.5, 5);
  expect(b.dataSync()[0]).toBe(5);
  expect(adam.toHost().map((h) => h.name)).toEqual([`m.${a.name}`, `v.${a.name}`]);
  adam.dispose();
  [a, b, g].forEach((t) => t.dispose());
});

test('a rate per parameter name updates each parameter as a single-rate step at its own rate would', () => {
  const before = tf.memory().numTensors;
  // parameter names as a policy's ParamSet gives them (variables themselves get unique engine names)
  const make = (): NamedVariables => {
    const byName = new Map([['high.w', tf.tidy(() => tf.variable(tf.tensor1d([1, -2])))], ['low.w', tf.tidy(() => tf.variable(tf.tensor1d([3, 4])))]]);
    return { names: () => [...byName.keys()], get: (n) => byName.get(n)! };
  };
  const g = new Map([['high.w', tf.tensor1d([0.5, -1])], ['low.w', tf.tensor1d([2, 0.25])]]);
  const step = (vars: NamedVariables, lr: number | ((n: string) => number)) => {
    const adam = new Adam({ ...DEFAULT_ADAM, clipNorm: 1 });
    for (let i = 0; i < 3; i++) adam.apply(vars, g, lr);
    adam.dispose();
    return vars.names().map((n) => Array.from(vars.get(n).dataSync()));
  };
  const [grouped, atHigh, atLow, bad] = [make(), make(), make(), make()];
  const mixed = step(grouped, (n) => (n.startsWith('high.') ? 0.3 : 0.01));
  expect(mixed[0]).toEqual(step(atHigh, 0.3)[0]);
  expect(mixed[1]).toEqual(step(atLow, 0.01)[1]);
  expect(mixed[0]).not.toEqual(mixed[1]);
  const adam = new Adam(DEFAULT_ADAM);
  expect(() => adam.apply(bad, g, (n) => (n === 'low.w' ? -1 : 0.1))).toThrow(/adam: invalid learning rate -1 for low\.w/);
  expect(Array.from(bad.get('high.w').dataSync())).toEqual([1, -2]);
  adam.dispose();
  for (const vars of [grouped, atHigh, atLow, bad]) vars.names().forEach((n) => vars.get(n).dispose());
  g.forEach((t) => t.dispose());
  expect(tf.memory().numTensors).toBe(before);
});

test('bad settings and bad saved state fail clearly', () => {
  expect(() => new Adam({ ...DEFAULT_ADAM, beta1: 1 })).toThrow(/adam: invalid settings/);
  expect(() => new Adam({ ...DEFAULT_ADAM, clipNorm: -1 })).toThrow(/adam: invalid settings/);
  const adam = new Adam(DEFAULT_ADAM);
  const before = tf.memory().numTensors;
  expect(() => adam.fromHost(1, [{ name: 'x.w', shape: [1], data: new Float32Array(1) }])).toThrow(/unknown moment x\.w/);
  expect(() => adam.fromHost(-1, [])).toThrow(/invalid step/);
  expect(tf.memory().numTensors).toBe(before);
  const v = tf.tidy(() => tf.variable(tf.scalar(1)));
  expect(() => namedVariables([v, v])).toThrow(/listed twice/);
  v.dispose();
});
