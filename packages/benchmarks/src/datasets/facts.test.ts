import { DatasetError, parseFacts, trueFacts, type EditRequest } from './index';

// Two requests as the CounterFact reader makes them (its own tests live in @hiedit/editor's src/data).
const request = (id: string, localityAnswer: string): EditRequest => ({
  id,
  prompt: 'Velmora Dast was born in',
  target: 'Quell',
  oldTarget: 'Tarvo',
  subject: 'Velmora Dast',
  paraphrases: ['The birthplace of Velmora Dast is'],
  locality: [{ prompt: 'Orin Vale was born in', answer: localityAnswer, kind: 'neighborhood' }],
});

describe('trueFacts', () => {
  it('teaches the old answer on prompt and paraphrases and the locality answers, once per prompt', () => {
    const requests = [request('7', 'Tarvo'), request('8', 'Quell')];
    const res = trueFacts(requests);
    expect(res.facts).toEqual([
      { prompt: 'Velmora Dast was born in', answer: 'Tarvo', subject: 'Velmora Dast' },
      { prompt: 'The birthplace of Velmora Dast is', answer: 'Tarvo', subject: 'Velmora Dast' },
      { prompt: 'Orin Vale was born in', answer: 'Tarvo' },
    ]);
    expect(res.conflicts).toEqual([{ prompt: 'Orin Vale was born in', kept: 'Tarvo', dropped: 'Quell' }]);
    expect(trueFacts(requests, { paraphrases: false, locality: false }).facts).toHaveLength(1);
  });

  it('parses a facts file strictly', () => {
    expect(parseFacts([{ prompt: 'a is', answer: 'b', relation: 'r' }])).toEqual([{ prompt: 'a is', answer: 'b', relation: 'r' }]);
    expect(() => parseFacts([{ prompt: 'a is' }], 'f.json')).toThrow(/f\.json: record 0: field "answer" is missing/);
    expect(() => parseFacts([{ prompt: 'a is' }], 'f.json')).toThrow(DatasetError);
  });
});
