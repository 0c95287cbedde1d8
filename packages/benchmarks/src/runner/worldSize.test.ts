import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, runCli } from '@hiedit/tensor-core';
import { parseRunArgs, runCommand } from '../cli/main';
import { Progress } from '../progress';
import { generateWorld, resolveWorldOptions } from '../testbed/world';
import { defaultDeps, worldDataLabel } from './defaults';
import type { RunOptions, RunnerDeps } from './types';

const progress = (label: string, total: number) => new Progress(label, total, { sink: { write: () => true }, quiet: true });
const tinyPretrain = { model: { layers: 1, hidden: 16, heads: 2, kvHeads: 2, intermediate: 32 }, epochs: 1, batchSize: 512 };

function worldRun(extra: Partial<RunOptions> = {}): RunOptions {
  return { dataset: 'world', editors: ['ft'], seed: 0, out: 'unused', ...extra };
}

describe('--world-persons', () => {
  test('parses, validates and refuses data files', () => {
    expect(parseRunArgs([]).worldPersons).toBeUndefined();
    expect(parseRunArgs(['--world-persons', '2000']).worldPersons).toBe(2000);
    expect(() => parseRunArgs(['--world-persons', '10'])).toThrow(/--world-persons must be an integer in 20\.\.5000, got 10/);
    expect(() => parseRunArgs(['--world-persons', '30.5'])).toThrow(/--world-persons must be an integer/);
    expect(() => parseRunArgs(['--dataset', 'zsre', '--data', 'x.json', '--world-persons', '300'])).toThrow(/needs --dataset world without --data/);
    expect(() => parseRunArgs(['--data', 'edits.json', '--world-persons', '300'])).toThrow(/needs --dataset world without --data/);
  });

  test('reaches the dependencies from the command line', async () => {
    const seen: { worldSeed: number; worldPersons?: number }[] = [];
    const stop = new Error('deps seen');
    const deps = (o: { worldSeed: number; worldPersons?: number }): RunnerDeps => {
      seen.push({ worldSeed: o.worldSeed, worldPersons: o.worldPersons });
      throw stop;
    };
    const io = { out: () => undefined, err: () => undefined };
    expect(await runCli('hiedit-bench', [runCommand(deps)], ['run', '--world-persons', '40', '--world-seed', '3', '--quiet'], io)).not.toBe(0);
    expect(seen).toEqual([{ worldSeed: 3, worldPersons: 40 }]);
  });

  test('sizes the generated world and labels it, the default world keeping its label', async () => {
    const small = await defaultDeps({ worldPersons: 40, log: () => undefined }).loadData(worldRun({ model: 'any' }), progress);
    expect(small.requests.length).toBe(generateWorld({ seed: 0, persons: 40 }).edits.length);
    expect(small.label).toBe('world-s0-p40');
    const dflt = await defaultDeps({ log: () => undefined }).loadData(worldRun({ model: 'any' }), progress);
    expect(dflt.label).toBe('world-s0');
    expect(dflt.requests.length).toBe(136);
    expect(dflt.hash).not.toBe(small.hash);
    expect(worldDataLabel(resolveWorldOptions({ seed: 2, persons: 200 }))).toBe('world-s2');
  });

  test('refuses a stream the world cannot hold before pretraining its model', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-world-fit-'));
    try {
      const n = generateWorld({ seed: 0, persons: 30 }).edits.length;
      const deps = defaultDeps({ worldPersons: 30, pretrain: tinyPretrain, log: () => undefined });
      await expect(deps.loadData(worldRun({ cacheDir, nEval: n + 1 }), progress)).rejects.toThrow(new RegExp(`the data holds ${n} requests`));
      expect(fs.readdirSync(cacheDir)).toEqual([]);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  test('a different size is a different cached world model', async () => {
    await initBackend();
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-world-size-'));
    try {
      const load = (persons: number) =>
        defaultDeps({ worldPersons: persons, pretrain: tinyPretrain, log: () => undefined }).loadData(worldRun({ cacheDir }), progress);
      const a = await load(20);
      const b = await load(24);
      const entryOf = (file: string) => path.dirname(path.dirname(file));
      expect(entryOf(a.file)).not.toBe(entryOf(b.file));
      expect(b.requests.length).toBe(generateWorld({ seed: 0, persons: 24 }).edits.length);
      const report = JSON.parse(fs.readFileSync(path.join(entryOf(b.file), 'pretrain.json'), 'utf8'));
      expect(report.source.world.persons).toBe(24);
      expect(fs.readdirSync(cacheDir).filter((f) => f.startsWith('world-')).length).toBe(2);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  }, 120000);
});
