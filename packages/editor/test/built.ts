/** Tests that run bin/hiedit.js as a separate process need the packages' dist: this builds what is stale. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');

/** Newest mtime of the non-test .ts files under dir. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds tensor-core, llm-loader, rl-hierarchy and editor (in that order) when dist is missing or older than src. */
export function ensureBuilt(): void {
  const tsc = require.resolve('typescript/bin/tsc');
  for (const pkg of ['tensor-core', 'llm-loader', 'rl-hierarchy', 'editor']) {
    const dir = path.join(ROOT, 'packages', pkg);
    const entry = path.join(dir, 'dist', 'index.js');
    const fresh = fs.existsSync(entry) && fs.statSync(entry).mtimeMs >= newestSource(path.join(dir, 'src'));
    if (fresh && (pkg !== 'editor' || fs.existsSync(path.join(dir, 'dist/cli/main.js')))) continue;
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.lib.json')], { cwd: ROOT, encoding: 'utf8' });
    // tsc still emits on type errors elsewhere in a package; the bin only needs the emitted files.
    if (!fs.existsSync(entry)) throw new Error(`building ${pkg} failed:\n${r.stdout}${r.stderr}`);
  }
}
