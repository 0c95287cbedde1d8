import { SeededRandom } from './random';

function draw(r: SeededRandom, n: number): number[] {
  return Array.from({ length: n }, () => r.next());
}

describe('SeededRandom', () => {
  it('is reproducible per seed and differs between seeds', () => {
    expect(draw(new SeededRandom(42), 20)).toEqual(draw(new SeededRandom(42), 20));
    expect(draw(new SeededRandom(42), 20)).not.toEqual(draw(new SeededRandom(43), 20));
    expect(draw(new SeededRandom(2 ** 40), 5)).not.toEqual(draw(new SeededRandom(0), 5));
    expect(draw(new SeededRandom(-1), 5)).not.toEqual(draw(new SeededRandom(2 ** 32 - 1), 5));
    expect(() => new SeededRandom(1.5)).toThrow(/safe integer/);
  });

  it('implements xoshiro128** (known-state check)', () => {
    // From state s = [1, 2, 3, 4], the reference C implementation's first outputs are 11520, 0, 5927040.
    const r = new SeededRandom(0);
    r.setState([0, 0, 1, 2, 3, 4, 0, 0]);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([11520, 0, 5927040]);
  });

  it('next() is in [0, 1) with a plausible mean; int() is unbiased and in range', () => {
    const r = new SeededRandom(1);
    const xs = draw(r, 20000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((a, b) => a + b, 0) / xs.length - 0.5)).toBeLessThan(0.01);
    const counts = [0, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 70000; i++) counts[r.int(7)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400);
    expect(() => r.int(0)).toThrow(/positive safe integer/);
  });

  it('normal() has mean 0 and variance 1', () => {
    const r = new SeededRandom(5);
    const n = 40000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });

  it('shuffle is a seeded permutation', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    const s1 = new SeededRandom(9).shuffle(a.slice());
    const s2 = new SeededRandom(9).shuffle(a.slice());
    expect(s1).toEqual(s2);
    expect(s1).not.toEqual(a);
    expect(s1.slice().sort((x, y) => x - y)).toEqual(a);
  });

  it('fork depends on seed and label only, not on draws made by the parent', () => {
    const p1 = new SeededRandom(3);
    const p2 = new SeededRandom(3);
    draw(p2, 17);
    expect(draw(p1.fork('policy'), 10)).toEqual(draw(p2.fork('policy'), 10));
    expect(draw(p1.fork('policy'), 10)).not.toEqual(draw(p1.fork('data'), 10));
    expect(draw(p1.fork('policy'), 10)).not.toEqual(draw(new SeededRandom(4).fork('policy'), 10));
    expect(draw(p1.fork('a').fork('b'), 5)).not.toEqual(draw(p1.fork('b').fork('a'), 5));
    // the child's stream is not the parent's
    expect(draw(new SeededRandom(3).fork('x'), 5)).not.toEqual(draw(new SeededRandom(3), 5));
  });

  it('getState/setState resume exactly, including a pending Box-Muller value', () => {
    const r = new SeededRandom(8);
    r.normal(); // leaves the pair's second value pending
    const state = JSON.parse(JSON.stringify(r.getState()));
    const expected = [r.normal(), r.next(), r.normal(), r.int(1000)];
    const resumed = new SeededRandom(0);
    resumed.setState(state);
    expect([resumed.normal(), resumed.next(), resumed.normal(), resumed.int(1000)]).toEqual(expected);
    expect(draw(resumed.fork('k'), 3)).toEqual(draw(r.fork('k'), 3));
    expect(() => resumed.setState([1, 2, 3])).toThrow(/expected 8 numbers/);
    expect(() => resumed.setState([0, 0, 0, 0, 0, 0, 0, 0])).toThrow(/expected 8 numbers/);
  });
});
