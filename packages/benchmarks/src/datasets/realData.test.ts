/**
 * Optional checks over the public datasets in ../shared/data. A fresh clone has no such folder: then
 * every test here is skipped with a printed reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadDataset, splitRequests, trueFacts } from './index';

const DATA = path.resolve(__dirname, '../../../../../shared/data');
const present = (f: string): boolean => fs.existsSync(path.join(DATA, f));
const maybe = (f: string): jest.It => {
  if (present(f)) return it;
  // eslint-disable-next-line no-console
  console.log(`skipping real-data test on ${f}: ${path.join(DATA, f)} is absent`);
  return it.skip;
};

describe('real datasets (../shared/data)', () => {
  maybe('counterfact-train.json')('loads EasyEdit CounterFact strictly', () => {
    const res = loadDataset(path.join(DATA, 'counterfact-train.json'));
    expect(res.format).toBe('counterfact');
    expect(res.requests.length).toBe(10000);
    expect(res.skipped).toEqual([]);
    for (const r of res.requests.slice(0, 50)) {
      expect(r.prompt.includes(r.subject!)).toBe(true);
      expect(r.paraphrases.length).toBe(1);
      expect(r.locality[0].kind).toBe('neighborhood');
    }
    const s = splitRequests(res.requests, { seed: 0, sizes: { train: 500, validation: 100, evaluation: 500 } });
    expect(s.evaluation).toHaveLength(500);
  });

  maybe('counterfact-val.json')('loads the CounterFact validation file', () => {
    expect(loadDataset(path.join(DATA, 'counterfact-val.json')).requests.length).toBe(1919);
  });

  maybe('counterfact-rome-format.json')('loads ROME CounterFact with filled templates', () => {
    const res = loadDataset(path.join(DATA, 'counterfact-rome-format.json'));
    expect(res.format).toBe('counterfact-rome');
    expect(res.requests.length).toBe(261);
    for (const r of res.requests) {
      expect(r.prompt).not.toContain('{}');
      expect(r.prompt).toContain(r.subject!);
      expect(r.locality.length).toBe(10);
    }
  });

  maybe('zsre-train.json')('reports the empty "alt" fields and the no-op edits of zsre-train.json, and skips them only when asked', () => {
    const f = path.join(DATA, 'zsre-train.json');
    expect(() => loadDataset(f)).toThrow(/zsre-train\.json: record 101: field "alt" must differ from "answers\[0\]".*\(and 18 more invalid records\)/);
    const res = loadDataset(f, { skipInvalid: true });
    expect(res.requests.length).toBe(1000 - 2 - 17);
    expect(res.skipped.filter((s) => /non-empty/.test(s.message)).map((s) => s.index)).toEqual([534, 723]);
    expect(res.skipped.filter((s) => /must differ/.test(s.message))).toHaveLength(17);
    for (const r of res.requests) expect(r.target).not.toBe(r.oldTarget);
    const facts = trueFacts(res.requests);
    expect(facts.facts.length).toBeGreaterThan(2000);
  });

  maybe('zsre-eval.json')('loads zsre-eval.json (extra portability field tolerated), its 16 no-op edits skipped only when asked', () => {
    const f = path.join(DATA, 'zsre-eval.json');
    expect(() => loadDataset(f)).toThrow(/zsre-eval\.json: record 64: field "alt" must differ from "answers\[0\]".*\(and 15 more invalid records\)/);
    const res = loadDataset(f, { skipInvalid: true });
    expect(res.requests.length).toBe(520 - 16);
    expect(res.requests[0].oldTarget).toBe(res.requests[0].trueAnswers![0]);
  });

  maybe('zsre-eval.json')('splits zsre-eval.json by subject with the default fractions for every seed', () => {
    const res = loadDataset(path.join(DATA, 'zsre-eval.json'), { skipInvalid: true });
    const n = res.requests.length;
    for (let seed = 0; seed < 20; seed++) {
      const s = splitRequests(res.requests, { seed });
      expect(s.train.length + s.validation.length + s.evaluation.length).toBe(n);
      expect(Math.abs(s.evaluation.length - 0.3 * n)).toBeLessThan(0.05 * n);
      const trained = new Set(s.train.map((r) => r.subject));
      for (const r of s.evaluation) expect(trained.has(r.subject)).toBe(false);
    }
  });
});
