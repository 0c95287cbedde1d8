/**
 * Hyper-parameter tuning of the policy editors on the built-in world benchmark, on the VALIDATION split
 * only (the evaluation split is computed, so that nothing of it leaks into validation, and then dropped
 * unread). One process runs one or more trials; each trial is one JSON line on stdout.
 *
 * Build and run (ts-node is not installed; esbuild is):
 *   npx esbuild tools/tune-world.ts --bundle --platform=node --outfile=/tmp/tune.js \
 *     --external:@tensorflow/* --external:@huggingface/* \
 *     --alias:@hiedit/tensor-core=./packages/tensor-core/src/index.ts \
 *     --alias:@hiedit/llm-loader=./packages/llm-loader/src/index.ts \
 *     --alias:@hiedit/rl-hierarchy=./packages/rl-hierarchy/src/index.ts \
 *     --alias:@hiedit/editor=./packages/editor/src/index.ts \
 *     --alias:@hiedit/benchmarks=./packages/benchmarks/src/index.ts
 *   node /tmp/tune.js '{"name":"h1","kind":"hiedit"}' '{"name":"r1","kind":"rledit","settings":{"trainer":{"epochs":2}}}'
 *
 * A trial: { name, kind, settings?: editor settings (policy / trainer), modules?: 'default' | 'mlp-all' |
 * 'gate-up-all' | string[], seed?: training seed (default 0, the benchmark's) }.
 * Validation stream = the run's validation split plus the requests no split uses (never evaluation ones).
 */
import { initBackend, tf, WeightSnapshot, type TokenizedTuple } from '@hiedit/tensor-core';
import { loadModel, tokenizeTuple } from '@hiedit/llm-loader';
import { createEditor, defaultEditModules, editorFactory, LifelongEditor, type EditorModel } from '@hiedit/editor';
import {
  defaultSizes, ensureWorldModel, measureCases, readPretrained, readWorldDir, recordLocalityBaseline,
  splitRequests, summarize, toEvalCase, type EvalCase,
} from '@hiedit/benchmarks';
import * as path from 'path';

interface Trial {
  name: string;
  kind: string;
  settings?: Record<string, unknown>;
  modules?: 'default' | 'mlp-all' | 'gate-up-all' | 'gate-up-upper3' | string[];
  seed?: number;
}

function pickModules(model: EditorModel, spec: Trial['modules']): string[] {
  if (spec === undefined || spec === 'default') return defaultEditModules(model);
  if (Array.isArray(spec)) return spec;
  const names = model.modules.map((m) => m.name);
  if (spec === 'mlp-all') return names.filter((n) => /mlp\.(gate_proj|up_proj|down_proj)$/.test(n));
  if (spec === 'gate-up-all') return names.filter((n) => /mlp\.(gate_proj|up_proj)$/.test(n));
  if (spec === 'gate-up-upper3') {
    const L = model.config.numLayers;
    return model.modules.filter((m) => m.layer >= L - 3 && /mlp\.(gate_proj|up_proj)$/.test(m.name)).map((m) => m.name);
  }
  throw new Error(`trial modules: unknown spec ${JSON.stringify(spec)}`);
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

async function main(argv: string[]): Promise<void> {
  const trials: Trial[] = argv.map((a, i) => {
    try {
      return JSON.parse(a) as Trial;
    } catch (e) {
      throw new Error(`argument ${i}: not JSON (${(e as Error).message})`);
    }
  });
  if (trials.length === 0) throw new Error('usage: node tune.js TRIAL_JSON...');
  await initBackend();
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const world = await ensureWorldModel({ log });
  const entry = readPretrained(world.dir) ?? world;
  const model = await loadModel(entry.modelDir);
  const tok = model.tokenizer!;
  const tokenize = (p: string, a: string): TokenizedTuple => tokenizeTuple(tok, p, a);
  const { requests } = readWorldDir(world.worldDir);
  const sizes = defaultSizes(requests.length, {});
  const splits = splitRequests(requests, { seed: 0, sizes: { train: sizes.nTrain, validation: sizes.nVal, evaluation: sizes.nEval } });
  const evalIds = new Set(splits.evaluation.map((r) => r.id));
  const evalSubjects = new Set(splits.evaluation.map((r) => r.subject));
  const trainIds = new Set(splits.train.map((r) => r.id));
  const trainSubjects = new Set(splits.train.map((r) => r.subject));
  // Unused requests join validation only when they share no subject with the train or evaluation split.
  const valIds = new Set(splits.validation.map((r) => r.id));
  const extra = requests.filter((r) => !evalIds.has(r.id) && !trainIds.has(r.id) && !valIds.has(r.id)
    && !evalSubjects.has(r.subject) && !trainSubjects.has(r.subject));
  const valReqs = [...splits.validation, ...extra];
  const trainCases: EvalCase[] = splits.train.map((r) => toEvalCase(r, tokenize));
  const valCases: EvalCase[] = valReqs.map((r) => toEvalCase(r, tokenize));
  const earlyStop: EvalCase[] = splits.validation.map((r) => toEvalCase(r, tokenize));
  log(`world: ${requests.length} requests; train ${trainCases.length}, validation ${splits.validation.length} + ${extra.length} unused = ${valCases.length} (evaluation ${splits.evaluation.length}: not read)`);
  const measureOpts = { style: 'zsre' as const, wild: false, vocabSize: model.config.vocabSize };
  const locBase = recordLocalityBaseline(model, valCases, measureOpts);
  const before = summarize(measureCases(model, valCases, locBase, measureOpts));
  log(`unedited validation: ES ${before.ES.toFixed(3)} GS ${before.GS?.toFixed(3)} LS ${before.LS?.toFixed(3)}`);

  for (const t of trials) {
    const modules = pickModules(model as unknown as EditorModel, t.modules);
    const saved = new WeightSnapshot(model, modules);
    const restore = () => saved.restore();
    const factory = editorFactory(t.kind);
    // The trial seed drives both the policy initialization and the trainer's shuffling unless a policy seed is given.
    const editor = createEditor(t.kind, model, modules, t.settings ?? {}, { seed: t.seed ?? 0 });
    const session = new LifelongEditor({ model: model as unknown as EditorModel, editor, tokenize });
    const t0 = Date.now();
    let trainInfo: unknown = null;
    const lossTrace: number[] = [];
    try {
      if (factory.trainable) {
        const r = await editor.train(model as unknown as EditorModel, trainCases, {
          seed: t.seed ?? 0, validation: earlyStop,
          onProgress: (e) => { if (e.phase === 'validate' && e.loss !== undefined) lossTrace.push(+e.loss.toFixed(4)); },
        });
        trainInfo = { epochs: r.epochs, steps: r.steps, ...(r.details ?? {}) };
      }
      const trainSeconds = (Date.now() - t0) / 1000;
      // Learned step sizes (and gate bias) tell whether training pushed eta to zero or flipped its sign.
      const params = (editor as unknown as { policy?: { params: { names(): string[]; get(n: string): tf.Tensor } } }).policy?.params;
      const etas: Record<string, number[]> = {};
      // The step size is stored as logEta (eta = exp(logEta)); report eta itself, keyed by the eta name.
      if (params) {
        for (const n of params.names()) {
          const isLog = /logEta$/.test(n);
          if (!isLog && !/\.eta$/.test(n)) continue;
          const raw = Array.from(params.get(n).dataSync());
          etas[isLog ? n.replace(/logEta$/, 'eta') : n] = raw.map((v) => +(isLog ? Math.exp(v) : v).toExponential(2));
        }
      }
      restore();
      const perEdit: string[][] = [];
      const norms: number[] = [];
      // The engine's path, as `hiedit edit` and the benchmark stream apply edits.
      valReqs.forEach((r) => {
        const report = session.edit(r);
        for (const m of report.selected) norms.push(m.norm);
        perEdit.push(report.selected.map((m) => m.module));
      });
      const m = summarize(measureCases(model, valCases, locBase, measureOpts));
      const counts: Record<string, number> = {};
      for (const e of perEdit) for (const n of e) counts[n.replace(/^model\.layers\./, 'L').replace('.mlp.', '.')] = (counts[n.replace(/^model\.layers\./, 'L').replace('.mlp.', '.')] ?? 0) + 1;
      const avg = (m.ES + (m.GS ?? 0) + (m.LS ?? 0)) / 3;
      const out = {
        name: t.name, kind: t.kind, modules: modules.length, ES: +m.ES.toFixed(4), GS: +(m.GS ?? 0).toFixed(4), LS: +(m.LS ?? 0).toFixed(4),
        avg: +avg.toFixed(4), LS_gold: +(m.LS_gold ?? 0).toFixed(4), layersPerEdit: mean(perEdit.map((e) => e.length)),
        distinctSelections: new Set(perEdit.map((e) => e.join(','))).size, moduleCounts: counts,
        shiftNorm: +mean(norms).toFixed(4), trainSeconds: +trainSeconds.toFixed(1), train: trainInfo, valLoss: lossTrace, etas,
        settings: t.settings ?? {}, seed: t.seed ?? 0,
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } finally {
      restore();
      editor.dispose();
      saved.dispose();
    }
  }
  model.dispose();
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
