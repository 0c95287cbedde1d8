import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readEditRequests } from './records';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-records-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function write(name: string, value: unknown): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof value === 'string' ? value : JSON.stringify(value));
  return f;
}

const cfRecord = { case_id: 7, prompt: 'Bob lives in', subject: 'Bob', target_new: 'Rome', ground_truth: 'Paris',
  rephrase_prompt: 'Bob is from', locality_prompt: 'Carol lives in', locality_ground_truth: 'London' };
const zsreRecord = { subject: 'X', src: 'Who made X?', alt: 'Acme', answers: ['Bolt'], rephrase: 'Who built X?',
  loc: 'nq question: q', loc_ans: 'a' };

describe('readEditRequests', () => {
  test('counterfact (EasyEdit and ROME records), zsre, world directories and neutral JSONL', () => {
    const cf = write('cf.json', [cfRecord]);
    expect(readEditRequests(cf, 'counterfact')).toEqual([{ id: '7', prompt: 'Bob lives in', target: 'Rome', oldTarget: 'Paris',
      subject: 'Bob', paraphrases: ['Bob is from'], locality: [{ prompt: 'Carol lives in', answer: 'London', kind: 'neighborhood' }],
      source: { format: 'counterfact', file: 'cf.json', index: 0 } }]);
    const rome = write('rome.json', [{ case_id: 3, requested_rewrite: { prompt: 'The twin city of {} is', subject: 'Oslo',
      target_new: { str: 'Dresden' }, target_true: { str: 'Rome' } }, paraphrase_prompts: ['Oslo is twinned with'],
      neighborhood_prompts: ['The twin city of Bonn is'] }]);
    expect(readEditRequests(rome, 'counterfact')[0]).toEqual({ id: '3', prompt: 'The twin city of Oslo is', target: 'Dresden',
      oldTarget: 'Rome', subject: 'Oslo', paraphrases: ['Oslo is twinned with'],
      locality: [{ prompt: 'The twin city of Bonn is', answer: 'Rome', kind: 'neighborhood' }],
      source: { format: 'counterfact-rome', file: 'rome.json', index: 0 } });
    const zs = write('zsre.json', [zsreRecord]);
    expect(readEditRequests(zs, 'zsre')[0]).toEqual({ id: '0', prompt: 'Who made X?', target: 'Acme', oldTarget: 'Bolt', subject: 'X',
      paraphrases: ['Who built X?'], locality: [{ prompt: 'nq question: q', answer: 'a', kind: 'unrelated' }], trueAnswers: ['Bolt'],
      source: { format: 'zsre', file: 'zsre.json', index: 0 } });
    fs.mkdirSync(path.join(dir, 'world'));
    fs.copyFileSync(cf, path.join(dir, 'world', 'edits.json'));
    expect(readEditRequests(path.join(dir, 'world'), 'world')).toHaveLength(1);
    const jl = write('r.jsonl', '{"prompt":"a b","target":"c"}\n\n{"id":"x","prompt":"d","target":"e","paraphrases":["f"]}\n');
    expect(readEditRequests(jl, 'requests').map((r) => r.id)).toEqual(['0', 'x']);
  });

  test('keeps every paraphrase and locality prompt of a CounterFact record, as the benchmark does', () => {
    const f = write('ext.json', [{ ...cfRecord, paraphrase_prompts: ['Bob is from', 'Bob resides in'],
      neighborhood_prompts: [{ prompt: 'Dan lives in', ground_truth: 'Paris' }],
      unrelated_prompts: [{ prompt: 'Bob works as a', ground_truth: 'baker' }] }]);
    const [r] = readEditRequests(f, 'counterfact');
    expect(r.paraphrases).toEqual(['Bob is from', 'Bob resides in']);
    expect(r.locality.map((l) => [l.prompt, l.kind])).toEqual([['Carol lives in', 'neighborhood'], ['Dan lives in', 'neighborhood'],
      ['Bob works as a', 'unrelated']]);
  });

  test('the neutral format: integer ids, trimmed texts, locality prompts, and clear errors', () => {
    const f = write('n.json', [{ id: 4, prompt: ' a b ', target: ' c', locality: [{ prompt: 'd', answer: 'e' }] }]);
    expect(readEditRequests(f, 'requests')).toEqual([{ id: '4', prompt: 'a b', target: 'c', paraphrases: [],
      locality: [{ prompt: 'd', answer: 'e' }], source: { format: 'requests', file: 'n.json', index: 0 } }]);
    expect(() => readEditRequests(write('n2.json', [{ prompt: 'a', target: 'b', paraphrases: 'c' }]), 'requests'))
      .toThrow(/n2\.json: record 0: field "paraphrases" must be an array of non-empty strings, got a string/);
    expect(() => readEditRequests(write('n3.json', [{ prompt: 'a', target: 'b', locality: [{ prompt: 'c' }] }]), 'requests'))
      .toThrow(/record 0: field "locality\[0\]\.answer" is missing/);
    expect(() => readEditRequests(write('n4.json', [{ id: 'x', prompt: 'a', target: 'b' }, { id: 'x', prompt: 'c', target: 'd' }]), 'requests'))
      .toThrow(/record 1: field "id" must be unique: id x already used by record 0/);
    expect(() => readEditRequests(write('n5.json', '{"prompt": "a",\n "target": "b"}\n'), 'requests'))
      .toThrow(/n5\.json: must be a JSON array of records or JSON Lines, got an object/);
  });

  test('bad records are refused naming the file, record and field', () => {
    const f = write('bad.json', [cfRecord, { ...cfRecord, case_id: 8, target_new: '' }]);
    expect(() => readEditRequests(f, 'counterfact')).toThrow(new RegExp(`bad\\.json: record 1: field "target_new"`));
    expect(() => readEditRequests(f, 'counterfact')).toThrow(/; pass --skip-invalid to skip invalid records$/);
    const skipped: number[] = [];
    expect(readEditRequests(f, 'counterfact', { skipInvalid: true, onSkip: (i) => skipped.push(i) })).toHaveLength(1);
    expect(skipped).toEqual([1]);
    expect(() => readEditRequests(write('bad.jsonl', '{"prompt":"a","target":"b"}\n{oops\n'), 'requests')).toThrow(/line 2 is not valid JSON/);
    // The shared readers' wording (was "holds no records" and "record 0 is not an object" in the CLI's own reader).
    expect(() => readEditRequests(write('e.json', '[]'), 'zsre')).toThrow(/e\.json: contains no records/);
    // An edit whose new answer is the old one edits nothing: refused like the benchmark loaders refuse it.
    expect(() => readEditRequests(write('noop.json', [{ ...zsreRecord, answers: ['Acme'] }]), 'zsre'))
      .toThrow(/record 0: field "alt" must differ from "answers\[0\]" \(both are "Acme"\)/);
    expect(() => readEditRequests(write('noop-cf.json', [{ ...cfRecord, target_new: 'Paris' }]), 'counterfact'))
      .toThrow(/field "target_new" must differ from "ground_truth"/);
    expect(() => readEditRequests(write('noop-rome.json', [{ case_id: 1, requested_rewrite: { prompt: '{} is in', subject: 'X',
      target_new: { str: 'Rome' }, target_true: { str: 'Rome' } }, paraphrase_prompts: [], neighborhood_prompts: [] }]), 'counterfact'))
      .toThrow(/record 0: field "requested_rewrite\.target_new\.str" must differ from "target_true\.str"/);
    expect(() => readEditRequests(write('n.json', '[3]'), 'zsre')).toThrow(/record 0: must be an object, got a number/);
    expect(() => readEditRequests(f, 'csv' as never)).toThrow(/unknown request format "csv"/);
  });

  test('a zsRE no-op is judged on the trimmed texts, against the first true answer only', () => {
    // Surrounding spaces are not part of an answer (the readers trim every text): " Acme" after "Acme" edits nothing.
    expect(() => readEditRequests(write('sp.json', [{ ...zsreRecord, alt: ' Acme', answers: ['Acme'] }]), 'zsre'))
      .toThrow(/record 0: field "alt" must differ from "answers\[0\]" \(both are "Acme"\)/);
    // The model is taught answers[0]; another accepted answer as the new target changes what it says.
    expect(readEditRequests(write('alt.json', [{ ...zsreRecord, answers: ['Bolt', 'Acme'] }]), 'zsre')[0].target).toBe('Acme');
  });

  const shared = path.resolve(__dirname, '../../../../../shared/data');
  const haveShared = fs.existsSync(shared);
  (haveShared ? test : test.skip)('reads the public datasets in ../shared/data when present', () => {
    expect(readEditRequests(path.join(shared, 'counterfact-train.json'), 'counterfact')).toHaveLength(10000);
    // Two zsRE training records have an empty "alt" and 17 edit nothing (alt = answers[0]): refused by default,
    // skipped and reported on request (the benchmark loader skips the same 19).
    expect(() => readEditRequests(path.join(shared, 'zsre-train.json'), 'zsre')).toThrow(/record \d+: field "alt"/);
    const skipped: number[] = [];
    expect(readEditRequests(path.join(shared, 'zsre-train.json'), 'zsre', { skipInvalid: true, onSkip: (i) => skipped.push(i) }))
      .toHaveLength(1000 - 19);
    expect(skipped).toHaveLength(19);
    expect(skipped).toEqual(expect.arrayContaining([534, 723]));
    // zsre-eval.json record 168 (alt " Delaware River", answers[0] "Delaware River") is one of its 16 no-ops.
    const evalSkipped: number[] = [];
    expect(readEditRequests(path.join(shared, 'zsre-eval.json'), 'zsre', { skipInvalid: true, onSkip: (i) => evalSkipped.push(i) }))
      .toHaveLength(520 - 16);
    expect(evalSkipped).toEqual(expect.arrayContaining([64, 168, 457]));
    expect(evalSkipped).toHaveLength(16);
    const rome = readEditRequests(path.join(shared, 'counterfact-rome-format.json'), 'counterfact');
    expect(rome).toHaveLength(261);
    expect(rome[0].prompt).not.toContain('{}');
  });
  if (!haveShared) console.log(`skipping the shared-data test: ${shared} is absent (fresh clone)`);
});
