import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel } from '@hiedit/llm-loader';
import { Progress } from '../../progress';
import { ensureFactsModel } from './index';

const progress = (label: string, total: number): Progress => new Progress(label, total, { quiet: true });

const record = (i: number, subject: string, city: string, newCity: string, neighbour: string) => ({
  case_id: 100 + i,
  prompt: `${subject} was born in`,
  subject,
  target_new: newCity,
  ground_truth: city,
  rephrase_prompt: `The birthplace of ${subject} is`,
  locality_prompt: `${neighbour} was born in`,
  locality_ground_truth: city,
});

describe('facts model', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-facts-'));
    file = path.join(dir, 'cf-mini.json');
    fs.writeFileSync(
      file,
      JSON.stringify([
        record(0, 'Anka Vole', 'Brest', 'Quimper', 'Tomo Lark'),
        record(1, 'Bela Rusk', 'Lorca', 'Zadar', 'Ines Pell'),
        record(2, 'Cato Imre', 'Brest', 'Lorca', 'Tomo Lark'),
        record(3, 'Dara Fenn', 'Zadar', 'Brest', 'Ulla Grim'),
      ]),
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const train = { model: { layers: 1, hidden: 16, heads: 2, kvHeads: 2, intermediate: 32 }, epochs: 3, batchSize: 8, warmupSteps: 2 };

  it('pretrains on the true answers of a file, with the new targets in its vocabulary, and caches by file and ids', async () => {
    const cacheDir = path.join(dir, 'cache');
    const log: string[] = [];
    const m = await ensureFactsModel({ dataFile: file, train, cacheDir, progress, log: (l) => log.push(l) });
    expect(m.cached).toBe(false);
    expect(m.requests).toHaveLength(4);
    expect(m.report.kind).toBe('facts');
    expect(m.report.source.file).toBe('cf-mini.json');
    // prompts + paraphrases with the old answer, plus the 3 distinct neighbourhood prompts
    expect(m.report.examples).toBe(4 * 2 + 3);
    expect(m.report.accuracy.editPrompts.count).toBe(4);
    expect(m.report.accuracy.locality.count).toBe(4);
    const model = await loadModel(m.modelDir);
    try {
      for (const w of ['Quimper', 'Zadar', 'Lorca', 'Brest']) expect(model.tokenizer!.encode(w)).not.toContain(0);
    } finally {
      model.dispose();
    }
    expect((await ensureFactsModel({ dataFile: file, train, cacheDir, progress, log: () => undefined })).cached).toBe(true);
    const subset = await ensureFactsModel({ dataFile: file, ids: ['101', '103'], train, cacheDir, progress, log: () => undefined });
    expect(subset.cached).toBe(false);
    expect(subset.dir).not.toBe(m.dir);
    expect(subset.requests.map((r) => r.id)).toEqual(['101', '103']);
    await expect(ensureFactsModel({ dataFile: file, ids: ['999'], train, cacheDir, progress })).rejects.toThrow(/cf-mini\.json has no \(valid\) record with id 999/);
  });
});
