/**
 * The examples of docs/loader-guide.md must type-check and run, the way the guide tells users to run
 * them (node docs/examples/run.js), each against its own tiny checkpoint.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');
const EXAMPLES = path.join(ROOT, 'docs/examples');
const scripts = fs.readdirSync(EXAMPLES).filter((f) => /^\d\d-.*\.ts$/.test(f)).sort();

describe('docs/examples', () => {
  it('are all linked from the loader guide, and the guide links only existing ones', () => {
    const guide = fs.readFileSync(path.join(ROOT, 'docs/loader-guide.md'), 'utf8');
    const linked = [...guide.matchAll(/\(examples\/([^)]+\.ts)\)/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThanOrEqual(5);
    expect([...new Set(linked)].sort()).toEqual(scripts);
  });

  it('type-check against the package sources', () => {
    const tsc = require.resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(EXAMPLES, 'tsconfig.json')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('all run to completion (their own assertions pass)', () => {
    const r = spawnSync(process.execPath, [path.join(EXAMPLES, 'run.js'), '--all'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`examples failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    for (const s of scripts) expect(r.stdout).toContain(`== ${s}\n`);
  });
});
