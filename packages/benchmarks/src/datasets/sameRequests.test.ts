/**
 * `hiedit edit / train-editor --requests|--data FILE --format F` and `hiedit-bench run --dataset D --data FILE`
 * must edit with the same requests: both go through @hiedit/editor's readers, and this checks it end to end
 * (the CLI's reader against the benchmark runner's loadData) on one file per format.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readEditRequests, type RequestFormat } from '@hiedit/editor';
import { progressFactory } from '../progress';
import { defaultDeps, type BenchDataset } from '../runner';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-same-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function bothPaths(file: string, format: RequestFormat, dataset: BenchDataset): Promise<{ cli: unknown[]; bench: unknown[]; cliSkipped: number[]; benchSkipped: number[] }> {
  const cliSkipped: number[] = [];
  const cli = readEditRequests(file, format, { skipInvalid: true, onSkip: (i) => cliSkipped.push(i) });
  const data = await defaultDeps({ log: () => undefined }).loadData(
    { dataset, data: file, editors: [], seed: 0, out: path.join(dir, 'out'), skipInvalid: true },
    progressFactory({ quiet: true }),
  );
  return { cli, bench: [...data.requests], cliSkipped, benchSkipped: (data.skipped ?? []).map((s) => s.index) };
}

const cf = (id: number, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  case_id: id,
  prompt: `Person${id} was born in`,
  subject: `Person${id}`,
  target_new: 'Quell',
  ground_truth: ' Tarvo ',
  rephrase_prompt: `The birthplace of Person${id} is`,
  locality_prompt: 'Orin Vale was born in',
  locality_ground_truth: 'Tarvo',
  ...over,
});

describe('the CLI and the benchmark read the same requests', () => {
  it('CounterFact (EasyEdit, with the extension fields), skipping the same invalid records', async () => {
    const file = path.join(dir, 'cf.json');
    fs.writeFileSync(file, JSON.stringify([
      cf(1, {
        paraphrase_prompts: ['The birthplace of Person1 is', 'Person1 is a native of'],
        neighborhood_prompts: [{ prompt: 'Ansel Pry was born in', ground_truth: 'Tarvo' }],
        unrelated_prompts: [{ prompt: 'Ansel Pry works as a', ground_truth: 'baker' }],
      }),
      cf(2, { target_new: 'Tarvo' }),
      cf(3),
    ]));
    const r = await bothPaths(file, 'counterfact', 'counterfact');
    expect(r.cli).toEqual(r.bench);
    expect(r.cli).toHaveLength(2);
    expect(r.cliSkipped).toEqual([1]);
    expect(r.benchSkipped).toEqual([1]);
    // Every paraphrase and locality prompt survives both paths.
    expect((r.cli[0] as { paraphrases: string[] }).paraphrases).toHaveLength(2);
    expect((r.cli[0] as { locality: unknown[] }).locality).toHaveLength(3);
  });

  it('CounterFact in the ROME layout', async () => {
    const file = path.join(dir, 'rome.json');
    fs.writeFileSync(file, JSON.stringify([{
      case_id: 11,
      requested_rewrite: { prompt: 'The mother tongue of {} is', subject: 'Kesta Lune', relation_id: 'P103',
        target_new: { str: 'Selvic' }, target_true: { str: 'Orvian' } },
      paraphrase_prompts: ['Kesta Lune grew up speaking', 'Kesta Lune speaks natively'],
      neighborhood_prompts: ['The mother tongue of Brann Ode is', 'Tomo Saye speaks natively'],
    }]));
    const r = await bothPaths(file, 'counterfact', 'counterfact');
    expect(r.cli).toEqual(r.bench);
    expect(r.cli).toHaveLength(1);
  });

  it('zsRE, where both refuse the same no-op edits (compared after trimming)', async () => {
    const z = (over: Record<string, unknown>): Record<string, unknown> => ({
      subject: 'X', src: 'Who made X?', alt: 'Acme', answers: ['Bolt'], rephrase: 'Who built X?', loc: 'nq question: q', loc_ans: 'a', ...over,
    });
    const file = path.join(dir, 'zsre.json');
    fs.writeFileSync(file, JSON.stringify([z({}), z({ alt: ' Bolt' }), z({ answers: ['Bolt', 'Acme'] }), z({ alt: '' })]));
    const r = await bothPaths(file, 'zsre', 'zsre');
    expect(r.cli).toEqual(r.bench);
    expect(r.cliSkipped).toEqual([1, 3]);
    expect(r.benchSkipped).toEqual([1, 3]);
  });

  const shared = path.resolve(__dirname, '../../../../../shared/data');
  const files: [string, RequestFormat, BenchDataset][] = [
    ['counterfact-val.json', 'counterfact', 'counterfact'],
    ['counterfact-rome-format.json', 'counterfact', 'counterfact'],
    ['zsre-eval.json', 'zsre', 'zsre'],
    ['zsre-train.json', 'zsre', 'zsre'],
  ];
  for (const [name, format, dataset] of files) {
    const present = fs.existsSync(path.join(shared, name));
    // eslint-disable-next-line no-console
    if (!present) console.log(`skipping the shared-data comparison on ${name}: ${path.join(shared, name)} is absent (fresh clone)`);
    (present ? it : it.skip)(`on ../shared/data/${name} when present`, async () => {
      const r = await bothPaths(path.join(shared, name), format, dataset);
      expect(r.cli.length).toBeGreaterThan(0);
      expect(r.cli).toEqual(r.bench);
      expect(r.cliSkipped).toEqual(r.benchSkipped);
    });
  }
});
