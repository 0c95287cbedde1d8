import { initBackend, tf } from '@hiedit/tensor-core';
import { planBatches, teacherForcedStats } from './batch';
import { beginsWith, generationSuccess, splitTuple } from './generation';
import { measureCases, measureRetention, recordLocalityBaseline, recordRetentionBaseline, summarize, baselineFromJSON, baselineToJSON } from './metrics';
import { curveCheckpoints, moduleHeatmap, runEvalStream } from './stream';
import { BigramModel, tuple } from './testing';
import type { EvalCase } from './types';

// Vocabulary of the toy world: prompt tokens 1..3, answers 4..9.
const V = 12;

function caseA(): EvalCase {
  return {
    id: 'a',
    edit: tuple([1, 2], [4, 5]), // position of token 2 predicts 4, of token 4 predicts 5
    paraphrases: [tuple([3, 2], [4, 5])],
    locality: [tuple([6], [7, 8])], // token 6 -> 7, token 7 -> 8
    oldAnswer: [9, 5],
  };
}

beforeAll(async () => {
  await initBackend();
});

describe('teacher-forced metrics on a bigram model', () => {
  let model: BigramModel;
  beforeEach(() => {
    model = new BigramModel(V);
  });
  afterEach(() => model.dispose());

  test('ES is token accuracy (zsRE style) and the logit contest (CounterFact style)', () => {
    model.setNext(2, 4);
    model.setNext(4, 9); // second answer token wrong
    const before = tf.memory().numTensors;
    const [s] = measureCases(model, [caseA()], undefined, { style: 'zsre', wild: false });
    expect(s.ES).toBeCloseTo(0.5);
    expect(s.GS).toBeCloseTo(0.5); // the paraphrase ends in the same token 2
    // CounterFact: position 0 compares 4 vs 9 (4 wins); position 1 has the same token 5 in both answers,
    // so only one position is compared.
    const [c] = measureCases(model, [caseA()], undefined, { style: 'counterfact', wild: false });
    expect(c.ES).toBe(1);
    model.setRow(2, [0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0]); // old answer token 9 now beats 4
    const [c2] = measureCases(model, [caseA()], undefined, { style: 'counterfact', wild: false });
    expect(c2.ES).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('LS compares with the unedited argmax; LS_gold with the true answer', () => {
    model.setNext(6, 7);
    model.setNext(7, 3); // the model does not know the second locality token
    const baseline = recordLocalityBaseline(model, [caseA()]);
    let [s] = measureCases(model, [caseA()], baseline, { style: 'zsre', wild: false });
    expect(s.LS).toBe(1);
    expect(s.LS_gold).toBeCloseTo(0.5);
    model.setNext(6, 1); // an edit broke the first locality token
    [s] = measureCases(model, [caseA()], baseline, { style: 'zsre', wild: false });
    expect(s.LS).toBeCloseTo(0.5);
    expect(s.LS_gold).toBe(0);
    // The baseline survives a JSON round trip (resume state).
    const again = baselineFromJSON(JSON.parse(JSON.stringify(baselineToJSON(baseline))));
    expect(Array.from(again.byCase.get('a')![0])).toEqual(Array.from(baseline.byCase.get('a')![0]));
    expect(() => baselineFromJSON({ a: [['x']] })).toThrow(/case "a"/);
  });

  test('WILD needs every generated token right, while teacher forcing gives partial credit', () => {
    model.setNext(2, 4);
    model.setNext(4, 9);
    let [s] = measureCases(model, [caseA()], undefined, { style: 'zsre' });
    expect(s.ES).toBeCloseTo(0.5);
    expect(s.WILD_ES).toBe(0);
    model.setNext(4, 5);
    [s] = measureCases(model, [caseA()], undefined, { style: 'zsre' });
    expect(s.WILD_ES).toBe(1);
    expect(s.WILD_GS).toBe(1);
  });

  test('generation compares text at word boundaries when a decoder is given', () => {
    const words: Record<number, string> = { 4: ' Par', 5: 'is', 6: 'ian', 7: ' is', 9: ' Paris' };
    const decode = (ids: number[]) => ids.map((i) => words[i] ?? ' ?').join('');
    expect(beginsWith([9, 7], [4, 5], decode)).toBe(true); // other tokenization, same text
    expect(beginsWith([4, 5, 6], [4, 5], decode)).toBe(false); // "Parisian" is not "Paris"
    expect(beginsWith([4, 5], [4, 5])).toBe(true);
    expect(beginsWith([4], [4, 5])).toBe(false);
    model.setNext(2, 9);
    model.setNext(9, 7);
    expect(generationSuccess(model, [tuple([1, 2], [4, 5])], decode)).toEqual([1]);
    expect(generationSuccess(model, [tuple([1, 2], [4, 5])])).toEqual([0]);
  });

  test('splitTuple recovers prompt and answer', () => {
    expect(splitTuple(tuple([1, 2, 3], [4, 5, 6]))).toEqual({ prompt: [1, 2, 3], answer: [4, 5, 6] });
    expect(() => splitTuple({ ids: [1], labels: [-100] })).toThrow(/no answer/);
  });

  test('batches respect the logit budget and results map back to input order', () => {
    expect(planBatches([3, 1, 2], 10, { maxLogits: 60 })).toEqual([[1, 2], [0]]);
    model.setNext(1, 4);
    model.setNext(2, 5);
    const tuples = [tuple([1], [4]), tuple([3, 3, 2], [5]), tuple([2], [6])];
    const stats = teacherForcedStats(model, tuples, undefined, { maxLogits: 2 * 3 * V });
    expect(stats.map((s) => Array.from(s.pred))).toEqual([[4], [5], [5]]);
    expect(model.forwardShapes.length).toBeGreaterThan(1);
    expect(() => teacherForcedStats(model, [{ ids: [1, 2], labels: [-100] }])).toThrow(/tuple 0: ids \(2\) and labels \(1\)/);
  });

  test('summaries average only the requests that have a metric; Pre_* is a prefix', () => {
    const s = summarize([
      { id: 'x', ES: 1, GS: null, LS: 1, LS_gold: 0, WILD_ES: 1, WILD_GS: null },
      { id: 'y', ES: 0, GS: 0.5, LS: 0, LS_gold: 1, WILD_ES: 0, WILD_GS: null },
    ]);
    expect(s).toEqual({ ES: 0.5, GS: 0.5, LS: 0.5, LS_gold: 0.5, WILD_ES: 0.5, WILD_GS: null });
  });

  test('retention counts the held-out tokens the model still knows', () => {
    model.setNext(1, 4);
    model.setNext(2, 5);
    const facts = [tuple([1], [4]), tuple([2], [5]), tuple([3], [6])];
    const base = recordRetentionBaseline(model, facts);
    model.setNext(2, 6); // forgets the second fact
    const r = measureRetention(model, facts, base);
    expect(r.before).toBeCloseTo(2 / 3);
    expect(r.after).toBeCloseTo(1 / 3);
    expect(r.retention).toBeCloseTo(0.5);
  });
});

describe('the evaluation stream', () => {
  test('checkpoints follow 10, 20, 50, ... and end at n', () => {
    expect(curveCheckpoints(0)).toEqual([]);
    expect(curveCheckpoints(3)).toEqual([1, 2, 3]);
    expect(curveCheckpoints(10)).toEqual([10]);
    expect(curveCheckpoints(100)).toEqual([10, 20, 50, 100]);
    expect(curveCheckpoints(250)).toEqual([10, 20, 50, 100, 200, 250]);
  });

  test('edits, times and curves are recorded; curves measure the requests edited so far', async () => {
    const model = new BigramModel(V);
    const cases: EvalCase[] = [
      { id: 'p', edit: tuple([1], [4]), paraphrases: [], locality: [] },
      { id: 'q', edit: tuple([2], [5]), paraphrases: [], locality: [] },
    ];
    const baseline = recordLocalityBaseline(model, cases);
    let clock = 0;
    const rec = await runEvalStream(
      model,
      cases,
      (c, i) => {
        clock += 5 * (i + 1);
        // "Edit": make the prompt's last token predict the answer, the way a perfect editor would.
        model.setNext(c.edit.ids[c.edit.ids.length - 1], c.edit.labels[c.edit.labels.length - 1]);
        return { modules: ['table', 'table'], movedOn: i === 1 };
      },
      { measure: { style: 'zsre' }, baseline, now: () => clock },
    );
    expect(rec.msPerEdit).toEqual([5, 10]);
    expect(rec.modulesPerEdit).toEqual([['table'], ['table']]);
    expect(rec.movedOnEdits).toBe(1);
    expect(rec.curve).toEqual([
      { edits: 1, ES: 1, GS: null, LS: null },
      { edits: 2, ES: 1, GS: null, LS: null },
    ]);
    model.dispose();
  });

  test('the module heat map gives the fraction of edits per bucket', () => {
    const h = moduleHeatmap([['a'], ['a', 'b'], ['b'], ['c']], ['a', 'b'], 2);
    expect(h.modules).toEqual(['a', 'b', 'c']);
    expect(h.edges).toEqual([0, 2, 4]);
    expect(h.values).toEqual([
      [1, 0],
      [0.5, 0.5],
      [0, 0.5],
    ]);
  });
});
