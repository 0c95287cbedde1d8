import { byStreamPosition } from './position';
import type { CaseScores } from './types';

const score = (id: number, ES: number, GS: number | null = ES, LS: number | null = 1): CaseScores =>
  ({ id: `r${id}`, ES, GS, LS, LS_gold: null, WILD_ES: null, WILD_GS: null });

describe('byStreamPosition', () => {
  test('groups the stream into contiguous, near-equal buckets and averages each', () => {
    // 7 edits in 3 buckets: sizes 2, 2, 3 (floor(b*n/k) boundaries 0, 2, 4, 7)
    const scores = [score(1, 1), score(2, 0), score(3, 1), score(4, 1), score(5, 0, null), score(6, 0, 0.5), score(7, 1, 1, null)];
    const applied = [true, false, true, true, false, true, true];
    const b = byStreamPosition(scores, applied, 3);
    expect(b.map((x) => [x.from, x.to])).toEqual([[1, 2], [3, 4], [5, 7]]);
    expect(b[0]).toMatchObject({ ES: 0.5, GS: 0.5, LS: 1, applied: 0.5 });
    expect(b[1]).toMatchObject({ ES: 1, GS: 1, LS: 1, applied: 1 });
    // nulls are left out of a bucket's mean, as in the overall metrics
    expect(b[2].ES).toBeCloseTo(1 / 3, 12);
    expect(b[2].GS).toBeCloseTo(0.75, 12);
    expect(b[2].LS).toBe(1);
    expect(b[2].applied).toBeCloseTo(2 / 3, 12);
  });

  test('never makes more buckets than edits, and refuses mismatched or bad input', () => {
    expect(byStreamPosition([score(1, 1), score(2, 0)], [true, true], 10).map((x) => [x.from, x.to])).toEqual([[1, 1], [2, 2]]);
    expect(byStreamPosition([], [], 10)).toEqual([]);
    expect(() => byStreamPosition([score(1, 1)], [], 2)).toThrow(/1 scored edits but 0 applied flags/);
    expect(() => byStreamPosition([score(1, 1)], [true], 0)).toThrow(/buckets must be an integer >= 1, got 0/);
  });
});
