import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createEditorCommands, EditJournal, LifelongEditor, llmLoaderApi } from '@hiedit/editor';
import { loadModel } from '@hiedit/llm-loader';
import { currentWeightsDigest, runCli, undocumentedFlags, type DefinedCommand } from '@hiedit/tensor-core';
import { validateResults } from '../report';
import { defaultDeps } from '../runner/defaults';
import { benchCommands, main, parseRunArgs, runCommand } from './main';
import { oracleGapCommand } from './oracle-gap-command';
import { splitsCommand } from './splits-command';
import type { DepsArgs } from './main';
import type { ModelSize } from '../testbed/modelSize';
import type { TrainSettingsInput } from '../testbed/pretrain';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

/** The real dependencies on a tiny generated world and a tiny pretrained Llama (seconds to pretrain). */
function tinyWorldDeps(persons: number, epochs: number, batchSize: number) {
  return (o: { log: (l: string) => void }) =>
    defaultDeps({
      world: { persons },
      pretrain: { model: { layers: 2, hidden: 32, heads: 2, kvHeads: 2, intermediate: 64 }, epochs, batchSize },
      log: o.log,
    });
}

describe('hiedit-bench command line', () => {
  test('flags map to run options with the documented defaults', () => {
    const { run } = parseRunArgs([]);
    expect(run).toMatchObject({ dataset: 'world', editors: ['hiedit', 'rledit'], seed: 0, wild: true });
    expect(run.nTrain).toBeUndefined(); // sized to the data by the runner
    expect(run.out).toBe(path.join('bench-out', 'world-s0'));
    const { run: r2 } = parseRunArgs(['--dataset', 'zsre', '--data', 'x.json', '--editors', 'ft, mend', '--eval', '5', '--no-wild', '--seed', '3']);
    expect(r2).toMatchObject({ dataset: 'zsre', data: 'x.json', editors: ['ft', 'mend'], nEval: 5, wild: false, out: path.join('bench-out', 'zsre-s3') });
    expect(() => parseRunArgs(['--dataset', 'zsre'])).toThrow(/needs --data FILE/);
    expect(() => parseRunArgs(['--train', '1.5'])).toThrow(/--train must be a non-negative integer/);
    expect(() => parseRunArgs(['--style', 'rome'])).toThrow(/--style must be zsre or counterfact/);
    expect(() => parseRunArgs(['--eval', '3', '--num-pre', '4'])).toThrow(/--num-pre \(4\) cannot exceed --eval \(3\)/);
    expect(parseRunArgs(['--model-seed', '2']).modelSeed).toBe(2);
    expect(parseRunArgs([]).modelSeed).toBeUndefined();
    expect(() => parseRunArgs(['--model-seed', '-1'])).toThrow(/--model-seed must be a non-negative integer/);
    expect(() => parseRunArgs(['--model-seed', '1', '--model', 'dir'])).toThrow(/cannot be combined with --model/);
    expect(parseRunArgs(['--model-arch', 'gpt2']).modelArch).toBe('gpt2');
    expect(parseRunArgs([]).modelArch).toBeUndefined();
    expect(() => parseRunArgs(['--model-arch', 'bert'])).toThrow(/--model-arch must be llama, gpt2, gemma2, qwen3, got "bert"/);
    expect(parseRunArgs(['--model-arch', 'gemma2']).pretrain?.model).toMatchObject({ arch: 'gemma2' });
    expect(parseRunArgs(['--model-arch', 'qwen3']).pretrain?.model).toMatchObject({ arch: 'qwen3' });
    expect(() => parseRunArgs(['--model-arch', 'gpt2', '--model', 'dir'])).toThrow(/--model-arch .*cannot be combined with --model DIR/);
    expect(parseRunArgs(['--machinery', 'none']).run.machinery).toBe('none');
    expect(parseRunArgs([]).run.machinery).toBeUndefined();
    expect(() => parseRunArgs(['--machinery', 'some'])).toThrow(/^--machinery must be hiedit or none, got "some"$/);
  });

  test('--model-size picks a preset of pretraining settings under the other pretraining flags', () => {
    expect(parseRunArgs([]).modelSize).toBe('small');
    expect(parseRunArgs(['--model-size', 'small']).pretrain).toBeUndefined();
    expect(parseRunArgs(['--model-size', 'small', '--model-seed', '1']).pretrain).toEqual({ seed: 1 });
    const deep = { model: { layers: 8, hidden: 128, intermediate: 512 }, epochs: 30, lr: 0.002, warmupSteps: 100 };
    expect(parseRunArgs(['--model-size', 'deep'])).toMatchObject({ modelSize: 'deep', pretrain: deep });
    expect(parseRunArgs(['--model-size', 'deep', '--model-arch', 'gpt2', '--model-seed', '2']).pretrain)
      .toEqual({ ...deep, model: { ...deep.model, arch: 'gpt2' }, seed: 2 });
    expect(parseRunArgs(['--model', 'dir']).modelSize).toBeUndefined();
    expect(() => parseRunArgs(['--model-size', 'large'])).toThrow(/^--model-size must be small or deep, got "large"$/);
    expect(() => parseRunArgs(['--model-size', 'deep', '--model', 'dir'])).toThrow(/--model-size .*cannot be combined with --model DIR/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-model-size-'));
    try {
      const f = path.join(dir, 'short.json');
      fs.writeFileSync(f, JSON.stringify({ epochs: 40, model: { intermediate: 256 } }));
      expect(parseRunArgs(['--model-size', 'deep', '--pretrain-settings', f]).pretrain).toEqual({ ...deep, epochs: 40, model: { ...deep.model, intermediate: 256 } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--pretrain-settings reads a checked JSON of pretraining settings and merges --model-seed / --model-arch', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-pretrain-settings-'));
    const write = (name: string, body: string): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, body);
      return f;
    };
    try {
      const wide = write('wide.json', JSON.stringify({ model: { intermediate: 1024 }, epochs: 30 }));
      expect(parseRunArgs(['--pretrain-settings', wide]).pretrain).toEqual({ model: { intermediate: 1024 }, epochs: 30 });
      expect(parseRunArgs(['--pretrain-settings', wide, '--model-seed', '2', '--model-arch', 'gpt2']).pretrain)
        .toEqual({ model: { intermediate: 1024, arch: 'gpt2' }, epochs: 30, seed: 2 });
      // the flags alone give what they always gave; llama is the default and stays unrecorded (cache keys unchanged)
      expect(parseRunArgs(['--model-seed', '1']).pretrain).toEqual({ seed: 1 });
      expect(parseRunArgs(['--model-arch', 'llama']).pretrain).toBeUndefined();
      expect(parseRunArgs([]).pretrain).toBeUndefined();
      const llama = write('llama.json', JSON.stringify({ model: { arch: 'llama', layers: 2 } }));
      expect(parseRunArgs(['--pretrain-settings', llama]).pretrain).toEqual({ model: { layers: 2 } });

      let n = 0;
      const bad = (body: string): string => write(`bad-${n++}.json`, body);
      expect(() => parseRunArgs(['--pretrain-settings', bad('{"model": {"widht": 3}}')])).toThrow(/--pretrain-settings .*bad-.*\.json: unknown field "model\.widht"/);
      expect(() => parseRunArgs(['--pretrain-settings', bad('{"epoch": 3}')])).toThrow(/unknown field "epoch" \(known: model, seed, epochs/);
      expect(() => parseRunArgs(['--pretrain-settings', bad('{"lr": "fast"}')])).toThrow(/"lr" must be a number, got "fast"/);
      expect(() => parseRunArgs(['--pretrain-settings', bad('{"model": {"heads": 3}}')])).toThrow(/--pretrain-settings .*: train settings: model\.heads \(3\) must divide model\.hidden/);
      expect(() => parseRunArgs(['--pretrain-settings', bad('[1]')])).toThrow(/must be a JSON object of pretraining settings/);
      expect(() => parseRunArgs(['--pretrain-settings', bad('{"model": ')])).toThrow(/--pretrain-settings .*bad-.*\.json: .*JSON/);
      expect(() => parseRunArgs(['--pretrain-settings', path.join(dir, 'missing.json')])).toThrow(/--pretrain-settings .*missing\.json: cannot read \(ENOENT/);
      const seeded = write('seeded.json', JSON.stringify({ seed: 4 }));
      expect(() => parseRunArgs(['--pretrain-settings', seeded, '--model-seed', '1'])).toThrow(/sets "seed" and --model-seed is given: use one/);
      const gpt2 = write('gpt2.json', JSON.stringify({ model: { arch: 'gpt2' } }));
      expect(() => parseRunArgs(['--pretrain-settings', gpt2, '--model-arch', 'gpt2'])).toThrow(/sets "model\.arch" and --model-arch is given: use one/);
      expect(() => parseRunArgs(['--pretrain-settings', wide, '--model', 'dir'])).toThrow(/--pretrain-settings .*cannot be combined with --model DIR/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('integer flags refuse hex, exponents, fractions and negatives, naming the flag', () => {
    expect(parseRunArgs(['--eval', '40', '--train', '7', '--world-persons', '300'])).toMatchObject({ run: { nEval: 40, nTrain: 7 }, worldPersons: 300 });
    expect(() => parseRunArgs(['--eval', '0x10'])).toThrow(/^--eval must be a non-negative integer, got "0x10"$/);
    expect(() => parseRunArgs(['--seed', '1e3'])).toThrow(/^--seed must be a non-negative integer, got "1e3"$/);
    expect(() => parseRunArgs(['--held-out', '-5'])).toThrow(/^--held-out must be a non-negative integer, got -5$/);
    expect(() => parseRunArgs(['--world-persons', '0x40'])).toThrow(/^--world-persons must be an integer in 20\.\.5000, got "0x40"$/);
    expect(() => parseRunArgs(['--max-pretrain-seconds', '0x10'])).toThrow(/^--max-pretrain-seconds expects a number, got "0x10"$/);
    expect(parseRunArgs(['--max-pretrain-seconds', '1.5e2']).maxPretrainSeconds).toBe(150);
    expect(parseRunArgs(['--wild=false', '--quiet=true']).run).toMatchObject({ wild: false, quiet: true });
  });

  test('every command is built with the one flag framework and documents each flag in its --help', async () => {
    for (const cmd of benchCommands()) {
      expect({ name: cmd.name, defined: 'flags' in cmd }).toEqual({ name: cmd.name, defined: true });
      expect({ name: cmd.name, undocumented: undocumentedFlags(cmd as DefinedCommand) }).toEqual({ name: cmd.name, undocumented: [] });
      const h = capture();
      expect(await main([cmd.name, '--help'], h.io)).toBe(0);
      expect(h.out.join('')).toBe(`${cmd.usage}\n`);
      expect(h.out.join('')).toMatch(new RegExp(`^Usage: hiedit-bench ${cmd.name} `));
    }
    const bad = capture();
    expect(await main(['report', 'dir', '--markdown=sometimes'], bad.io)).toBe(2);
    expect(bad.err.join('')).toMatch(/^hiedit-bench report: --markdown is a switch/);
  });

  test('usage errors exit 2 and name the problem', async () => {
    const c = capture();
    expect(await main(['run', '--dataset', 'nope'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/--dataset must be world, counterfact or zsre/);
    const h = capture();
    expect(await main(['help', 'run'], h.io)).toBe(0);
    expect(h.out.join('')).toMatch(/--num-pre N/);
  });

  // oracle-gap once dropped --model-size and judged the small model's candidate modules on the deep model.
  test('run, oracle-gap and splits build their dependencies from the same flags', async () => {
    const flags = ['--model-size', 'deep', '--world-seed', '3', '--world-persons', '40', '--model-seed', '2', '--max-pretrain-seconds', '9', '--quiet'];
    const seen: Omit<DepsArgs, 'log'>[] = [];
    const stop = (o: DepsArgs): never => {
      const { log: _log, ...rest } = o;
      seen.push(rest);
      throw new Error('dependencies captured');
    };
    for (const command of [runCommand(stop), oracleGapCommand(stop), splitsCommand(stop)]) {
      expect(await runCli('hiedit-bench', [command], [command.name, ...flags], capture().io)).toBe(1);
    }
    expect(seen).toHaveLength(3);
    expect(seen[0]).toMatchObject({ worldSeed: 3, worldPersons: 40, modelSize: 'deep', maxPretrainSeconds: 9 });
    expect(seen[0].pretrain).toMatchObject({ seed: 2, model: { layers: 8 } });
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });

  // A real run end to end: generated world, pretrained tiny Llama, the ft editor, a 3-edit stream.
  test('runs a tiny world benchmark end to end and resumes it without redoing work', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-bench-e2e-'));
    try {
      const tiny = tinyWorldDeps(20, 1, 512);
      const settings = path.join(dir, 'editors.json');
      fs.writeFileSync(settings, JSON.stringify({ ft: { steps: 3 } }));
      const argv = ['run', '--editors', 'ft', '--editor-settings', settings, '--train', '0', '--eval', '3', '--num-pre', '1', '--held-out', '5', '--out', path.join(dir, 'out'), '--cache-dir', path.join(dir, 'cache'), '--quiet'];
      const c = capture();
      const code = await runCli('hiedit-bench', [runCommand(tiny)], argv, c.io);
      expect(c.err.join('')).not.toMatch(/hiedit-bench run:/);
      expect(code).toBe(0);
      const results = validateResults(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'results.json'), 'utf8')));
      expect(results.dataset).toBe('world');
      expect(results.n_eval).toBe(3);
      expect(results).toMatchObject({ model_size: 'small', model_arch: 'llama' });
      expect(Object.keys(results.editors)).toEqual(['ft']);
      expect(results.editors.ft.layers_per_edit).toBeGreaterThan(0);
      expect(results.curves.ft.map((p) => p.edits)).toEqual([1, 2, 3]);
      const html = fs.readFileSync(path.join(dir, 'out', 'report.html'), 'utf8');
      expect(html).toContain('<svg class="chart"');
      expect(html).not.toMatch(/https?:/);
      expect(c.out.join('')).toMatch(/report: .*report\.html/);

      // report re-renders from the saved files; validate checks the contract.
      fs.rmSync(path.join(dir, 'out', 'report.html'));
      const rep = capture();
      expect(await main(['report', path.join(dir, 'out'), '--markdown'], rep.io)).toBe(0);
      expect(rep.out.join('')).toMatch(/\| ft \|/);
      const rerendered = fs.readFileSync(path.join(dir, 'out', 'report.html'), 'utf8');
      expect(rerendered).toContain('<svg class="heat"');
      expect(rerendered).toContain('final ES by position in the stream');
      const val = capture();
      expect(await main(['validate', path.join(dir, 'out', 'results.json')], val.io)).toBe(0);
      fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ ...results, seed: 'x' }));
      expect(await main(['validate', path.join(dir, 'bad.json')], val.io)).toBe(1);
      expect(val.err.join('')).toMatch(/"seed" must be an integer/);

      const again = capture();
      expect(await runCli('hiedit-bench', [runCommand(tiny)], argv, again.io)).toBe(0);
      expect(again.err.join('')).toMatch(/ft: finished earlier/);
      expect(again.err.join('')).toMatch(/cached at/);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'results.json'), 'utf8'))).toEqual(results);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120000);

  // --machinery reaches every policy editor and is recorded; oracle-gap with the same flags reuses the run's trained
  // HiEdit and judges every k-set on every evaluation request with the run's metrics.
  test('--machinery none runs every policy editor without machinery; oracle-gap judges the run\'s HiEdit', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-bench-gap-'));
    try {
      const tiny = tinyWorldDeps(24, 4, 64);
      const settings = path.join(dir, 'editors.json');
      const small = { policy: { low: { rank: 4 }, high: { hidden: 8 } }, trainer: { epochs: 1 } };
      fs.writeFileSync(settings, JSON.stringify({ hiedit: small, rledit: { policy: { low: { rank: 4 } }, trainer: { epochs: 1 } } }));
      const out = path.join(dir, 'out');
      const flags = ['--editor-settings', settings, '--machinery', 'none', '--train', '4', '--val', '2', '--eval', '5', '--num-pre', '2',
        '--held-out', '5', '--no-wild', '--out', out, '--cache-dir', path.join(dir, 'cache'), '--quiet'];
      const run = capture();
      expect(await runCli('hiedit-bench', [runCommand(tiny)], ['run', '--editors', 'hiedit,rledit,ft', ...flags], run.io)).toBe(0);
      const details = JSON.parse(fs.readFileSync(path.join(out, 'details.json'), 'utf8'));
      expect(details.settings.machinery).toBe('none');
      expect([details.editors.hiedit.options, details.editors.rledit.options, details.editors.ft.options]).toEqual(['none', 'none', 'none (no policy)']);
      expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/none for every policy editor/);

      // a contradicting per-editor setting is refused before any work
      const clash = path.join(dir, 'clash.json');
      fs.writeFileSync(clash, JSON.stringify({ rledit: { machinery: 'hiedit' } }));
      const refused = capture();
      expect(await runCli('hiedit-bench', [runCommand(tiny)], ['run', '--editors', 'rledit', '--machinery', 'none', '--editor-settings', clash, '--out', out], refused.io)).toBe(2);
      expect(refused.err.join('')).toMatch(/--machinery none contradicts --editor-settings "rledit": \{"machinery": "hiedit"\}/);

      const gap = capture();
      expect(await runCli('hiedit-bench', [oracleGapCommand(tiny)], ['oracle-gap', ...flags], gap.io)).toBe(0);
      expect(gap.err.join('')).toMatch(/hiedit: trained earlier, loading/);
      const report = JSON.parse(gap.out.join(''));
      const file = JSON.parse(fs.readFileSync(path.join(out, 'oracle-gap.json'), 'utf8'));
      expect(file).toMatchObject(report);
      // the tiny model's default candidates are both layers' down_proj; HiEdit's k is 1 of them
      expect(report).toMatchObject({ editor: 'hiedit', k: 1, sets: 2, edits: 5, machinery: 'none', options: 'none', trainedEarlier: true });
      expect(file.setModules).toEqual(report.candidates.map((m: string) => [m]));
      expect(file.perEdit.map((e: { id: string }) => e.id)).toEqual(
        fs.readFileSync(path.join(out, 'requests', 'evaluation.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).id));
      expect(report.oracleMean).toBeGreaterThanOrEqual(report.bestFixedMean);
      expect(report.bestFixedMean).toBeGreaterThanOrEqual(report.randomSetMean);
      expect(report.gapPoints).toBeCloseTo(report.oracleMean - report.bestFixedMean, 10);
      // without calibration HiEdit's editor applies the gate's first choice at strength 1, exactly what its set was
      // scored with: the editor's own path and the matrix agree edit by edit
      for (const e of file.perEdit) {
        expect(e.gate).toBeGreaterThanOrEqual(0);
        expect(e.hiedit).toBeCloseTo(e.scores[e.gate], 10);
        expect(e.hieditModules).toEqual(file.setModules[e.gate]);
      }
      expect(report.hieditMean).toBeCloseTo(report.gateMean, 10);

      // every set at once (k = 2 of 2) leaves no choice: no gap
      const all = capture();
      expect(await runCli('hiedit-bench', [oracleGapCommand(tiny)], ['oracle-gap', ...flags, '--k', '2'], all.io)).toBe(0);
      const whole = JSON.parse(all.out.join(''));
      expect([whole.sets, whole.gapPoints, whole.gateMean]).toEqual([1, 0, null]);
      expect(whole.oracleMean).toBeCloseTo(whole.randomSetMean, 10);

      const bounded = capture();
      expect(await runCli('hiedit-bench', [oracleGapCommand(tiny)], ['oracle-gap', ...flags, '--max-sets', '1'], bounded.io)).toBe(1);
      expect(bounded.err.join('')).toMatch(/2 candidate modules give 2 sets of 1, more than --max-sets 1 .*raise --max-sets or lower --k/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240000);

  // The deep size through the real dependencies: its candidate set is every layer's down_proj, and results.json,
  // details.json and the report say which size and architecture ran. The shape is shrunk (8 layers, 16 wide) so the
  // pretraining takes seconds; the preset's own numbers are checked in testbed/modelSize.test.ts.
  test('--model-size deep edits every layer\'s output projection and records the size', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-bench-deep-'));
    try {
      const tinyDeep = (o: { modelSize?: ModelSize; pretrain?: TrainSettingsInput; log: (l: string) => void }) => {
        expect(o.pretrain?.model?.layers).toBe(8);
        return defaultDeps({
          world: { persons: 20 },
          modelSize: o.modelSize,
          pretrain: { model: { layers: 8, hidden: 16, heads: 2, kvHeads: 2, intermediate: 32 }, epochs: 1, batchSize: 512 },
          log: o.log,
        });
      };
      const settings = path.join(dir, 'editors.json');
      fs.writeFileSync(settings, JSON.stringify({ ft: { steps: 2 } }));
      const out = path.join(dir, 'out');
      const argv = ['run', '--model-size', 'deep', '--editors', 'ft', '--editor-settings', settings, '--train', '0', '--eval', '2', '--num-pre', '1',
        '--held-out', '3', '--no-wild', '--out', out, '--cache-dir', path.join(dir, 'cache'), '--quiet'];
      const c = capture();
      expect(await runCli('hiedit-bench', [runCommand(tinyDeep)], argv, c.io)).toBe(0);
      const results = validateResults(JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')));
      expect(results).toMatchObject({ model_size: 'deep', model_arch: 'llama' });
      const details = JSON.parse(fs.readFileSync(path.join(out, 'details.json'), 'utf8'));
      expect(details.settings.modules).toEqual(Array.from({ length: 8 }, (_, l) => `model.layers.${l}.mlp.down_proj`));
      expect(details.settings).toMatchObject({ modelSize: 'deep', modelArch: 'llama' });
      expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/<dt>model_size<\/dt><dd>deep<\/dd>/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120000);

  // A trained HiEdit reloaded by a resumed run must edit exactly as the run that trained it: the same per-edit
  // module choices (which calibration decides) and the same metrics. This is the real editor on a real tiny model.
  test('a resumed run reloads a trained HiEdit with its creation defaults: the same edits and metrics', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-bench-reload-'));
    try {
      const tiny = tinyWorldDeps(24, 4, 64);
      const settings = path.join(dir, 'editors.json');
      fs.writeFileSync(settings, JSON.stringify({ hiedit: { policy: { low: { rank: 4 }, high: { hidden: 8 } }, trainer: { epochs: 1 } } }));
      const out = path.join(dir, 'out');
      const argv = ['run', '--editors', 'hiedit', '--editor-settings', settings, '--train', '4', '--val', '2', '--eval', '6', '--num-pre', '2', '--held-out', '5', '--no-wild', '--out', out, '--cache-dir', path.join(dir, 'cache'), '--quiet'];
      const first = capture();
      expect(await runCli('hiedit-bench', [runCommand(tiny)], argv, first.io)).toBe(0);
      const read = () => ({
        results: JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')),
        modules: JSON.parse(fs.readFileSync(path.join(out, 'details.json'), 'utf8')).editors.hiedit.modulesPerEdit,
      });
      const a = read();
      // as if the run had been interrupted after training: the evaluation is redone with the saved policy
      fs.rmSync(path.join(out, 'editors', 'hiedit', 'result.json'));
      const second = capture();
      expect(await runCli('hiedit-bench', [runCommand(tiny)], argv, second.io)).toBe(0);
      expect(second.err.join('')).toMatch(/hiedit: trained earlier, loading/);
      const b = read();
      expect(b.modules).toEqual(a.modules);
      const { ms_per_edit: _ma, ...ma } = a.results.editors.hiedit;
      const { ms_per_edit: _mb, ...mb } = b.results.editors.hiedit;
      expect(mb).toEqual(ma);
      expect(b.results.curves).toEqual(a.results.curves);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180000);

  // One edit engine: the benchmark's stream and `hiedit edit` are the same path, so the same requests through the
  // benchmark's trained editor give the same weights, bit for bit; and the run's journal rebuilds that model.
  test('hiedit edit with the benchmark\'s trained editor on its evaluation requests gives bit-identical weights', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-bench-engine-'));
    try {
      const tiny = tinyWorldDeps(24, 4, 64);
      const settings = path.join(dir, 'editors.json');
      // without calibration every edit is applied, so the comparison covers six real shifts
      fs.writeFileSync(settings, JSON.stringify({ hiedit: { policy: { low: { rank: 4 }, high: { hidden: 8 } }, trainer: { epochs: 1, calibration: null } } }));
      const out = path.join(dir, 'out');
      const argv = ['run', '--editors', 'hiedit', '--editor-settings', settings, '--train', '4', '--val', '2', '--eval', '6', '--num-pre', '2',
        '--held-out', '5', '--no-wild', '--journal', '--out', out, '--cache-dir', path.join(dir, 'cache'), '--quiet'];
      const run = capture();
      expect(await runCli('hiedit-bench', [runCommand(tiny)], argv, run.io)).toBe(0);
      const modelDir = /model: \S+ \((.+)\)/.exec(run.err.join(''))![1];
      const details = JSON.parse(fs.readFileSync(path.join(out, 'details.json'), 'utf8')).editors.hiedit;
      expect(details.finalWeightsDigest).toMatch(/^[0-9a-f]{64}$/);
      expect(details.modulesPerEdit.every((m: string[]) => m.length > 0)).toBe(true);

      // the same requests, through the product's CLI, with the editor directory the benchmark trained
      const journal = path.join(dir, 'cli.hjournal');
      const edit = capture();
      const editArgv = ['edit', '--model', modelDir, '--editor', path.join(out, 'editors', 'hiedit', 'trained'), '--journal', journal,
        '--requests', path.join(out, 'requests', 'evaluation.jsonl'), '--format', 'requests', '--json'];
      expect(await runCli('hiedit', createEditorCommands(llmLoaderApi), editArgv, edit.io)).toBe(0);

      const digestAfterReplay = async (file: string): Promise<{ digest: string; edits: number }> => {
        const model = await loadModel(modelDir);
        try {
          const j = EditJournal.open(file);
          LifelongEditor.replay(j, model);
          const modules = JSON.parse(fs.readFileSync(path.join(out, 'editors', 'hiedit', 'trained', 'editor.json'), 'utf8')).modules.map((m: { name: string }) => m.name);
          return { digest: currentWeightsDigest(model, modules), edits: j.activeEdits().length };
        } finally {
          model.dispose();
        }
      };
      const viaCli = await digestAfterReplay(journal);
      const viaBench = await digestAfterReplay(path.join(out, 'editors', 'hiedit', 'stream.hjournal'));
      expect(viaCli.edits).toBe(6);
      expect(viaBench.edits).toBe(6);
      expect(viaCli.digest).toBe(details.finalWeightsDigest);
      expect(viaBench.digest).toBe(details.finalWeightsDigest);

      // the model `hiedit export` rebuilds from the run's journal, scored by `hiedit-bench eval` on the run's request
      // files, gets the run's own metrics
      const exported = path.join(dir, 'exported');
      const exp = capture();
      expect(await runCli('hiedit', createEditorCommands(llmLoaderApi),
        ['export', '--model', modelDir, '--journal', path.join(out, 'editors', 'hiedit', 'stream.hjournal'), '--out', exported], exp.io)).toBe(0);
      const ev = capture();
      expect(await main(['eval', '--model', exported, '--base', modelDir, '--data', path.join(out, 'requests', 'evaluation.jsonl'),
        '--facts', path.join(out, 'requests', 'held-out-facts.jsonl'), '--num-pre', '2', '--no-wild', '--json'], ev.io)).toBe(0);
      const scored = Object.values(JSON.parse(ev.out.join('')).editors)[0] as Record<string, unknown>;
      const runMetrics = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).editors.hiedit;
      for (const k of ['ES', 'GS', 'LS', 'LS_gold', 'Pre_ES', 'Pre_GS', 'Pre_LS', 'WILD_ES', 'WILD_GS', 'retention']) expect([k, scored[k]]).toEqual([k, runMetrics[k]]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240000);
});
