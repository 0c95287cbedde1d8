/**
 * A lifelong-editing benchmark run from code, on a world model sized by a pretraining-settings file, and what the
 * run records about which edits survived: the final model's ES / GS / LS for contiguous groups of the stream, with
 * the share of each group's edits the editor applied (details.json `editors.NAME.byPosition`; docs/benchmarks.md).
 * Pre_* compares only the first num_pre edits with all of them; the groups show whether early edits wore down or late
 * ones failed to land.
 *
 *   node docs/examples/run.js docs/examples/08-which-edits-survived.ts            # a tiny run, then its table
 *   node docs/examples/run.js docs/examples/08-which-edits-survived.ts bench-out/world-s0   # the table of a finished run
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '@hiedit/tensor-core';
import { defaultDeps, readPretrainSettings, runCommand, type PositionBucket } from '@hiedit/benchmarks';

function printTable(runDir: string): Record<string, PositionBucket[]> {
  const details = JSON.parse(fs.readFileSync(path.join(runDir, 'details.json'), 'utf8')) as { editors: Record<string, { byPosition?: PositionBucket[] }> };
  const out: Record<string, PositionBucket[]> = {};
  const pct = (v: number | null) => (v === null ? '   -' : (100 * v).toFixed(0).padStart(4));
  for (const [name, e] of Object.entries(details.editors)) {
    if (!e.byPosition) {
      console.log(`${name}: this run predates the by-position record`);
      continue;
    }
    out[name] = e.byPosition;
    console.log(`${name}:   edits    ES   GS   LS  applied`);
    for (const b of e.byPosition) console.log(`${' '.repeat(name.length)}  ${`${b.from}-${b.to}`.padStart(7)} ${pct(b.ES)} ${pct(b.GS)} ${pct(b.LS)}     ${pct(b.applied)}`);
  }
  return out;
}

export async function main(args: string[] = []): Promise<void> {
  if (args[0] !== undefined) {
    printTable(args[0]);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-example-08-'));
  try {
    // What `hiedit-bench run --pretrain-settings FILE` reads: a world model far smaller than the default, so the
    // example pretrains in seconds (it will know few facts; the point here is the record, not the scores).
    const settingsFile = path.join(dir, 'pretrain.json');
    fs.writeFileSync(settingsFile, JSON.stringify({ model: { layers: 2, hidden: 32, heads: 2, kvHeads: 2, intermediate: 64 }, epochs: 4, batchSize: 64 }));
    const pretrain = readPretrainSettings(settingsFile);
    const editors = path.join(dir, 'editors.json');
    fs.writeFileSync(editors, JSON.stringify({ hiedit: { policy: { low: { rank: 4 }, high: { hidden: 8 } }, trainer: { epochs: 1 } } }));
    const out = path.join(dir, 'out');
    const argv = ['run', '--editors', 'hiedit,ft', '--editor-settings', editors, '--train', '4', '--val', '2', '--eval', '10',
      '--num-pre', '3', '--held-out', '5', '--no-wild', '--out', out, '--cache-dir', path.join(dir, 'cache'), '--quiet'];
    const lines: string[] = [];
    const code = await runCli('hiedit-bench', [runCommand((o) => defaultDeps({ world: { persons: 24 }, pretrain, log: o.log }))], argv,
      { out: (s) => lines.push(s), err: () => {} });
    assert.strictEqual(code, 0, lines.join(''));
    const table = printTable(out);
    for (const buckets of Object.values(table)) {
      // ten groups of one edit each, covering the stream once, in order
      assert.deepStrictEqual(buckets.map((b) => [b.from, b.to]), Array.from({ length: 10 }, (_, i) => [i + 1, i + 1]));
    }
    assert.deepStrictEqual(Object.keys(table).sort(), ['ft', 'hiedit']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
