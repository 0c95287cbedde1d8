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

describe('readEditRequests', () => {
  test('counterfact (EasyEdit and ROME records), zsre, world directories and neutral JSONL', () => {
    const cf = write('cf.json', [{ case_id: 7, prompt: 'Bob lives in', target_new: 'Rome', ground_truth: 'Paris',
      rephrase_prompt: 'Bob is from', locality_prompt: 'Carol lives in', locality_ground_truth: 'London' }]);
    expect(readEditRequests(cf, 'counterfact')).toEqual([{ id: '7', prompt: 'Bob lives in', target: 'Rome',
      paraphrases: ['Bob is from'], locality: [{ prompt: 'Carol lives in', answer: 'London' }] }]);
    const rome = write('rome.json', [{ case_id: 3, requested_rewrite: { prompt: 'The twin city of {} is', subject: 'Oslo',
      target_new: { str: 'Dresden' }, target_true: { str: 'Rome' } }, paraphrase_prompts: ['Oslo is twinned with'],
      neighborhood_prompts: ['The twin city of Bonn is'] }]);
    expect(readEditRequests(rome, 'counterfact')[0]).toEqual({ id: '3', prompt: 'The twin city of Oslo is', target: 'Dresden',
      paraphrases: ['Oslo is twinned with'], locality: [{ prompt: 'The twin city of Bonn is', answer: 'Rome' }] });
    const zs = write('zsre.json', [{ src: 'Who made X?', alt: 'Acme', rephrase: 'Who built X?', loc: 'nq question: q', loc_ans: 'a' }]);
    expect(readEditRequests(zs, 'zsre')[0]).toEqual({ id: '0', prompt: 'Who made X?', target: 'Acme', paraphrases: ['Who built X?'],
      locality: [{ prompt: 'nq question: q', answer: 'a' }] });
    fs.mkdirSync(path.join(dir, 'world'));
    fs.copyFileSync(cf, path.join(dir, 'world', 'edits.json'));
    expect(readEditRequests(path.join(dir, 'world'), 'world')).toHaveLength(1);
    const jl = write('r.jsonl', '{"prompt":"a b","target":"c"}\n\n{"id":"x","prompt":"d","target":"e","paraphrases":["f"]}\n');
    expect(readEditRequests(jl, 'requests').map((r) => r.id)).toEqual(['0', 'x']);
  });

  test('bad records are refused naming the file, record and field', () => {
    const f = write('bad.json', [{ prompt: 'ok', target_new: 'x' }, { prompt: 'Bob', target_new: '' }]);
    expect(() => readEditRequests(f, 'counterfact')).toThrow(new RegExp(`bad\\.json: record 1: field "target_new"`));
    expect(() => readEditRequests(write('bad.jsonl', '{"prompt":"a","target":"b"}\n{oops\n'), 'requests')).toThrow(/line 2 is not valid JSON/);
    expect(() => readEditRequests(write('e.json', '[]'), 'zsre')).toThrow(/holds no records/);
    // An edit whose new answer is the old one edits nothing: refused like the benchmark loaders refuse it.
    expect(() => readEditRequests(write('noop.json', [{ src: 'Who made X?', alt: 'Acme', answers: ['Acme'] }]), 'zsre'))
      .toThrow(/record 0: field "alt" must differ from "answers\[0\]" \(both are "Acme"\)/);
    expect(() => readEditRequests(write('noop-cf.json', [{ prompt: 'X is in', target_new: 'Paris', ground_truth: 'Paris' }]), 'counterfact'))
      .toThrow(/field "target_new" must differ from "ground_truth"/);
    expect(() => readEditRequests(write('noop-rome.json', [{ requested_rewrite: { prompt: '{} is in', subject: 'X', target_new: { str: 'Rome' }, target_true: { str: 'Rome' } } }]), 'counterfact'))
      .toThrow(/requested_rewrite: field "target_new.str" must differ from "target_true.str"/);
    expect(() => readEditRequests(write('n.json', '[3]'), 'zsre')).toThrow(/record 0 is not an object/);
    expect(() => readEditRequests(f, 'csv' as never)).toThrow(/unknown request format "csv"/);
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
    const rome = readEditRequests(path.join(shared, 'counterfact-rome-format.json'), 'counterfact');
    expect(rome).toHaveLength(261);
    expect(rome[0].prompt).not.toContain('{}');
  });
  if (!haveShared) console.log(`skipping the shared-data test: ${shared} is absent (fresh clone)`);
});
