import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Progress } from '../../progress';
import { ensureFactsModel, readPretrained } from './index';
import { KNOWLEDGE_THRESHOLD, knowledgeWarnings } from './report';

const progress = (label: string, total: number): Progress => new Progress(label, total, { quiet: true });

const record = (i: number, subject: string, city: string, newCity: string) => ({
  case_id: i,
  prompt: `${subject} was born in`,
  subject,
  target_new: newCity,
  ground_truth: city,
  rephrase_prompt: `The birthplace of ${subject} is`,
  locality_prompt: `Tomo Lark was born in`,
  locality_ground_truth: 'Brest',
});

describe('the pretrained-model cache entry', () => {
  let dir: string;
  let file: string;
  // A learning rate this small leaves the model as initialized: it cannot know its facts, which the check must say.
  const train = { model: { layers: 1, hidden: 16, heads: 2, kvHeads: 2, intermediate: 32 }, epochs: 1, batchSize: 8, warmupSteps: 1, lr: 1e-9 };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-build-'));
    file = path.join(dir, 'cf-tiny.json');
    fs.writeFileSync(file, JSON.stringify([record(0, 'Anka Vole', 'Brest', 'Quimper'), record(1, 'Bela Rusk', 'Lorca', 'Zadar')]));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is rebuilt in place when its folder exists but is incomplete', async () => {
    const cacheDir = path.join(dir, 'cache-incomplete');
    const first = await ensureFactsModel({ dataFile: file, train, cacheDir, progress, log: () => undefined });
    fs.rmSync(path.join(first.dir, 'pretrain.json'));
    expect(readPretrained(first.dir)).toBeUndefined();
    const lines: string[] = [];
    const again = await ensureFactsModel({ dataFile: file, train, cacheDir, progress, log: (l) => lines.push(l) });
    expect(again.cached).toBe(false);
    expect(again.dir).toBe(first.dir);
    expect(readPretrained(again.dir)).toBeDefined();
    expect(lines.some((l) => /incomplete/.test(l))).toBe(true);
    expect(fs.readdirSync(cacheDir).filter((f) => f.startsWith('.'))).toEqual([]);
  }, 60000);

  it('warns on stderr and records it when the model does not know its facts', async () => {
    const cacheDir = path.join(dir, 'cache-knowledge');
    const lines: string[] = [];
    const m = await ensureFactsModel({ dataFile: file, train, cacheDir, progress, log: (l) => lines.push(l) });
    expect(m.report.accuracy.editPrompts.tokenAccuracy).toBeLessThan(KNOWLEDGE_THRESHOLD);
    expect(m.report.knowledgeOk).toBe(false);
    expect(m.report.knowledgeWarnings?.join(' ')).toMatch(/editPrompts/);
    expect(lines.filter((l) => l.startsWith('WARNING')).join('\n')).toMatch(/editPrompts .*below 95%/);
    const onDisk = JSON.parse(fs.readFileSync(path.join(m.dir, 'pretrain.json'), 'utf8'));
    expect(onDisk.knowledgeOk).toBe(false);
    // A cache hit warns again: the run using it must not be silent about it.
    const hitLines: string[] = [];
    expect((await ensureFactsModel({ dataFile: file, train, cacheDir, progress, log: (l) => hitLines.push(l) })).cached).toBe(true);
    expect(hitLines.some((l) => l.startsWith('WARNING'))).toBe(true);
  }, 60000);

  it('checks edit prompts and paraphrases against 95% (not other families, not empty ones)', () => {
    const a = (tokenAccuracy: number, count = 5) => ({ tokenAccuracy, exactMatch: tokenAccuracy, count });
    expect(knowledgeWarnings({ editPrompts: a(0.95), paraphrases: a(1), locality: a(0.1) })).toEqual([]);
    expect(knowledgeWarnings({ editPrompts: a(1), paraphrases: a(0.5, 0) })).toEqual([]);
    const w = knowledgeWarnings({ editPrompts: a(0.949), paraphrases: a(0.8), training: a(0.1) });
    expect(w).toHaveLength(2);
    expect(w[0]).toMatch(/editPrompts 94\.9%/);
    expect(w[1]).toMatch(/paraphrases 80\.0%/);
  });

  it('names pretrain.json when it is not valid JSON', () => {
    const entry = path.join(dir, 'corrupt');
    fs.mkdirSync(path.join(entry, 'model'), { recursive: true });
    fs.writeFileSync(path.join(entry, 'model', 'config.json'), '{}');
    fs.writeFileSync(path.join(entry, 'pretrain.json'), '{"kind": "facts",');
    expect(() => readPretrained(entry)).toThrow(new RegExp(`${path.join(entry, 'pretrain.json').replace(/[.\\/]/g, '\\$&')}: invalid JSON`));
  });
});
