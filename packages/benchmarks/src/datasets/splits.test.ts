import { splitRequests } from './index';

const items = (n: number, subjects?: (i: number) => string): { id: string; subject?: string }[] =>
  Array.from({ length: n }, (_, i) => ({ id: `r${i}`, ...(subjects ? { subject: subjects(i) } : {}) }));

const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id);

describe('splitRequests', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const xs = items(200);
    const a = splitRequests(xs, { seed: 1, sizes: { train: 100, validation: 20, evaluation: 50 } });
    const b = splitRequests(xs, { seed: 1, sizes: { train: 100, validation: 20, evaluation: 50 } });
    const c = splitRequests(xs, { seed: 2, sizes: { train: 100, validation: 20, evaluation: 50 } });
    expect(ids(a.train)).toEqual(ids(b.train));
    expect(ids(a.evaluation)).toEqual(ids(b.evaluation));
    expect(ids(a.train)).not.toEqual(ids(c.train));
  });

  it('does not depend on the input order', () => {
    const xs = items(120);
    const a = splitRequests(xs, { seed: 9 });
    const b = splitRequests([...xs].reverse(), { seed: 9 });
    expect(ids(a.train)).toEqual(ids(b.train));
    expect(ids(a.validation)).toEqual(ids(b.validation));
    expect(ids(a.evaluation)).toEqual(ids(b.evaluation));
  });

  it('gives disjoint splits of the asked sizes, shuffled', () => {
    const xs = items(100);
    const s = splitRequests(xs, { seed: 3, sizes: { train: 50, validation: 10, evaluation: 30 } });
    expect([s.train.length, s.validation.length, s.evaluation.length]).toEqual([50, 10, 30]);
    const all = [...ids(s.train), ...ids(s.validation), ...ids(s.evaluation)];
    expect(new Set(all).size).toBe(90);
    expect(ids(s.train)).not.toEqual(ids(xs).slice(0, 50));
  });

  it('defaults to 60/10/30 and uses every record', () => {
    const s = splitRequests(items(101), { seed: 0 });
    expect([s.train.length, s.validation.length, s.evaluation.length]).toEqual([60, 10, 31]);
  });

  it('keeps a subject inside one split', () => {
    const xs = items(90, (i) => `subj${i % 30}`);
    const s = splitRequests(xs, { seed: 5, sizes: { train: 40, validation: 10, evaluation: 30 } });
    const subj = (a: { subject?: string }[]): Set<string | undefined> => new Set(a.map((x) => x.subject));
    const tr = subj(s.train);
    for (const x of [...s.validation, ...s.evaluation]) expect(tr.has(x.subject)).toBe(false);
    for (const x of s.evaluation) expect(subj(s.validation).has(x.subject)).toBe(false);
  });

  it('by default hands out whole subject groups by cumulative fraction, using every record', () => {
    // Uneven groups (1 to 4 records): a 60/10/30 cut in record counts falls inside one for most seeds.
    const xs = items(300, (i) => `subj${Math.floor(i / (1 + (i % 4)))}`);
    for (let seed = 0; seed < 10; seed++) {
      const s = splitRequests(xs, { seed });
      const sizes = [s.train.length, s.validation.length, s.evaluation.length];
      expect(sizes[0] + sizes[1] + sizes[2]).toBe(300);
      expect(Math.abs(sizes[0] - 180)).toBeLessThanOrEqual(4);
      expect(Math.abs(sizes[1] - 30)).toBeLessThanOrEqual(4);
      const subj = (a: { subject?: string }[]): Set<string | undefined> => new Set(a.map((x) => x.subject));
      const [tr, va, ev] = [subj(s.train), subj(s.validation), subj(s.evaluation)];
      for (const x of ev) expect(tr.has(x) || va.has(x)).toBe(false);
      for (const x of va) expect(tr.has(x)).toBe(false);
    }
    // One subject for everything cannot fill three splits: a clear error, not an empty split.
    expect(() => splitRequests(items(10, () => 'same'), { seed: 1 })).toThrow(/no record left for the validation split.*groupBySubject: false/);
  });

  it('refuses impossible sizes, bad values and duplicate ids', () => {
    expect(() => splitRequests(items(10), { seed: 1, sizes: { train: 8, evaluation: 3 } })).toThrow(/= 11 records, but only 10 exist/);
    expect(() => splitRequests(items(10), { seed: 1, sizes: { train: 1.5 } })).toThrow(/sizes\.train must be a non-negative integer/);
    expect(() => splitRequests([{ id: 'a' }, { id: 'a' }], { seed: 1 })).toThrow(/duplicate id "a"/);
    const grouped = items(10, () => 'same');
    expect(() => splitRequests(grouped, { seed: 1, sizes: { train: 5, evaluation: 5 } })).toThrow(/only 0 records left for the evaluation split/);
    expect(splitRequests(grouped, { seed: 1, sizes: { train: 5, evaluation: 5 }, groupBySubject: false }).evaluation).toHaveLength(5);
  });
});
