import { caseMean, countSets, summarizeOracleGap, type EditSetScores } from './oracleGap';

describe('oracle gap arithmetic', () => {
  test('countSets is C(n, k) and stops past the cap', () => {
    expect([countSets(2, 1), countSets(6, 3), countSets(12, 6), countSets(4, 0), countSets(3, 4)]).toEqual([2, 20, 924, 1, 0]);
    expect(countSets(60, 30, 5000)).toBeGreaterThan(5000);
  });

  test('a case counts as the mean of the metrics it has', () => {
    expect(caseMean({ ES: 1, GS: 0.5, LS: 0 })).toBeCloseTo(0.5);
    expect(caseMean({ ES: 1, GS: null, LS: 0.5 })).toBeCloseTo(0.75);
  });

  test('oracle, best fixed set, gate, HiEdit and a random set from a score matrix', () => {
    const sets = [[0], [1], [2]];
    const modules = ['a', 'b', 'c'];
    const edit = (scores: number[], gate: number, hiedit: number): EditSetScores => ({ id: 'r', scores, gate, hiedit, hieditModules: [] });
    // set b is best on average (0.6); the per-edit best averages (0.9 + 0.8) / 2 = 0.85
    const edits = [edit([0.9, 0.5, 0.1], 0, 0.9), edit([0.2, 0.7, 0.8], 0, 0.2)];
    const s = summarizeOracleGap(edits, sets, modules);
    expect(s.oracleMean).toBeCloseTo(85);
    expect(s.bestFixedMean).toBeCloseTo(60);
    expect(s.bestFixedSet).toEqual(['b']);
    expect(s.gapPoints).toBeCloseTo(25);
    expect(s.gateMean).toBeCloseTo(55);
    expect(s.hieditMean).toBeCloseTo(55);
    expect(s.randomSetMean).toBeCloseTo(100 * (0.55 + 0.6 + 0.45) / 3);
    expect(s.setMeans).toEqual({ a: expect.closeTo(55), b: expect.closeTo(60), c: expect.closeTo(45) });
    expect([s.edits, s.sets]).toEqual([2, 3]);
    // a gate that picks another number of modules than k has no entry in the matrix
    expect(summarizeOracleGap([edit([0.5, 0.5, 0.5], -1, 0.5)], sets, modules).gateMean).toBeNull();
    expect(() => summarizeOracleGap([], sets, modules)).toThrow('oracle gap: no edits to judge');
  });
});
