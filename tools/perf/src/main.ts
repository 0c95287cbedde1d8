/**
 * `npm run bench`: the performance suite of issue 3. For each model shape it runs, in a child process of
 * its own (so peak RSS is per shape), our workloads with the native accelerator and with the stock wasm
 * kernels, then the same workloads in PyTorch on the same checkpoint files, and writes one JSON report and
 * a side-by-side table. Benchmarks, never timed tests: nothing here asserts a speed.
 *
 * Options: --shapes gpt2,llama  --workloads forward,edit  --out FILE  --cache DIR  --quick  --no-torch  --no-stock  --seed N
 *
 * `--workloads edit` (or shapes gpt2-edit, llama1b-edit) runs the edit workloads of issue 18 (edit-suite.ts); `--parts`
 * picks some of their parts (load-F32, load-BF16, edit, meta).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import {
  acceleratorStatus,
  initBackend,
  installAccelerator,
  nativeBlas,
  SeededRandom,
  tf,
  uninstallAccelerator,
} from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { machineInfo, peakRssMb, type MachineInfo } from './machine';
import { profileKernels, type KernelCost } from './profile';
import { benchMatmul, modelMatmulShapes, type MatmulResult } from './matmul';
import { checkpointDir, defaultCheckpointCache, EDIT_SHAPES, ensureCheckpoint, PERF_SHAPES, type PerfShape } from './shapes';
import {
  addTorchEdit, checkEditTargets, EDIT_PARTS, editRatios, formatEditTable, measureEditPart, measureEditShapeOurs, torchEditSpec, type EditPart, type EditShapeResult,
} from './edit-suite';
import { findTorchPython, runTorchBench, torchBenchScript, type TorchResult, type TorchSpec } from './torch';
import { timeForward, timeForwardBackward, timeGeneration, timeTrace, type GenerationResult, type Reps } from './workloads';

/** Options of one suite run. */
export interface PerfOptions {
  shapes: string[];
  out: string;
  cacheDir: string;
  quick: boolean;
  torch: boolean;
  stock: boolean;
  seed: number;
  tokens: number;
  newTokens: number;
  contexts: number[];
  /** Repeat ours+pytorch this many times, alternating, and keep each metric's best (noise on shared machines). */
  rounds: number;
  /** Parts of the edit workloads to run (default all: load-F32, load-BF16, edit, meta). */
  editParts?: EditPart[];
}

/** Our numbers for one kernel configuration (accelerated or stock). */
export interface OursResult {
  accelerator: { name: string; active: boolean; reason: string };
  forwardMs: number;
  forwardBackwardMs: number;
  traceMs?: number;
  generation?: GenerationResult[];
  matmul: MatmulResult[];
  loss: number;
  logitsProbe: number[];
}

/** Top kernels of one profiled workload. */
export interface ProfileSummary {
  totalKernelMs: number;
  wallMs: number;
  kernels: KernelCost[];
}

/** Everything measured for one shape. */
export interface ShapeResult {
  shape: string;
  checkpoint: string;
  checkpointCreatedMs: number;
  loadMs: number;
  tokens: number;
  machine: MachineInfo;
  ours: OursResult;
  /** Wasm backend with the JS fast paths but without the native kernels (a user without a compiler). */
  wasmOnly?: OursResult;
  /** Every stock tfjs-backend-wasm kernel (HIEDIT_ACCELERATOR=off): the baseline before this work. */
  stock?: OursResult;
  /** Kernel time by kernel name (tf.profile) for the native configuration. */
  profile?: { forward: ProfileSummary; forwardBackward: ProfileSummary };
  /** Max |logit| difference between the native forward and the wasm-only / stock ones (correctness). */
  stockMaxAbsLogitDiff?: number;
  peakRssMb: number;
  torch?: TorchResult;
  /** PyTorch forward ms with intra-op threads = BLAS threads and = 1 (the table shows the better run per metric). */
  torchIntraOpForwardMs?: Record<string, number>;
  torchSkipped?: string;
  /** ours / torch for time-like metrics (lower is better for us). */
  ratios?: Record<string, number>;
  /** |loss_ours - loss_torch| and max |logit| difference on the probe (same model, same ids). */
  agreement?: { lossDiff: number; probeMaxAbsDiff: number; sameGreedyIds: boolean };
}

function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    if (fs.existsSync(path.join(dir, 'nx.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/** Workload families: forward (issue 3: forward, backward, trace, generation, matmul) and edit (issue 18). */
const WORKLOADS: Record<string, string[]> = { forward: ['gpt2', 'llama'], edit: ['gpt2-edit', 'llama1b-edit'] };

function parseArgs(argv: string[]): PerfOptions & { child?: string; childOut?: string; part?: EditPart } {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`bench: ${flag} needs a value`);
    return v;
  };
  const known = new Set(['--shapes', '--workloads', '--part', '--parts', '--out', '--cache', '--quick', '--no-torch', '--no-stock', '--seed', '--rounds', '--child', '--child-out', '--help']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`bench: unknown option ${a} (known: ${[...known].join(' ')})`);
  const quick = argv.includes('--quick') || process.env.HIEDIT_BENCH_QUICK === '1';
  const workloads = (get('--workloads') ?? 'forward').split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of workloads) if (!WORKLOADS[w]) throw new Error(`bench: unknown workload ${w} (known: ${Object.keys(WORKLOADS).join(', ')})`);
  const shapes = (get('--shapes') ?? process.env.HIEDIT_BENCH_SHAPES ?? workloads.flatMap((w) => WORKLOADS[w]).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const allShapes = [...Object.keys(PERF_SHAPES), ...Object.keys(EDIT_SHAPES)];
  for (const s of shapes) if (!PERF_SHAPES[s] && !EDIT_SHAPES[s]) throw new Error(`bench: unknown shape ${s} (known: ${allShapes.join(', ')})`);
  const editParts = get('--parts')?.split(',').map((x) => x.trim()).filter(Boolean);
  for (const p of editParts ?? []) if (!(EDIT_PARTS as readonly string[]).includes(p)) throw new Error(`bench: --parts takes ${EDIT_PARTS.join(', ')}, got ${p}`);
  const part = get('--part');
  if (part !== undefined && !(EDIT_PARTS as readonly string[]).includes(part)) throw new Error(`bench: --part must be one of ${EDIT_PARTS.join(', ')}, got ${part}`);
  const seed = Number(get('--seed') ?? 1234);
  if (!Number.isInteger(seed)) throw new Error('bench: --seed must be an integer');
  const rounds = Number(get('--rounds') ?? process.env.HIEDIT_BENCH_ROUNDS ?? 1);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('bench: --rounds must be a positive integer');
  return {
    shapes,
    out: path.resolve(get('--out') ?? process.env.HIEDIT_BENCH_OUT ?? path.join(repoRoot(), 'bench-out', 'perf.json')),
    cacheDir: path.resolve(get('--cache') ?? defaultCheckpointCache()),
    quick,
    torch: !argv.includes('--no-torch'),
    stock: !argv.includes('--no-stock'),
    seed,
    tokens: 32,
    newTokens: quick ? 6 : 16,
    contexts: [16, 256],
    rounds,
    child: get('--child'),
    childOut: get('--child-out'),
    part: part as EditPart | undefined,
    ...(editParts ? { editParts: editParts as EditPart[] } : {}),
  };
}

function reps(quick: boolean): Reps {
  return quick ? { forward: 2, backward: 1, trace: 1, generation: 1 } : { forward: 7, backward: 5, trace: 5, generation: 5 };
}

function randomIds(rng: SeededRandom, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => rng.int(vocab));
}

interface ShapeInputs {
  ids: number[];
  contexts: number[][];
}

function inputsFor(shape: PerfShape, opts: PerfOptions): ShapeInputs {
  const rng = new SeededRandom(opts.seed).fork(shape.name);
  return { ids: randomIds(rng, opts.tokens, shape.vocab), contexts: opts.contexts.map((c) => randomIds(rng, c, shape.vocab)) };
}

function atomicWrite(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Child process body: measures one shape on our side and writes a ShapeResult (without torch). */
async function measureShape(shape: PerfShape, opts: PerfOptions): Promise<ShapeResult> {
  // Backend first: creating the checkpoint already allocates tensors.
  await initBackend();
  const ck = await ensureCheckpoint(shape, opts.seed, opts.cacheDir);
  const t0 = performance.now();
  const model = await loadModel(ck.dir, { tokenizer: false });
  const loadMs = performance.now() - t0;
  const r = reps(opts.quick);
  const { ids, contexts } = inputsFor(shape, opts);
  const qkvOut = shape.architecture === 'gpt2' ? 3 * shape.hidden : shape.hidden; // llama: q_proj shape
  const mmShapes = modelMatmulShapes(opts.tokens, shape.hidden, shape.intermediate, shape.vocab, qkvOut).map((s) =>
    opts.quick ? { ...s, reps: 2 } : s,
  );
  try {
    const probe = (): { logits: Float32Array; loss: number } => {
      const l = model.logits(ids);
      return { logits: l.data, loss: model.loss(ids) };
    };
    const measure = (full: boolean, rr: Reps = r): OursResult & { logits: Float32Array } => {
      const p = probe();
      const V = shape.vocab;
      const res: OursResult & { logits: Float32Array } = {
        accelerator: acceleratorStatus(),
        forwardMs: timeForward(model, ids, rr.forward),
        forwardBackwardMs: timeForwardBackward(model, ids, shape.gradModules, rr.backward),
        matmul: mmShapes.map((s) => benchMatmul(s)),
        loss: p.loss,
        logitsProbe: Array.from(p.logits.subarray((ids.length - 1) * V, (ids.length - 1) * V + 8)),
        logits: p.logits,
      };
      if (full) {
        res.traceMs = timeTrace(model, ids, shape.traceModules, r.trace);
        // One untimed run at the longest context first: the first decode loop of a process pays one-off
        // costs (heap growth, JIT) that would otherwise land on whichever context is measured first.
        model.generate(contexts[contexts.length - 1], opts.newTokens);
        res.generation = contexts.map((c) => timeGeneration(model, c, opts.newTokens, r.generation));
      }
      return res;
    };
    const ours = measure(true);
    const tuple = { ids, labels: [...ids.slice(1), -100] };
    const zeros = shape.gradModules.map((n) => {
      const m = model.module(n);
      return tf.zeros([m.dIn, m.dOut]) as tf.Tensor2D;
    });
    let profile: ShapeResult['profile'];
    try {
      profile = {
        forward: await profileKernels(() => model.forward([ids]).dispose()),
        forwardBackward: await profileKernels(() => {
          const g = tf.tidy(() =>
            tf.grads((...sh: tf.Tensor[]) => model.lossUnderShifts([tuple], new Map(shape.gradModules.map((n, i) => [n, sh[i] as tf.Tensor2D]))))(zeros),
          );
          tf.dispose(g);
        }),
      };
    } finally {
      tf.dispose(zeros);
    }
    // Before the stock runs: the stock kernels' XNNPACK caches keep packed copies of every weight.
    const peakNative = peakRssMb();
    let wasmOnly: (OursResult & { logits: Float32Array }) | undefined;
    let stock: (OursResult & { logits: Float32Array }) | undefined;
    let diff: number | undefined;
    if (opts.stock && ours.accelerator.active) {
      const few = { ...r, forward: Math.min(r.forward, 3), backward: Math.min(r.backward, 2) };
      try {
        installAccelerator(tf.getBackend(), { native: false });
        wasmOnly = measure(false, few);
        uninstallAccelerator();
        stock = measure(false, few);
      } finally {
        installAccelerator(tf.getBackend());
      }
      diff = 0;
      for (const other of [wasmOnly, stock]) {
        for (let i = 0; i < ours.logits.length; i++) diff = Math.max(diff, Math.abs(ours.logits[i] - other.logits[i]));
      }
    }
    const strip = (x: OursResult & { logits: Float32Array }): OursResult => {
      const { logits: _unused, ...rest } = x;
      void _unused;
      return rest;
    };
    return {
      shape: shape.name,
      checkpoint: ck.dir,
      checkpointCreatedMs: ck.ms,
      loadMs,
      tokens: opts.tokens,
      machine: machineInfo(nativeBlas()?.info().threads),
      ours: strip(ours),
      wasmOnly: wasmOnly ? strip(wasmOnly) : undefined,
      stock: stock ? strip(stock) : undefined,
      profile,
      stockMaxAbsLogitDiff: diff,
      peakRssMb: peakNative,
    };
  } finally {
    model.dispose();
  }
}

function torchSpec(shape: PerfShape, opts: PerfOptions, res: ShapeResult): TorchSpec {
  const { ids, contexts } = inputsFor(shape, opts);
  const r = reps(opts.quick);
  return {
    model: res.checkpoint,
    architecture: shape.architecture,
    threads: res.machine.blasThreads ?? res.machine.cpus,
    reps: r,
    ids,
    grad_params: shape.gradModules,
    trace_modules: shape.traceModules,
    generation: contexts.map((c) => ({ ids: c, new_tokens: opts.newTokens })),
    matmul_shapes: res.ours.matmul.map(({ m, k, n, transB, reps: rr }) => ({ m, k, n, transB, reps: rr })),
  };
}

function compare(res: ShapeResult, t: TorchResult): void {
  const ratios: Record<string, number> = {
    forward: res.ours.forwardMs / t.forward_ms,
    forwardBackward: res.ours.forwardBackwardMs / t.forward_backward_ms,
  };
  if (res.ours.traceMs !== undefined) ratios.trace = res.ours.traceMs / t.trace_ms;
  res.ours.generation?.forEach((g, i) => {
    const tg = t.generation[i];
    if (tg) ratios[`msPerToken@${g.context}`] = g.msPerToken / tg.ms_per_token;
  });
  res.ratios = ratios;
  const probeDiff = Math.max(...res.ours.logitsProbe.map((x, i) => Math.abs(x - (t.logits_probe[i] ?? NaN))));
  const sameIds = (res.ours.generation ?? []).every((g, i) => JSON.stringify(g.firstIds) === JSON.stringify(t.generation[i]?.first_ids));
  res.agreement = { lossDiff: Math.abs(res.ours.loss - t.loss), probeMaxAbsDiff: probeDiff, sameGreedyIds: sameIds };
}

const LOWER_IS_BETTER = /(^|[a-z_])(ms|Ms|msPerToken|ms_per_token|forward_ms|trace_ms)$/;
const HIGHER_IS_BETTER = /(gflops|Gflops|tokensPerS|tokens_per_s|peakRssMb|peak_rss_mb)$/;

/**
 * Best-of merge of two measurements of the same thing: times take the minimum, throughputs the maximum
 * (peak RSS the maximum: it is a high-water mark). Everything else keeps the first value.
 */
export function mergeBest<T>(a: T, b: T): T {
  if (Array.isArray(a) && Array.isArray(b)) return a.map((x, i) => (i < b.length ? mergeBest(x, b[i]) : x)) as T;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(a as Record<string, unknown>)) {
      const w = (b as Record<string, unknown>)[k];
      if (typeof v === 'number' && typeof w === 'number') {
        if (k === 'newTokens' || k === 'new_tokens' || k === 'context') out[k] = v;
        else if (!Number.isFinite(v)) out[k] = w; // a round lost in noise (NaN) yields to one that measured
        else if (!Number.isFinite(w)) out[k] = v;
        else if (LOWER_IS_BETTER.test(k)) out[k] = Math.min(v, w);
        else if (HIGHER_IS_BETTER.test(k)) out[k] = Math.max(v, w);
      } else if (v && typeof v === 'object' && w && typeof w === 'object') {
        out[k] = mergeBest(v, w);
      }
    }
    return out as T;
  }
  return a;
}

/** Derived numbers recomputed after merging rounds. */
function refreshDerived(r: OursResult | undefined): void {
  if (!r) return;
  for (const m of r.matmul) {
    m.tfjsGflops = (2 * m.m * m.k * m.n) / m.tfjsMs / 1e6;
    m.blasGflops = m.blasMs === undefined ? undefined : (2 * m.m * m.k * m.n) / m.blasMs / 1e6;
    m.openblasGflops = m.openblasMs === undefined ? undefined : (2 * m.m * m.k * m.n) / m.openblasMs / 1e6;
    // Results of an older suite have no OpenBLAS-alone time: their raw call was OpenBLAS.
    const alone = m.openblasGflops ?? m.blasGflops;
    m.ratio = alone ? m.tfjsGflops / alone : undefined;
    m.pathRatio = m.blasGflops ? m.tfjsGflops / m.blasGflops : undefined;
  }
  for (const g of r.generation ?? []) g.tokensPerS = g.msPerToken > 0 ? 1000 / g.msPerToken : NaN;
}

/** The last column of a matmul row: tfjs against OpenBLAS alone, and the raw routed gemm when it differs. */
function matmulNote(m: MatmulResult): string {
  const own = m.openblasGflops !== undefined && m.blasGflops !== undefined && m.openblasMs !== m.blasMs ? `; raw hiedit gemm ${fmt(m.blasGflops)}` : '';
  return `tfjs/OpenBLAS ${fmt(m.ratio, 2)} (OpenBLAS ${fmt(m.openblasGflops ?? m.blasGflops)}${own})`;
}

function fmt(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

/** The side-by-side table printed at the end of a run. */
export function formatTable(results: ShapeResult[]): string {
  const rows: string[][] = [['shape', 'metric', 'ours (native)', 'wasm, no native', 'stock wasm (before)', 'pytorch', 'ours/pytorch']];
  for (const r of results) {
    const t = r.torch;
    const add = (metric: string, ours: number | undefined, wasm: number | undefined, stock: number | undefined, torch: number | undefined, digits = 1): void => {
      rows.push([r.shape, metric, fmt(ours, digits), fmt(wasm, digits), fmt(stock, digits), fmt(torch, digits), ours !== undefined && torch ? fmt(ours / torch, 2) : '-']);
    };
    add('forward ms (T=32)', r.ours.forwardMs, r.wasmOnly?.forwardMs, r.stock?.forwardMs, t?.forward_ms);
    add('fwd+bwd ms (3 MLP W)', r.ours.forwardBackwardMs, r.wasmOnly?.forwardBackwardMs, r.stock?.forwardBackwardMs, t?.forward_backward_ms);
    add('trace ms (6 modules)', r.ours.traceMs, undefined, undefined, t?.trace_ms);
    for (const [i, g] of (r.ours.generation ?? []).entries()) {
      add(`ms/token @${g.context} ctx`, g.msPerToken, undefined, undefined, t?.generation[i]?.ms_per_token);
      add(`tokens/s @${g.context} ctx`, g.tokensPerS, undefined, undefined, t?.generation[i]?.tokens_per_s);
    }
    add('peak RSS MB', r.peakRssMb, undefined, undefined, t?.peak_rss_mb, 0);
    for (const [i, m] of r.ours.matmul.entries()) {
      const label = `GFLOP/s ${m.m}x${m.k}x${m.n}${m.transB ? 'T' : ''}`;
      rows.push([r.shape, label, fmt(m.tfjsGflops), fmt(r.wasmOnly?.matmul[i]?.tfjsGflops), fmt(r.stock?.matmul[i]?.tfjsGflops), fmt(t?.matmul[i]?.gflops), matmulNote(m)]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

function runChild(shape: string, opts: PerfOptions): ShapeResult {
  const outFile = path.join(path.dirname(opts.out), `.perf-${shape}-${process.pid}.json`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const args = [path.join(__dirname, 'launch.js'), '--child', shape, '--child-out', outFile, '--cache', opts.cacheDir, '--seed', String(opts.seed)];
  if (opts.quick) args.push('--quick');
  if (!opts.stock) args.push('--no-stock');
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`bench: measuring ${shape} failed (exit ${r.status ?? r.signal})`);
  try {
    return JSON.parse(fs.readFileSync(outFile, 'utf8')) as ShapeResult;
  } finally {
    fs.rmSync(outFile, { force: true });
  }
}

/** Runs the whole suite and writes the JSON report; returns the results. */
export async function runPerfSuite(opts: PerfOptions, log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<ShapeResult[]> {
  const py = opts.torch ? findTorchPython() : { reason: 'disabled with --no-torch' };
  log(`bench: shapes ${opts.shapes.join(', ')}; checkpoints cached in ${opts.cacheDir}; pytorch: ${py.python ? `${py.python} (torch ${py.version})` : py.reason}`);
  const results: ShapeResult[] = [];
  const editResults: EditShapeResult[] = [];
  for (const name of opts.shapes) {
    if (EDIT_SHAPES[name]) {
      editResults.push(runEditShape(name, opts, py, log));
      continue;
    }
    const shape = PERF_SHAPES[name];
    let res: ShapeResult | undefined;
    for (let round = 1; round <= opts.rounds; round++) {
      const tag = opts.rounds > 1 ? ` (round ${round}/${opts.rounds})` : '';
      log(`bench: ${name}: measuring ours${tag} ...`);
      const ours = runChild(name, opts);
      if (py.python) {
        log(`bench: ${name}: measuring pytorch${tag} ...`);
        try {
          // PyTorch at its best within the same core budget: intra-op threads = BLAS threads, and 1.
          const spec = torchSpec(shape, opts, ours);
          for (const intra of [...new Set([spec.threads, 1])]) {
            const t = runTorchBench(py.python, torchBenchScript(repoRoot()), { ...spec, intra_op_threads: intra });
            ours.torch = ours.torch ? mergeBest(ours.torch, t) : t;
            ours.torchIntraOpForwardMs = { ...(ours.torchIntraOpForwardMs ?? {}), [String(intra)]: t.forward_ms };
          }
        } catch (e) {
          ours.torchSkipped = (e as Error).message;
        }
      } else {
        ours.torchSkipped = py.reason;
      }
      res = res ? mergeBest(res, ours) : ours;
      if (res.torch === undefined && ours.torch) res.torch = ours.torch;
    }
    if (!res) continue;
    refreshDerived(res.ours);
    refreshDerived(res.wasmOnly);
    refreshDerived(res.stock);
    if (res.torch) {
      for (const m of res.torch.matmul) m.gflops = (2 * m.m * m.k * m.n) / m.ms / 1e6;
      for (const g of res.torch.generation) g.tokens_per_s = g.ms_per_token > 0 ? 1000 / g.ms_per_token : NaN;
      compare(res, res.torch);
    }
    results.push(res);
  }
  const targets = [...(results.length ? checkTargets(results) : []), ...checkEditTargets(editResults)];
  const report = { suite: 'hiedit perf', date: new Date().toISOString(), options: { ...opts }, targets, results, ...(editResults.length ? { editResults } : {}) };
  atomicWrite(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  const editMd = editResults.length ? `\n${markdownOf(formatEditTable(editResults))}\n` : '';
  atomicWrite(opts.out.replace(/\.json$/, '') + '.md', (results.length ? formatMarkdown(results, targets) : '') + editMd);
  log('');
  if (results.length) log(formatTable(results));
  if (editResults.length) {
    log(formatEditTable(editResults));
    for (const r of editResults) {
      log(`${r.shape}: ${(r.params / 1e6).toFixed(0)}M parameters (${r.note}); edit over ${r.edit?.modules.length ?? '-'} candidates, k ${r.edit?.k ?? '-'}, tries ${r.edit?.tries ?? '-'}, ` +
        `edit model calls ${JSON.stringify(r.edit?.editCalls ?? {})}, meta-step model calls ${JSON.stringify(r.meta?.metaStepCalls ?? {})}; load avg ${r.machine?.loadAverage.join(' ') ?? '-'}`);
      if (r.torchSkipped) log(`${r.shape}: pytorch skipped: ${r.torchSkipped}`);
    }
  }
  for (const r of results) {
    if (r.agreement) {
      log(`${r.shape}: ours vs pytorch on the same checkpoint: |loss diff| ${r.agreement.lossDiff.toExponential(2)}, max |logit diff| ${r.agreement.probeMaxAbsDiff.toExponential(2)}, same greedy ids: ${r.agreement.sameGreedyIds}`);
    }
    if (r.stockMaxAbsLogitDiff !== undefined) log(`${r.shape}: native vs wasm-only / stock kernels: max |logit diff| ${r.stockMaxAbsLogitDiff.toExponential(2)}`);
    if (r.profile) {
      const top = (p: ProfileSummary): string => p.kernels.slice(0, 6).map((k) => `${k.kernel} ${k.ms.toFixed(0)}ms/${k.calls}`).join(', ');
      log(`${r.shape}: forward kernels: ${top(r.profile.forward)}`);
      log(`${r.shape}: fwd+bwd kernels: ${top(r.profile.forwardBackward)}`);
    }
    if (r.torchSkipped) log(`${r.shape}: pytorch skipped: ${r.torchSkipped}`);
    if (r.torch) {
      const probe = Object.entries(r.torchIntraOpForwardMs ?? {}).map(([k, v]) => `${k} intra-op: ${v.toFixed(0)} ms`).join(', ');
      log(`${r.shape}: pytorch ${r.torch.torch_version}, BLAS threads ${r.torch.blas_threads}; best of intra-op settings per metric (forward ${probe})`);
    }
    log(`${r.shape}: accelerator ${r.ours.accelerator.active ? 'active' : 'inactive'} (${r.ours.accelerator.reason}); backend ${r.machine.backend}; BLAS threads ${r.machine.blasThreads ?? '-'}; load avg ${r.machine.loadAverage.join(' ')}`);
  }
  log('');
  for (const t of targets) log(`target ${t.met === undefined ? '?   ' : t.met ? 'MET ' : 'MISS'} ${t.target}: ${t.value}`);
  log(`bench: wrote ${opts.out} (and the Markdown table next to it)`);
  return results;
}

/** The edit suite for one shape: our children, then PyTorch, alternating for `rounds`, best per metric. */
function runEditShape(name: string, opts: PerfOptions, py: { python?: string; reason: string }, log: (line: string) => void): EditShapeResult {
  const shape = EDIT_SHAPES[name];
  const o = { out: opts.out, cacheDir: opts.cacheDir, seed: opts.seed, quick: opts.quick, tokens: opts.tokens, parts: opts.editParts };
  let res: EditShapeResult | undefined;
  for (let round = 1; round <= opts.rounds; round++) {
    const ours = measureEditShapeOurs(shape, o, log);
    if (py.python) {
      log(`bench: ${name}: pytorch ...`);
      const dirs = { F32: checkpointDir(shape, opts.seed, opts.cacheDir, 'F32'), BF16: checkpointDir(shape, opts.seed, opts.cacheDir, 'BF16') };
      if (fs.existsSync(path.join(dirs.F32, 'model.safetensors'))) {
        const threads = ours.machine?.blasThreads ?? ours.machine?.cpus ?? 1;
        const spec = torchEditSpec(shape, ours, o, { F32: dirs.F32, BF16: fs.existsSync(dirs.BF16) ? dirs.BF16 : undefined }, threads);
        addTorchEdit(ours, spec, py.python, torchBenchScript(repoRoot()), mergeBest);
      } else {
        ours.torchSkipped = 'no F32 checkpoint (our load failed before creating it)';
      }
    } else {
      ours.torchSkipped = py.reason;
    }
    res = res ? mergeBest(res, ours) : ours;
    if (!res.torch && ours.torch) res.torch = ours.torch;
  }
  res!.ratios = editRatios(res!);
  return res!;
}

function markdownOf(table: string): string {
  const lines = table.split('\n').map((l) => l.trim().split(/\s{2,}/));
  const row = (c: string[]): string => `| ${c.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [row(lines[0]), `| ${lines[0].map(() => '---').join(' | ')} |`, ...lines.slice(1).map(row)].join('\n');
}

/** The same table as formatTable, as Markdown, with the targets and the machine (written next to the JSON). */
export function formatMarkdown(results: ShapeResult[], targets: TargetCheck[]): string {
  const lines = formatTable(results).split('\n').map((l) => l.trim().split(/\s{2,}/));
  const cell = (x: string): string => x.replace(/\|/g, '\\|');
  const row = (c: string[]): string => `| ${c.map(cell).join(' | ')} |`;
  const md = [row(lines[0]), `| ${lines[0].map(() => '---').join(' | ')} |`, ...lines.slice(1).map(row)];
  const m = results[0]?.machine;
  const out = [...md, ''];
  out.push('| target | value | met |', '| --- | --- | --- |');
  for (const t of targets) out.push(row([t.target, t.value, t.met === undefined ? '?' : t.met ? 'yes' : 'no']));
  if (m) {
    out.push('');
    out.push(`Machine: ${m.cpuModel}, ${m.cpus} cores, ${m.totalMemGb} GB, ${m.platform}, Node ${m.node}; backend ${m.backend}; ` +
      `accelerator ${m.accelerator.active ? 'active' : 'inactive'} (${m.accelerator.reason}); load average at the end ${m.loadAverage.join(' ')}.`);
  }
  for (const r of results) {
    if (r.torch && r.torchIntraOpForwardMs) {
      const probe = Object.entries(r.torchIntraOpForwardMs).map(([k, v]) => `${k} thread(s) ${v.toFixed(0)} ms`).join(', ');
      out.push(`${r.shape}: PyTorch ${r.torch.torch_version}, BLAS threads ${r.torch.blas_threads}, best of intra-op thread settings per metric (forward: ${probe}).`);
    }
    if (r.agreement) out.push(`${r.shape}: same checkpoint in both: |loss diff| ${r.agreement.lossDiff.toExponential(1)}, max |logit diff| ${r.agreement.probeMaxAbsDiff.toExponential(1)}, same greedy ids: ${r.agreement.sameGreedyIds}.`);
  }
  return `${out.join('\n')}\n`;
}

/** One issue-3 target checked against a run. */
export interface TargetCheck {
  target: string;
  value: string;
  met: boolean | undefined;
}

/** The targets of issue 3, evaluated on the merged results (undefined when a number is missing). */
export function checkTargets(results: ShapeResult[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const gpt2 = results.find((r) => r.shape === 'gpt2');
  for (const [key, label] of [['forward', 'forward'], ['forwardBackward', 'forward+backward']] as const) {
    const v = gpt2?.ratios?.[key];
    out.push({ target: `GPT-2 ${label} ours/PyTorch <= 1.0`, value: v === undefined ? '-' : v.toFixed(2), met: v === undefined ? undefined : v <= 1.0 });
  }
  for (const r of results) {
    const ratios = r.ours.matmul.map((m) => m.ratio).filter((x): x is number => x !== undefined && Number.isFinite(x));
    const worst = ratios.length ? Math.min(...ratios) : undefined;
    out.push({ target: `${r.shape}: matmul via tfjs >= 70% of OpenBLAS alone (worst shape)`, value: worst === undefined ? '-' : `${(100 * worst).toFixed(0)}%`, met: worst === undefined ? undefined : worst >= 0.7 });
    const g = r.ours.generation ?? [];
    const short = g.find((x) => x.context === 16)?.msPerToken;
    const long = g.find((x) => x.context === 256)?.msPerToken;
    const flat = short && long && Number.isFinite(short) && Number.isFinite(long) ? long / short : undefined;
    out.push({ target: `${r.shape}: per-token cost 256 vs 16 context within 20%`, value: flat === undefined ? '-' : flat.toFixed(2), met: flat === undefined ? undefined : Math.abs(flat - 1) <= 0.2 });
    if (r.wasmOnly && r.stock) {
      const f = r.wasmOnly.forwardMs / r.stock.forwardMs;
      const b = r.wasmOnly.forwardBackwardMs / r.stock.forwardBackwardMs;
      out.push({ target: `${r.shape}: wasm without native no slower than stock (fwd, fwd+bwd)`, value: `${f.toFixed(2)}, ${b.toFixed(2)}`, met: f <= 1.05 && b <= 1.05 });
    }
    if (r.stockMaxAbsLogitDiff !== undefined) {
      out.push({ target: `${r.shape}: native / wasm-only / stock logits agree (max |diff| < 1e-4)`, value: r.stockMaxAbsLogitDiff.toExponential(1), met: r.stockMaxAbsLogitDiff < 1e-4 });
    }
  }
  return out;
}

/** CLI entry (see launch.js). Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write('usage: npm run bench [-- --shapes gpt2,llama --workloads forward,edit --out FILE --cache DIR --quick --no-torch --no-stock --seed N]\n');
    return 0;
  }
  const opts = parseArgs(argv);
  if (opts.child) {
    if (!opts.childOut) throw new Error('bench: --child needs --child-out');
    if (EDIT_SHAPES[opts.child]) {
      if (!opts.part) throw new Error('bench: an edit shape child needs --part');
      atomicWrite(opts.childOut, JSON.stringify(await measureEditPart(EDIT_SHAPES[opts.child], opts.part, opts)));
      return 0;
    }
    const res = await measureShape(PERF_SHAPES[opts.child], opts);
    atomicWrite(opts.childOut, JSON.stringify(res));
    return 0;
  }
  const { child: _c, childOut: _o, part: _p, ...suiteOpts } = opts;
  void _c;
  void _o;
  void _p;
  await runPerfSuite(suiteOpts);
  return 0;
}
