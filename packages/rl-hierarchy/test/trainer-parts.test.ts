import { tf, initBackend, SeededRandom } from '@hiedit/tensor-core';
import { HiEditPolicy } from '@hiedit/rl-hierarchy';
import { RunPosition } from '../src/trainer/run-position';
import { EarlyStopping } from '../src/trainer/early-stop';
import { ToyLM } from './toy-lm';

beforeAll(async () => {
  await initBackend();
});

describe('RunPosition', () => {
  test('the back-tracking window is cut at the start of the epoch and ends at the current request', () => {
    const p = new RunPosition();
    p.startEpoch(5, false, new SeededRandom(1));
    expect(p.order).toEqual([0, 1, 2, 3, 4]);
    expect(p.window(3)).toEqual([0]);
    p.advance(2);
    p.advance(4);
    p.advance(6);
    expect(p.current()).toBe(3);
    expect(p.window(3)).toEqual([1, 2, 3]);
    expect(p.window(1)).toEqual([3]);
    expect({ step: p.step, sum: p.epochLossSum, count: p.epochLossCount }).toEqual({ step: 3, sum: 12, count: 3 });
    p.nextEpoch();
    expect({ epoch: p.epoch, order: p.order, position: p.position, step: p.step }).toEqual({ epoch: 1, order: null, position: 0, step: 3 });
  });

  test('a shuffled epoch is a seeded permutation and starts its loss sums over', () => {
    const p = new RunPosition();
    p.epochLossSum = 9;
    p.epochLossCount = 2;
    p.startEpoch(6, true, new SeededRandom(7));
    const again = new RunPosition();
    again.startEpoch(6, true, new SeededRandom(7));
    expect(p.order).toEqual(again.order);
    expect([...p.order!].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect({ sum: p.epochLossSum, count: p.epochLossCount }).toEqual({ sum: 0, count: 0 });
  });
});

describe('EarlyStopping', () => {
  test('keeps the best policy, counts epochs without improvement, and puts the best back', () => {
    const model = new ToyLM({ vocab: 11, dim: 6, ffn: 8, seed: 3 });
    const policy = new HiEditPolicy(model.modules, { low: { rank: 3, blocks: 1, initEta: 0.05 }, high: { hidden: 6, k: 2 }, seed: 5 });
    const first = policy.params.names()[0];
    const value = () => Array.from(policy.params.get(first).dataSync());
    const stop = new EarlyStopping();
    expect(stop.record(2, policy)).toBe(true);
    const best = value();
    tf.tidy(() => policy.params.get(first).assign(tf.add(policy.params.get(first), 1)));
    expect(stop.record(3, policy)).toBe(false);
    expect(stop.shouldStop(2)).toBe(false);
    expect(stop.record(2, policy)).toBe(false);
    expect(stop.shouldStop(2)).toBe(true);
    expect(stop.bestValidation).toBe(2);
    expect(value()).not.toEqual(best);
    stop.restoreBest(policy);
    expect(value()).toEqual(best);
    expect(stop.record(1, policy)).toBe(true);
    expect(stop.badEpochs).toBe(0);
    policy.dispose();
    model.dispose();
  });
});
