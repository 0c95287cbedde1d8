import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readSummary } from '../report';
import type { EditorResult, ResultsFile } from '../report';
import { main } from './main';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

function editor(m: Partial<EditorResult>): EditorResult {
  return {
    ES: 0.5, GS: 0.5, LS: 0.5, LS_gold: 0.5, Pre_ES: 0.5, Pre_GS: 0.5, Pre_LS: 0.5, WILD_ES: 0.1, WILD_GS: 0.1,
    retention: 0.9, layers_per_edit: 4, ms_per_edit: 3, train_seconds: 10, ...m,
  };
}

describe('hiedit-bench aggregate', () => {
  let root: string;
  const dirs: string[] = [];
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-agg-cli-'));
    // hiedit 0.6 / 0.55 on every metric vs rledit 0.5: gains +20% and +10%, seed-mean +15%, half the modules.
    [0.6, 0.55].forEach((v, seed) => {
      const r: ResultsFile = {
        dataset: 'world', model: 'm', seed, n_train: 4, n_eval: 8, num_pre: 2,
        editors: { hiedit: editor({ ES: v, GS: v, LS: v, layers_per_edit: 2 }), rledit: editor({}) },
        curves: {},
      };
      const dir = path.join(root, `world-s${seed}`);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(r));
      dirs.push(dir);
    });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('prints the tables and the checks and writes summary.json + summary.html', async () => {
    const c = capture();
    const out = path.join(root, 'agg');
    expect(await main(['aggregate', ...dirs, '--out', out], c.io)).toBe(0);
    const text = c.out.join('');
    expect(text).toMatch(/world: 2 seeds \(0, 1\)/);
    expect(text).toMatch(/^seed-means\s+57\.5\s+50\.0\s+\+15\.0%\s+\+15\.0%\s+\+15\.0%\s+\+15\.0%\s+\+15\.0%\s+0\.50$/m);
    expect(text).toContain('[met] hiedit vs rledit: relative gain over ES/GS/LS (mean of the per-metric relative differences) >= +8.48% on the seed-means: +15.00%');
    expect(text).toContain('hiedit wins 2 of 2 seeds');
    expect(text).toContain(`summary: ${path.join(out, 'summary.json')}`);
    const s = readSummary(path.join(out, 'summary.json'));
    expect(s.comparisons[0].acrossSeeds.ratioOfMeans.mean).toBeCloseTo(0.15, 12);
    expect(s.comparisons[0].acrossSeeds.ratioOfMeans.std).toBeCloseTo(Math.SQRT1_2 * 0.1, 12); // sd of 0.2, 0.1
    expect(fs.existsSync(path.join(out, 'summary.html'))).toBe(true);

    const md = capture();
    expect(await main(['aggregate', ...dirs, '--out', path.join(root, 'md'), '--markdown', '--no-html'], md.io)).toBe(0);
    expect(md.out.join('')).toContain('| seed-means | 57.5 | 50.0 |');
    expect(md.out.join('')).toMatch(/\|\n\nhiedit wins 2 of 2 seeds/); // a blank line ends the Markdown table
    expect(fs.existsSync(path.join(root, 'md', 'summary.html'))).toBe(false);
  });

  test('refusals and usage errors', async () => {
    const twin = capture();
    expect(await main(['aggregate', dirs[0], dirs[0], '--out', path.join(root, 'x')], twin.io)).toBe(1);
    expect(twin.err.join('')).toMatch(/both are seed 0/);
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
    const none = capture();
    expect(await main(['aggregate'], none.io)).toBe(2);
    expect(none.err.join('')).toMatch(/expected at least one run directory/);
    const typo = capture();
    expect(await main(['aggregate', ...dirs, '--baseline', 'rleddit'], typo.io)).toBe(2);
    expect(typo.err.join('')).toMatch(/--baseline rleddit: no such editor in the runs \(they have hiedit, rledit\)/);
    const help = capture();
    expect(await main(['help', 'aggregate'], help.io)).toBe(0);
    expect(help.out.join('')).toMatch(/--candidate NAME/);
  });
});
