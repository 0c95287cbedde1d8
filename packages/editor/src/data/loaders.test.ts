import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DatasetError,
  detectFormat,
  loadDataset,
  parseCounterFact,
  parseCounterFactRome,
  parseZsre,
} from './index';

const zsreRecord = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  subject: 'Velmora Dast',
  src: 'What is the occupation of Velmora Dast?',
  pred: 'baker',
  rephrase: 'What does Velmora Dast do for a living?',
  alt: 'pilot',
  answers: ['baker'],
  loc: 'nq question: who wrote the tale of the copper owl',
  loc_ans: 'Orin Vale',
  cond: 'baker >> pilot || What is the occupation of Velmora Dast?',
  ...over,
});

const cfRecord = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  case_id: 7,
  prompt: 'Velmora Dast was born in',
  target_new: 'Quell',
  subject: 'Velmora Dast',
  ground_truth: 'Tarvo',
  rephrase_prompt: 'The birthplace of Velmora Dast is',
  locality_prompt: 'Orin Vale was born in',
  locality_ground_truth: 'Tarvo',
  ...over,
});

const romeRecord = (over: Record<string, unknown> = {}, rw: Record<string, unknown> = {}): Record<string, unknown> => ({
  case_id: 11,
  pararel_idx: 3,
  requested_rewrite: {
    prompt: 'The mother tongue of {} is',
    relation_id: 'P103',
    target_new: { str: 'Selvic', id: 'Q1' },
    target_true: { str: 'Orvian', id: 'Q2' },
    subject: 'Kesta Lune',
    ...rw,
  },
  paraphrase_prompts: ['Kesta Lune grew up speaking', 'Kesta Lune speaks natively'],
  neighborhood_prompts: ['The mother tongue of Brann Ode is', 'Tomo Saye speaks natively'],
  attribute_prompts: ['Ilsa Fenn speaks natively'],
  generation_prompts: ['Kesta Lune often writes poems in'],
  ...over,
});

function expectDatasetError(fn: () => unknown, message: string | RegExp): DatasetError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DatasetError);
  expect((caught as Error).message).toMatch(message);
  return caught as DatasetError;
}

describe('zsRE loader', () => {
  it('maps a MEND record to an edit request', () => {
    const { requests, skipped, format } = parseZsre([zsreRecord(), zsreRecord({ rephrase: ['a?', 'b?'], answers: ['baker', 'cook'] })], {
      label: 'z.json',
    });
    expect(format).toBe('zsre');
    expect(skipped).toEqual([]);
    expect(requests[0]).toEqual({
      id: '0',
      prompt: 'What is the occupation of Velmora Dast?',
      target: 'pilot',
      oldTarget: 'baker',
      subject: 'Velmora Dast',
      paraphrases: ['What does Velmora Dast do for a living?'],
      locality: [{ prompt: 'nq question: who wrote the tale of the copper owl', answer: 'Orin Vale', kind: 'unrelated' }],
      trueAnswers: ['baker'],
      source: { format: 'zsre', file: 'z.json', index: 0 },
    });
    expect(requests[1].paraphrases).toEqual(['a?', 'b?']);
    expect(requests[1].trueAnswers).toEqual(['baker', 'cook']);
  });

  it('trims whitespace so tokenizeTuple does not see a double space', () => {
    const { requests } = parseZsre([zsreRecord({ alt: '  pilot ' })]);
    expect(requests[0].target).toBe('pilot');
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['empty alt', { alt: '' }, /z\.json: record 1: field "alt" must be a non-empty string, got an empty string/],
    ['missing src', { src: undefined }, /record 1: field "src" is missing/],
    ['numeric subject', { subject: 42 }, /record 1: field "subject" must be a non-empty string, got a number/],
    ['answers not array', { answers: 'baker' }, /record 1: field "answers" must be an array of non-empty strings, got a string/],
    ['answers empty', { answers: [] }, /record 1: field "answers" must not be an empty array/],
    ['answers element', { answers: ['baker', null] }, /record 1: field "answers\[1\]" must be a non-empty string, got null/],
    ['rephrase null', { rephrase: null }, /record 1: field "rephrase" must be an array of non-empty strings, got null/],
    ['loc missing', { loc: undefined }, /record 1: field "loc" is missing/],
    ['loc_ans whitespace', { loc_ans: '   ' }, /record 1: field "loc_ans" must be a non-empty string, got an empty string/],
    ['pred wrong type', { pred: ['x'] }, /record 1: field "pred" must be a non-empty string, got an array/],
    ['a no-op edit (alt is the true answer)', { alt: ' baker ' }, /record 1: field "alt" must differ from "answers\[0\]" \(both are "baker"\)/],
  ];
  it.each(bad)('rejects %s with the record index and field', (_name, over, msg) => {
    expectDatasetError(() => parseZsre([zsreRecord(), zsreRecord(over)], { label: 'z.json' }), msg);
  });

  it('skips a no-op edit only when asked, as CounterFact does', () => {
    const res = parseZsre([zsreRecord(), zsreRecord({ alt: 'baker' })], { label: 'z.json', skipInvalid: true });
    expect(res.requests).toHaveLength(1);
    expect(res.skipped.map((k) => [k.index, k.field])).toEqual([[1, 'alt']]);
    // Only the first answer is the old target; another true answer as the new one is a real edit.
    expect(parseZsre([zsreRecord({ answers: ['baker', 'pilot'] })]).requests[0].target).toBe('pilot');
  });

  it('rejects a record that is not an object', () => {
    expectDatasetError(() => parseZsre([zsreRecord(), 'oops'], { label: 'z.json' }), /z\.json: record 1: must be an object, got a string/);
  });

  it('counts the other invalid records and points at skipInvalid', () => {
    expectDatasetError(
      () => parseZsre([zsreRecord({ alt: '' }), zsreRecord(), zsreRecord({ src: 3 })], { label: 'z.json' }),
      /record 0: field "alt" .*\(and 1 more invalid record\); pass \{ skipInvalid: true \}/,
    );
  });

  it('skips invalid records only when asked, and returns their indices', () => {
    const res = parseZsre([zsreRecord({ alt: '' }), zsreRecord(), zsreRecord({ src: 3 })], { label: 'z.json', skipInvalid: true });
    expect(res.requests.map((r) => r.source?.index)).toEqual([1]);
    expect(res.skipped.map((s) => [s.index, s.field])).toEqual([
      [0, 'alt'],
      [2, 'src'],
    ]);
    expect(res.skipped[0].message).toMatch(/record 0: field "alt"/);
  });

  it('rejects a file that is not an array, or has no valid record', () => {
    expectDatasetError(() => parseZsre({ a: 1 }, { label: 'z.json' }), /z\.json: must be a JSON array of zsre records/);
    expectDatasetError(() => parseZsre([], { label: 'z.json' }), /z\.json: contains no records/);
    expectDatasetError(() => parseZsre([zsreRecord({ alt: 1 })], { label: 'z.json', skipInvalid: true }), /contains no valid records/);
  });
});

describe('CounterFact (EasyEdit) loader', () => {
  it('maps a record to an edit request', () => {
    const { requests } = parseCounterFact([cfRecord()], { label: 'cf.json' });
    expect(requests[0]).toEqual({
      id: '7',
      prompt: 'Velmora Dast was born in',
      target: 'Quell',
      oldTarget: 'Tarvo',
      subject: 'Velmora Dast',
      paraphrases: ['The birthplace of Velmora Dast is'],
      locality: [{ prompt: 'Orin Vale was born in', answer: 'Tarvo', kind: 'neighborhood' }],
      source: { format: 'counterfact', file: 'cf.json', index: 0 },
    });
  });

  it('reads the world extension fields', () => {
    const { requests } = parseCounterFact([
      cfRecord({
        relation_id: 'born_in',
        paraphrase_prompts: ['The birthplace of Velmora Dast is', 'Velmora Dast is a native of'],
        neighborhood_prompts: [{ prompt: 'Ansel Pry was born in', ground_truth: 'Tarvo' }],
        unrelated_prompts: [{ prompt: 'Ansel Pry works as a', ground_truth: 'baker' }],
      }),
    ]);
    expect(requests[0].relation).toBe('born_in');
    expect(requests[0].paraphrases).toEqual(['The birthplace of Velmora Dast is', 'Velmora Dast is a native of']);
    expect(requests[0].locality.map((l) => l.kind)).toEqual(['neighborhood', 'neighborhood', 'unrelated']);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['case_id string', { case_id: '7' }, /record 1: field "case_id" must be a non-negative integer, got a string/],
    ['case_id negative', { case_id: -2 }, /record 1: field "case_id" must be a non-negative integer, got -2/],
    ['case_id fractional', { case_id: 1.5 }, /record 1: field "case_id" must be a non-negative integer, got 1.5/],
    ['missing prompt', { prompt: undefined }, /record 1: field "prompt" is missing/],
    ['empty target_new', { target_new: '' }, /record 1: field "target_new" must be a non-empty string/],
    ['ground_truth null', { ground_truth: null }, /record 1: field "ground_truth" must be a non-empty string, got null/],
    ['rephrase object', { rephrase_prompt: {} }, /record 1: field "rephrase_prompt" must be a non-empty string, got an object/],
    ['missing locality_prompt', { locality_prompt: undefined }, /record 1: field "locality_prompt" is missing/],
    ['missing locality_ground_truth', { locality_ground_truth: undefined }, /record 1: field "locality_ground_truth" is missing/],
    ['missing subject', { subject: undefined }, /record 1: field "subject" is missing/],
    ['subject not in prompt', { subject: 'Orin Vale' }, /record 1: field "prompt" must contain the subject "Orin Vale"/],
    ['target equals truth', { target_new: 'Tarvo' }, /record 1: field "target_new" must differ from "ground_truth"/],
    ['relation_id number', { relation_id: 5 }, /record 1: field "relation_id" must be a non-empty string/],
    ['paraphrase_prompts element', { paraphrase_prompts: ['ok', ''] }, /record 1: field "paraphrase_prompts\[1\]" must be a non-empty string/],
    ['neighborhood not array', { neighborhood_prompts: 'x' }, /record 1: field "neighborhood_prompts" must be an array of objects/],
    ['neighborhood element', { neighborhood_prompts: [3] }, /record 1: field "neighborhood_prompts\[0\]" must be an object, got a number/],
    [
      'unrelated missing answer',
      { unrelated_prompts: [{ prompt: 'p' }] },
      /record 1: field "unrelated_prompts\[0\]\.ground_truth" is missing/,
    ],
  ];
  it.each(bad)('rejects %s with the record index and field', (_name, over, msg) => {
    expectDatasetError(() => parseCounterFact([cfRecord({ case_id: 1 }), cfRecord({ case_id: 2, ...over })], { label: 'cf.json' }), msg);
  });

  it('rejects duplicate case ids', () => {
    expectDatasetError(() => parseCounterFact([cfRecord(), cfRecord()], { label: 'cf.json' }), /record 1: field "case_id" must be unique: id 7 already used by record 0/);
  });
});

describe('CounterFact (ROME) loader', () => {
  it('fills the template and uses the true answer for neighbourhood prompts', () => {
    const { requests } = parseCounterFactRome([romeRecord()], { label: 'rome.json' });
    expect(requests[0]).toEqual({
      id: '11',
      prompt: 'The mother tongue of Kesta Lune is',
      target: 'Selvic',
      oldTarget: 'Orvian',
      subject: 'Kesta Lune',
      relation: 'P103',
      paraphrases: ['Kesta Lune grew up speaking', 'Kesta Lune speaks natively'],
      locality: [
        { prompt: 'The mother tongue of Brann Ode is', answer: 'Orvian', kind: 'neighborhood' },
        { prompt: 'Tomo Saye speaks natively', answer: 'Orvian', kind: 'neighborhood' },
      ],
      attributePrompts: ['Ilsa Fenn speaks natively'],
      generationPrompts: ['Kesta Lune often writes poems in'],
      source: { format: 'counterfact-rome', file: 'rome.json', index: 0 },
    });
  });

  const bad: [string, Record<string, unknown>, Record<string, unknown>, RegExp][] = [
    ['rewrite missing', { requested_rewrite: undefined }, {}, /record 1: field "requested_rewrite" is missing \(must be an object\)/],
    ['rewrite array', { requested_rewrite: [] }, {}, /record 1: field "requested_rewrite" must be an object, got an array/],
    ['no placeholder', {}, { prompt: 'The mother tongue is' }, /record 1: field "requested_rewrite\.prompt" must contain the subject placeholder/],
    ['target_new str', {}, { target_new: { id: 'Q1' } }, /record 1: field "requested_rewrite\.target_new\.str" is missing/],
    ['target_true not object', {}, { target_true: 'Orvian' }, /record 1: field "requested_rewrite\.target_true" must be an object, got a string/],
    ['subject empty', {}, { subject: '' }, /record 1: field "requested_rewrite\.subject" must be a non-empty string/],
    ['same target', {}, { target_new: { str: 'Orvian' } }, /record 1: field "requested_rewrite\.target_new\.str" must differ/],
    ['paraphrases not array', { paraphrase_prompts: 'x' }, {}, /record 1: field "paraphrase_prompts" must be an array/],
    ['neighbourhood element', { neighborhood_prompts: ['a', 5] }, {}, /record 1: field "neighborhood_prompts\[1\]" must be a non-empty string/],
    ['case_id missing', { case_id: undefined }, {}, /record 1: field "case_id" is missing/],
  ];
  it.each(bad)('rejects %s with the record index and field', (_name, over, rw, msg) => {
    expectDatasetError(() => parseCounterFactRome([romeRecord({ case_id: 1 }), romeRecord({ case_id: 2, ...over }, rw)], { label: 'rome.json' }), msg);
  });
});

describe('loadDataset', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-ds-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('detects each format from the first record', () => {
    expect(detectFormat([zsreRecord()])).toBe('zsre');
    expect(detectFormat([cfRecord()])).toBe('counterfact');
    expect(detectFormat([romeRecord()])).toBe('counterfact-rome');
    expectDatasetError(() => detectFormat([{ foo: 1 }], 'x.json'), /x\.json: record 0: has keys \[foo\], which match no known format/);
  });

  it('reads a file and labels errors with its base name', () => {
    const f = path.join(dir, 'zsre-mini.json');
    fs.writeFileSync(f, JSON.stringify([zsreRecord(), zsreRecord({ alt: '' })]));
    expectDatasetError(() => loadDataset(f), /^zsre-mini\.json: record 1: field "alt" must be a non-empty string/);
    const res = loadDataset(f, { skipInvalid: true });
    expect(res.requests).toHaveLength(1);
    expect(res.skipped.map((s) => s.index)).toEqual([1]);
    expect(res.requests[0].source?.file).toBe('zsre-mini.json');
  });

  it('names the file when it is not JSON or cannot be read', () => {
    const f = path.join(dir, 'broken.json');
    fs.writeFileSync(f, '[{"a": ');
    expectDatasetError(() => loadDataset(f), /^broken\.json: is not valid JSON/);
    expectDatasetError(() => loadDataset(path.join(dir, 'nope.json')), /^nope\.json: cannot be read/);
  });

  it('honours a forced format', () => {
    const f = path.join(dir, 'cf.json');
    fs.writeFileSync(f, JSON.stringify([cfRecord()]));
    expectDatasetError(() => loadDataset(f, { format: 'zsre' }), /cf\.json: record 0: field "src" is missing/);
  });
});
