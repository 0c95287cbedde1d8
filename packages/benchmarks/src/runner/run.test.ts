import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf, type EditableModel, type ModuleDescriptor, type ParameterShift, type TokenizedEditRequest } from '@hiedit/tensor-core';
import { validateResults } from '../report';
import { LifelongEditor } from '@hiedit/editor';
import { defaultSizes, movedOnEditNotes, runBenchmark, skippedEditNotes } from './run';
import { claimRunDir, RunDir, settingsKey } from './state';
import type { BenchEditor, BenchEditorFactory, BenchModel, RunOptions, RunnerDeps, TextRequest } from './types';

/** Bigram LM with an editable table: logits at t = table[ids[t]] + bias. */
class ToyLM implements BenchModel {
  readonly config: { vocabSize: number; modelType: string; architecture: string; numLayers: number; hiddenSize: number };
  readonly modules: ModuleDescriptor[];
  private readonly w = new Map<string, tf.Variable>();
  constructor(readonly words: string[]) {
    const V = words.length;
    this.config = { vocabSize: V, modelType: 'toy', architecture: 'bigram', numLayers: 1, hiddenSize: V };
    this.tokenizer.vocabSize = V;
    this.modules = [
      { name: 'table', dIn: V, dOut: V, layer: 0 },
      { name: 'bias', dIn: 1, dOut: V, layer: 1 },
    ];
    for (const [name, shape] of [['table', [V, V]], ['bias', [1, V]]] as const) {
      const z = tf.zeros([...shape]);
      this.w.set(name, tf.variable(z));
      z.dispose(); // the variable keeps the data
    }
  }
  readonly tokenizer = {
    decode: (ids: number[]) => ids.map((i) => ` ${this.words[i]}`).join(''),
    encode: (text: string) => text.trim().split(' ').map((w) => this.words.indexOf(w)),
    vocabSize: 0,
  };
  weightsHash(): string {
    return 'toy-base';
  }
  module(name: string): ModuleDescriptor {
    const m = this.modules.find((x) => x.name === name);
    if (!m) throw new Error(`no module ${name}`);
    return m;
  }
  forward(ids: number[][]): tf.Tensor3D {
    return tf.tidy(() => tf.add(tf.gather(this.w.get('table')!, tf.tensor2d(ids, undefined, 'int32')), this.w.get('bias')!) as tf.Tensor3D);
  }
  addShift(name: string, delta: tf.Tensor2D, scale = 1): void {
    const v = this.w.get(this.module(name).name)!;
    const next = tf.tidy(() => tf.add(v, tf.mul(delta, scale)));
    v.assign(next);
    next.dispose();
  }
  readWeight(name: string): tf.Tensor2D {
    return tf.clone(this.w.get(this.module(name).name)!) as tf.Tensor2D;
  }
  writeWeight(name: string, value: tf.Tensor2D): void {
    const c = tf.clone(value);
    this.w.get(this.module(name).name)!.assign(c);
    c.dispose();
  }
  trace(): never {
    throw new Error('not used');
  }
  lossUnderShifts(): never {
    throw new Error('not used');
  }
  logProbsUnderShifts(): never {
    throw new Error('not used');
  }
  dispose(): void {
    for (const v of this.w.values()) v.dispose();
  }
}

const counters = { train: 0, propose: 0, load: 0 };
const trainCalls: { resume: boolean; dir?: string }[] = [];
const failTrainOnce = { value: false };

/** Writes +strength at every answer position's (input token, label) cell: a perfect editor when trained. */
class OracleEditor implements BenchEditor {
  constructor(
    readonly kind: string,
    readonly modules: readonly string[],
    public strength: number,
    private readonly failAt = -1,
    private readonly given: Readonly<Record<string, unknown>> = {},
  ) {}
  propose(model: EditableModel, req: TokenizedEditRequest) {
    counters.propose++;
    if (counters.propose === this.failAt) throw new Error('simulated crash');
    const V = model.module('table').dIn;
    const d = new Float32Array(V * V);
    req.edit.labels.forEach((l, p) => {
      if (l >= 0) d[req.edit.ids[p] * V + l] += this.strength;
    });
    const shifts = new Map<string, ParameterShift>([['table', { kind: 'dense', delta: tf.tensor2d(d, [V, V]) }]]);
    return { shifts, selected: ['table'], scores: {} };
  }
  async train(_m: EditableModel, stream: readonly TokenizedEditRequest[], o: { onProgress?: (e: any) => void; checkpointDir?: string; resume?: boolean }) {
    counters.train++;
    trainCalls.push({ resume: Boolean(o.resume), dir: o.checkpointDir });
    if (failTrainOnce.value) {
      // Write a checkpoint, then die as an interrupted process would.
      failTrainOnce.value = false;
      fs.mkdirSync(o.checkpointDir!, { recursive: true });
      fs.writeFileSync(path.join(o.checkpointDir!, 'train-state.json'), '{"step": 3}');
      throw new Error('interrupted');
    }
    stream.forEach((_, i) => o.onProgress?.({ phase: 'train', epoch: 0, step: i + 1, total: stream.length, loss: 1 / (i + 1) }));
    this.strength = 5;
    return { seconds: 0.5, finished: true, epochs: 1, steps: stream.length };
  }
  save(dir: string): void {
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ strength: this.strength }));
  }
  settings() {
    return { settingsVersion: 1, ...this.given };
  }
  dispose(): void {}
}

function factory(kind: string, trainable: boolean, failAt = -1): BenchEditorFactory {
  return {
    kind,
    summary: `toy ${kind}`,
    trainable,
    resolveSettings: (_shapes, given) => ({ settingsVersion: 1, ...given }),
    readStoredSettings: (_shapes, stored) => ({ settingsVersion: 1, ...stored }),
    create: (_m, modules, settings) => new OracleEditor(kind, modules, trainable ? 0 : 5, failAt, settings),
    load: (dir, _m, modules) => {
      counters.load++;
      const s = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'));
      return new OracleEditor(kind, modules, s.strength);
    },
  };
}

// A toy world: subject s_i has answer a_(i mod 4); the edit moves it to b_(i mod 3).
function toyRequests(n: number): TextRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(i),
    subject: `s${i}`,
    prompt: `where is s${i}`,
    target: `b${i % 3}`,
    oldTarget: `a${i % 4}`,
    paraphrases: [`location of s${i}`],
    locality: [{ prompt: `where is t${i}`, answer: `a${(i + 1) % 4}` }],
  }));
}

function toyDeps(reqs: TextRequest[], factories: Record<string, BenchEditorFactory>): { deps: RunnerDeps; lm: () => ToyLM } {
  const words = ['<pad>', 'where', 'is', 'location', 'of', ...reqs.flatMap((_, i) => [`s${i}`, `t${i}`]), 'a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2'];
  const index = new Map(words.map((w, i) => [w, i]));
  const enc = (s: string) =>
    s.split(' ').map((w) => {
      const i = index.get(w);
      if (i === undefined) throw new Error(`unknown word ${w}`);
      return i;
    });
  let lm: ToyLM | undefined;
  const deps: RunnerDeps = {
    loadData: async () => ({ label: 'toy', hash: 'h', file: '(memory)', requests: reqs }),
    obtainModel: async () => {
      lm = new ToyLM(words);
      // The unedited model knows every true fact (each subject token predicts its old answer).
      reqs.forEach((r) => {
        for (const p of [r.prompt, ...r.paraphrases]) {
          const ids = enc(p);
          const d = tf.tidy(() => tf.oneHot([ids[ids.length - 1]], words.length).toFloat().reshape([words.length, 1]).matMul(tf.oneHot([index.get(r.oldTarget!)!], words.length).toFloat().reshape([1, words.length])).mul(2)) as tf.Tensor2D;
          lm!.addShift('table', d);
          d.dispose();
        }
      });
      return {
        model: lm,
        name: 'toy-lm',
        dir: '(memory)',
        hash: 'toy',
        tokenize: (p: string, a: string) => {
          const pi = enc(p);
          const ai = enc(a);
          return { ids: [...pi, ...ai.slice(0, -1)], labels: [...new Array(pi.length - 1).fill(-100), ...ai] };
        },
      };
    },
    editorFactory: (k) => {
      const f = factories[k];
      if (!f) throw new Error(`unknown editor ${k}`);
      return f;
    },
    defaultModules: () => ['table'],
  };
  return { deps, lm: () => lm! };
}

function opts(out: string, extra: Partial<RunOptions> = {}): RunOptions {
  return { dataset: 'world', editors: ['oracle', 'direct'], nTrain: 6, nVal: 2, nEval: 12, numPre: 4, seed: 3, out, quiet: true, ...extra };
}

beforeAll(async () => {
  await initBackend();
});

describe('skippedEditNotes', () => {
  test('names each editor that left edits unapplied, with the count; silent when every edit shifted something', () => {
    const notes = skippedEditNotes({ hiedit: [['a'], [], ['b'], []], rledit: [['a', 'b'], ['a', 'b']] });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^hiedit applied 2 of 4 edits \(50\.0%\); the other 2 shifted no module/);
    expect(skippedEditNotes({ rledit: [['a']] })).toEqual([]);
  });
});

describe('movedOnEditNotes', () => {
  test('names each editor that moved edits to its gate\'s next choice; silent for none or an unrecorded count', () => {
    const notes = movedOnEditNotes({ hiedit: { moved: 3, edits: 12 }, rledit: { moved: 0, edits: 12 }, old: { edits: 12 } });
    expect(notes).toEqual([expect.stringMatching(/^hiedit moved 3 of 12 edits \(25\.0%\) to its gate's next-ranked modules/)]);
  });
});

describe('runBenchmark on a toy model', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-bench-'));
    counters.train = counters.propose = counters.load = 0;
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('trains, edits, measures, writes results.json + report.html, and resumes without redoing work', async () => {
    const reqs = toyRequests(24);
    const { deps, lm } = toyDeps(reqs, { oracle: factory('oracle', true), direct: factory('direct', false) });
    const logs: string[] = [];
    const before = tf.memory().numTensors;
    const out = await runBenchmark(opts(dir), deps, { log: (l) => logs.push(l) });
    // The run disposed the model it obtained, and everything else it made.
    expect(() => lm().readWeight('table')).toThrow();
    expect(tf.memory().numTensors).toBe(before);
    const results = validateResults(JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')));
    expect(Object.keys(results.editors)).toEqual(['oracle', 'direct']);
    const o = results.editors.oracle;
    // The trained oracle writes +5 at each answer cell: every edit lands, paraphrases share the subject token.
    expect(o.ES).toBe(1);
    expect(o.GS).toBe(1);
    expect(o.WILD_ES).toBe(1);
    expect(o.Pre_ES).toBe(1);
    expect(o.layers_per_edit).toBe(1);
    expect(o.train_seconds).toBe(0.5);
    expect(results.editors.direct.train_seconds).toBe(0);
    // Locality subjects t_i are untouched by the edits of s_i.
    expect(o.LS).toBe(1);
    expect(o.retention).toBe(1);
    expect(results.curves.oracle.map((p) => p.edits)).toEqual([10, 12]);
    expect(results).toMatchObject({ dataset: 'world', model: 'toy-lm', seed: 3, n_train: 6, n_eval: 12, num_pre: 4 });
    expect(counters.train).toBe(1);
    expect(counters.propose).toBe(24);
    const html = fs.readFileSync(out.reportPath, 'utf8');
    expect(html).toContain('<svg class="heat"');
    expect(html).toContain('final ES by position in the stream');
    expect(out.table).toMatch(/oracle\s+100\.0/);
    // details.json: the final model by position, 12 edits in 10 contiguous groups covering the stream once
    const details = JSON.parse(fs.readFileSync(path.join(dir, 'details.json'), 'utf8'));
    const pos = details.editors.oracle.byPosition as { from: number; to: number; ES: number; applied: number }[];
    expect(pos).toHaveLength(10);
    expect(pos[0].from).toBe(1);
    expect(pos[9].to).toBe(12);
    for (let i = 1; i < pos.length; i++) expect(pos[i].from).toBe(pos[i - 1].to + 1);
    expect(pos.every((b) => b.ES === 1 && b.applied === 1)).toBe(true);

    // Same settings again: nothing is trained or edited, the same results come back.
    const { deps: deps2, lm: lm2 } = toyDeps(reqs, { oracle: factory('oracle', true), direct: factory('direct', false) });
    const again = await runBenchmark(opts(dir), deps2, { log: () => {} });
    expect(counters.train).toBe(1);
    expect(counters.propose).toBe(24);
    expect(again.skipped).toEqual(expect.arrayContaining(['baseline', 'oracle:train', 'oracle:eval', 'direct:eval']));
    expect(again.results).toEqual(results);
  });

  test('a crash mid-run keeps finished phases; the rerun redoes only the rest', async () => {
    const reqs = toyRequests(24);
    // The first editor's 12 edits pass; the second editor crashes on its third edit.
    const crashing = toyDeps(reqs, { oracle: factory('oracle', true), direct: factory('direct', false, 15) });
    await expect(runBenchmark(opts(dir), crashing.deps, { log: () => {} })).rejects.toThrow('simulated crash');
    expect(fs.existsSync(path.join(dir, 'editors', 'oracle', 'result.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'results.json'))).toBe(false);
    counters.propose = 0;
    const { deps, lm } = toyDeps(reqs, { oracle: factory('oracle', true), direct: factory('direct', false) });
    const out = await runBenchmark(opts(dir), deps, { log: () => {} });
    expect(counters.train).toBe(1);
    expect(counters.propose).toBe(12);
    expect(out.skipped).toContain('oracle:eval');
    expect(out.results.editors.direct.ES).toBe(1);
  });

  test('an interrupted training resumes from its checkpoint; other settings start it afresh', async () => {
    const reqs = toyRequests(24);
    const { deps } = toyDeps(reqs, { oracle: factory('oracle', true) });
    trainCalls.length = 0;
    failTrainOnce.value = true;
    await expect(runBenchmark(opts(dir, { editors: ['oracle'] }), deps, { log: () => {} })).rejects.toThrow('interrupted');
    const logs: string[] = [];
    await runBenchmark(opts(dir, { editors: ['oracle'] }), deps, { log: (l) => logs.push(l) });
    expect(trainCalls.map((c) => c.resume)).toEqual([false, true]);
    expect(logs.join('\n')).toMatch(/oracle: resuming training from/);
    // Other editor settings: the stale checkpoint is discarded, not resumed.
    await runBenchmark(opts(dir, { editors: ['oracle'], editorSettings: { oracle: { x: 1 } } }), deps, { log: () => {} });
    expect(trainCalls.map((c) => c.resume)).toEqual([false, true, false]);
  });

  test('a change of an editor\'s own defaults retrains it even with the same command line', async () => {
    const reqs = toyRequests(24);
    const defaults = { eta: 1 };
    const withDefaults: BenchEditorFactory = {
      ...factory('oracle', true),
      resolveSettings: (_shapes, given) => ({ settingsVersion: 1, ...defaults, ...given }),
    };
    const { deps } = toyDeps(reqs, { oracle: withDefaults });
    counters.train = 0;
    await runBenchmark(opts(dir, { editors: ['oracle'] }), deps, { log: () => {} });
    await runBenchmark(opts(dir, { editors: ['oracle'] }), deps, { log: () => {} });
    expect(counters.train).toBe(1);
    defaults.eta = 2;
    await runBenchmark(opts(dir, { editors: ['oracle'], fresh: true }), deps, { log: () => {} });
    expect(counters.train).toBe(2);
  });

  test('--seed reaches every editor\'s resolveSettings, and the editor is created from what it resolves', async () => {
    // How a method uses the seed (policy.seed unless given) is the method's resolve; see the editor package's tests.
    const reqs = toyRequests(24);
    const resolved: Readonly<Record<string, unknown>>[] = [];
    const created: { kind: string; settings: Readonly<Record<string, unknown>> }[] = [];
    const recording = (kind: string, trainable: boolean): BenchEditorFactory => ({
      ...factory(kind, trainable),
      resolveSettings: (_shapes, given, options) => {
        const r = { settingsVersion: 1, ...given, seedSeen: options?.seed };
        resolved.push(r);
        return r;
      },
      create: (_m, modules, settings) => {
        created.push({ kind, settings });
        return new OracleEditor(kind, modules, trainable ? 0 : 5, -1, settings);
      },
    });
    const { deps } = toyDeps(reqs, { oracle: recording('oracle', true), direct: recording('direct', false) });
    await runBenchmark(opts(dir, { seed: 4 }), deps, { log: () => {} });
    expect(created.map((c) => c.kind).sort()).toEqual(['direct', 'oracle']);
    expect(created.every((c) => c.settings.seedSeen === 4 && resolved.includes(c.settings))).toBe(true);
  });

  test('a trained editor is reloaded instead of retrained when only its evaluation is missing', async () => {
    const reqs = toyRequests(24);
    const { deps, lm } = toyDeps(reqs, { oracle: factory('oracle', true), direct: factory('direct', false) });
    await runBenchmark(opts(dir, { editors: ['oracle'] }), deps, { log: () => {} });
    fs.rmSync(path.join(dir, 'editors', 'oracle', 'result.json'));
    await runBenchmark(opts(dir, { editors: ['oracle'] }), deps, { log: () => {} });
    expect(counters.train).toBe(1);
    expect(counters.load).toBe(1);
  });

  test('other settings in the same directory are refused unless fresh', async () => {
    const run = new RunDir(dir);
    expect(claimRunDir(run, { seed: 1, n: 2 }, false)).toBe(false);
    expect(claimRunDir(run, { n: 2, seed: 1 }, false)).toBe(true);
    expect(() => claimRunDir(run, { seed: 2, n: 2 }, false)).toThrow(/seed: 1 -> 2/);
    expect(claimRunDir(run, { seed: 2, n: 2 }, true)).toBe(false);
    expect(claimRunDir(run, { seed: 2, n: 2 }, 'overwrite')).toBe(true);
    expect(claimRunDir(run, { seed: 3, n: 2 }, 'overwrite')).toBe(false);
    expect(claimRunDir(run, { seed: 3, n: 2 })).toBe(true);
    expect(settingsKey({ a: 1, b: [1, 2] })).toBe(settingsKey({ b: [1, 2], a: 1 }));
  });

  test('proposals are applied by the editor session (dense and low-rank) and disposed', () => {
    const lm = new ToyLM(['a', 'b', 'c']);
    const fixed: BenchEditor = {
      kind: 'fixed', modules: ['table', 'bias'],
      propose: () => ({ shifts: new Map<string, ParameterShift>([
        ['table', { kind: 'lowRank', left: tf.tensor2d([[1], [0], [2]]), right: tf.tensor2d([[1, 0, 3]]) }],
        ['bias', { kind: 'dense', delta: tf.tensor2d([[0.5, 0, 0]]) }],
      ]), selected: ['table', 'bias'], scores: {} }),
      train: async () => { throw new Error('not trainable'); },
      save: () => {}, settings: () => ({ settingsVersion: 1 }), dispose: () => {},
    };
    const session = new LifelongEditor({ model: lm, editor: fixed, tokenize: () => ({ ids: [0], labels: [1] }) });
    const before = tf.memory().numTensors;
    expect(session.edit({ prompt: 'a', target: 'b' }).selected.map((m) => m.module)).toEqual(['table', 'bias']);
    expect(tf.memory().numTensors).toBe(before); // the three shift tensors are gone
    const w = lm.readWeight('table');
    expect(w.arraySync()).toEqual([[1, 0, 3], [0, 0, 0], [2, 0, 6]]);
    w.dispose();
    lm.dispose();
  });

  test('split sizes default to the data and explicit ones must fit', () => {
    expect(defaultSizes(1000, {})).toEqual({ nTrain: 100, nVal: 20, nEval: 100, numPre: 20 });
    expect(defaultSizes(136, {})).toEqual({ nTrain: 40, nVal: 8, nEval: 81, numPre: 20 });
    expect(defaultSizes(10, {})).toEqual({ nTrain: 3, nVal: 1, nEval: 6, numPre: 6 });
    expect(defaultSizes(50, { nTrain: 0, nEval: 10 })).toEqual({ nTrain: 0, nVal: 0, nEval: 10, numPre: 10 });
    expect(() => defaultSizes(50, { nTrain: 30, nEval: 30 })).toThrow(/holds 50 requests, fewer than --train 30 \+ --val 0 \+ --eval 30/);
  });

  test('bad options are refused with the flag named', async () => {
    const { deps } = toyDeps(toyRequests(4), {});
    await expect(runBenchmark(opts(dir, { numPre: 20 }), deps, { log: () => {} })).rejects.toThrow(/--num-pre \(20\) cannot exceed --eval/);
    await expect(runBenchmark(opts(dir, { dataset: 'zsre' }), deps, { log: () => {} })).rejects.toThrow(/needs --data FILE/);
    await expect(runBenchmark(opts(dir, { editors: ['nope'] }), deps, { log: () => {} })).rejects.toThrow(/unknown editor nope/);
    expect(fs.existsSync(path.join(dir, 'run.json'))).toBe(false);
  });
});
