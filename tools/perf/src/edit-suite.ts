/**
 * The edit half of `npm run bench` (issue 18): for each edit shape, child processes of their own (so peak RSS is per
 * workload and a workload that runs out of wasm heap cannot take the others with it) load the F32 and the BF16
 * checkpoint, run the edit workload and the meta-training step; tools/torch_bench.py then runs the same arithmetic on
 * the same files. Nothing here asserts a speed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { initBackend, nativeBlas, SeededRandom, tf } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { editRequest, runEditWorkload, runMetaStepWorkload, type EditWorkloadResult, type MetaStepResult } from './edit';
import { machineInfo, peakRssMb, type MachineInfo } from './machine';
import { ensureCheckpoint, type EditShape } from './shapes';
import { runTorchBench, type TorchSpec } from './torch';

/** One checkpoint load: file size, wall ms, peak RSS of the process and the wasm heap afterwards. */
export interface LoadResult {
  fileMb: number;
  loadMs: number;
  peakRssMb: number;
  wasmHeapMb: number;
}

/** What a child process of the edit suite measures (one part). */
export type EditPart = 'load-F32' | 'load-BF16' | 'edit' | 'meta';
export const EDIT_PARTS: readonly EditPart[] = ['load-F32', 'load-BF16', 'edit', 'meta'];

/** A child's result: one of the parts, its peak RSS, and the machine. */
export interface EditPartResult {
  part: EditPart;
  checkpoint: string;
  load?: LoadResult;
  edit?: EditWorkloadResult;
  meta?: MetaStepResult;
  peakRssMb: number;
  machine: MachineInfo;
}

/** PyTorch's numbers for the edit workloads (tools/torch_bench.py, mode "edit"). */
export interface TorchEditResult {
  torch_version: string;
  threads: number;
  blas_threads: number;
  load: Record<string, { load_ms: number; peak_rss_mb: number }>;
  edit_ms: number;
  phases_ms: Record<string, number>;
  forward_backward_ms: number;
  meta_step_ms: number | null;
  peak_rss_mb: number;
}

/** Everything measured for one edit shape. */
export interface EditShapeResult {
  shape: string;
  params: number;
  note: string;
  tokens: number;
  machine: MachineInfo;
  load: Partial<Record<'F32' | 'BF16', LoadResult>>;
  edit?: EditWorkloadResult;
  editPeakRssMb?: number;
  meta?: MetaStepResult;
  metaPeakRssMb?: number;
  /** Why a part has no numbers (e.g. the child aborted: out of wasm heap). */
  failed: Partial<Record<EditPart, string>>;
  torch?: TorchEditResult;
  torchSkipped?: string;
  /** ours / torch (time and memory; lower is better for us). */
  ratios?: Record<string, number>;
}

/** Prompt ids of an edit shape (seeded like the forward workloads' ids). */
export function editIds(shape: EditShape, seed: number, tokens: number): number[] {
  const rng = new SeededRandom(seed).fork(shape.name);
  const vocab = Number(shape.config.vocab_size);
  return Array.from({ length: tokens }, () => rng.int(vocab));
}

function wasmHeapMb(): number {
  const be = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return Math.round((be.wasm?.HEAPU8?.length ?? 0) / 2 ** 20);
}

/** Child body: measures one part of one edit shape. */
export async function measureEditPart(shape: EditShape, part: EditPart, o: { seed: number; cacheDir: string; quick: boolean; tokens: number }): Promise<EditPartResult> {
  await initBackend();
  const dtype = part === 'load-BF16' ? 'BF16' : 'F32';
  const ck = await ensureCheckpoint(shape, o.seed, o.cacheDir, dtype);
  const t0 = performance.now();
  const model = await loadModel(ck.dir, { tokenizer: false });
  const loadMs = performance.now() - t0;
  try {
    const res: EditPartResult = { part, checkpoint: ck.dir, peakRssMb: 0, machine: machineInfo(nativeBlas()?.info().threads) };
    if (part === 'load-F32' || part === 'load-BF16') {
      const fileMb = Math.round(fs.statSync(path.join(ck.dir, 'model.safetensors')).size / 2 ** 20);
      res.load = { fileMb, loadMs, peakRssMb: peakRssMb(), wasmHeapMb: wasmHeapMb() };
    }
    const ids = editIds(shape, o.seed, o.tokens);
    if (part === 'edit') res.edit = runEditWorkload(model, shape.editModules, ids, o.quick ? { edit: 1, backward: 1 } : { edit: 3, backward: 3 }, { seed: o.seed });
    if (part === 'meta') res.meta = runMetaStepWorkload(model, shape.editModules, ids, o.quick ? 1 : 2, { seed: o.seed });
    res.peakRssMb = peakRssMb();
    return res;
  } finally {
    model.dispose();
  }
}

/** Spawns one child (launch.js --child SHAPE --part PART); a failure is returned as text, never thrown. */
function runPartChild(shape: string, part: EditPart, o: { out: string; cacheDir: string; seed: number; quick: boolean }): EditPartResult | string {
  const outFile = path.join(path.dirname(o.out), `.perf-${shape}-${part}-${process.pid}.json`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const args = [path.join(__dirname, 'launch.js'), '--child', shape, '--part', part, '--child-out', outFile, '--cache', o.cacheDir, '--seed', String(o.seed)];
  if (o.quick) args.push('--quick');
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    if (r.status !== 0 || !fs.existsSync(outFile)) return `child exited with ${r.status ?? r.signal}`;
    return JSON.parse(fs.readFileSync(outFile, 'utf8')) as EditPartResult;
  } finally {
    fs.rmSync(outFile, { force: true });
  }
}

/** Our side of one round for one edit shape: every part in a child of its own. */
export function measureEditShapeOurs(shape: EditShape, o: { out: string; cacheDir: string; seed: number; quick: boolean; tokens: number; parts?: readonly EditPart[] },
  log: (l: string) => void): EditShapeResult {
  const res: EditShapeResult = { shape: shape.name, params: shape.params, note: shape.note, tokens: o.tokens, machine: undefined as unknown as MachineInfo, load: {}, failed: {} };
  for (const part of o.parts ?? EDIT_PARTS) {
    log(`bench: ${shape.name}: ${part} ...`);
    const r = runPartChild(shape.name, part, o);
    if (typeof r === 'string') {
      res.failed[part] = r;
      continue;
    }
    res.machine = r.machine;
    if (r.load) res.load[part === 'load-BF16' ? 'BF16' : 'F32'] = r.load;
    if (r.edit) {
      res.edit = r.edit;
      res.editPeakRssMb = r.peakRssMb;
    }
    if (r.meta) {
      res.meta = r.meta;
      res.metaPeakRssMb = r.peakRssMb;
    }
  }
  return res;
}

/** The spec torch_bench.py's edit mode reads: the same files, ids, modules, sizes and model-call counts as ours. */
export function torchEditSpec(shape: EditShape, res: EditShapeResult, o: { seed: number; cacheDir: string; quick: boolean }, checkpoints: { F32: string; BF16?: string }, threads: number): TorchSpec {
  const ids = editIds(shape, o.seed, res.tokens);
  const req = editRequest(ids, res.edit?.answerTokens ?? 2);
  const metaCalls = res.meta?.metaStepCalls.logProbsUnderShifts ?? 0;
  return {
    mode: 'edit',
    model: checkpoints.F32,
    model_bf16: checkpoints.BF16,
    architecture: shape.architecture,
    threads,
    ids,
    labels: req.edit.labels,
    locality_ids: req.locality[0].ids,
    locality_labels: req.locality[0].labels,
    edit_modules: shape.editModules,
    k: res.edit?.k ?? 1,
    selected: res.edit?.selected ?? [],
    calibration_forwards: res.edit?.editCalls.logProbsUnderShifts ?? 0,
    // ours' step calls logProbsUnderShifts once for the locality reference and twice in the gradient pass
    meta_nograd_forwards: Math.max(0, metaCalls - 3),
    // rl-hierarchy's defaults (config.ts): low rank 64, 2 blocks; HiNet hidden 256; module-space initial eta 3
    rank: 64,
    blocks: 2,
    high_hidden: 256,
    eta: 3,
    seed: o.seed,
    journal_dir: fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-torch-journal-')),
    reps: { edit: o.quick ? 1 : 3, backward: o.quick ? 1 : 3, meta_step: res.meta ? (o.quick ? 1 : 2) : 0 },
  } as unknown as TorchSpec;
}

/** ours / PyTorch for the edit metrics both sides measured. */
export function editRatios(res: EditShapeResult): Record<string, number> {
  const t = res.torch;
  const out: Record<string, number> = {};
  if (!t) return out;
  if (res.edit) {
    out.edit = res.edit.editMs / t.edit_ms;
    out.forwardBackward = res.edit.forwardBackwardMs / t.forward_backward_ms;
    for (const [k, v] of Object.entries(res.edit.phasesMs)) if (t.phases_ms[k] > 0) out[`phase.${k}`] = v / t.phases_ms[k];
  }
  if (res.meta && t.meta_step_ms) out.metaStep = res.meta.metaStepMs / t.meta_step_ms;
  const ourPeak = Math.max(res.editPeakRssMb ?? 0, res.metaPeakRssMb ?? 0);
  if (ourPeak > 0 && t.peak_rss_mb > 0) out.peakRss = ourPeak / t.peak_rss_mb;
  for (const d of ['F32', 'BF16'] as const) {
    const ours = res.load[d];
    const theirs = t.load[d];
    if (ours && theirs) out[`load${d}`] = ours.loadMs / theirs.load_ms;
  }
  return out;
}

/** Runs PyTorch's side for one edit shape (both intra-op settings, best per metric) into `res`. */
export function addTorchEdit(res: EditShapeResult, spec: TorchSpec, python: string, script: string, merge: <T>(a: T, b: T) => T): void {
  try {
    for (const intra of [...new Set([spec.threads, 1])]) {
      const t = runTorchBench(python, script, { ...spec, intra_op_threads: intra }) as unknown as TorchEditResult;
      res.torch = res.torch ? merge(res.torch, t) : t;
    }
  } catch (e) {
    res.torchSkipped = (e as Error).message;
  } finally {
    const dir = (spec as unknown as { journal_dir: string }).journal_dir;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(x: number | undefined | null, digits = 1): string {
  return x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

/** The printed table of the edit workloads: ours, PyTorch, ours/PyTorch, per shape. */
export function formatEditTable(results: readonly EditShapeResult[]): string {
  const rows: string[][] = [['shape', 'metric', 'ours', 'pytorch', 'ours/pytorch']];
  for (const r of results) {
    const t = r.torch;
    const add = (metric: string, ours: number | undefined, torch: number | undefined | null, digits = 1): void => {
      rows.push([r.shape, metric, fmt(ours, digits), fmt(torch, digits), ours !== undefined && torch ? fmt(ours / torch, 2) : '-']);
    };
    const e = r.edit;
    add('edit ms (whole)', e?.editMs, t?.edit_ms);
    for (const k of ['trace', 'policy', 'calibration', 'apply', 'journal'] as const) add(`  ${k} ms`, e?.phasesMs[k], t?.phases_ms[k]);
    add('fwd+bwd ms (same prompt)', e?.forwardBackwardMs, t?.forward_backward_ms);
    rows.push([r.shape, 'edit / fwd+bwd', fmt(e?.editPerForwardBackward, 2), t ? fmt(t.edit_ms / t.forward_backward_ms, 2) : '-', '-']);
    add('meta-training step ms', r.meta?.metaStepMs, t?.meta_step_ms);
    const peak = Math.max(r.editPeakRssMb ?? 0, r.metaPeakRssMb ?? 0);
    add('peak RSS MB (edit, meta)', peak || undefined, t?.peak_rss_mb, 0);
    for (const d of ['F32', 'BF16'] as const) {
      const l = r.load[d];
      add(`load ${d} ms (${l ? `${l.fileMb} MB file` : 'no file'})`, l?.loadMs, t?.load[d]?.load_ms, 0);
      add(`load ${d} peak RSS MB`, l?.peakRssMb, t?.load[d]?.peak_rss_mb, 0);
    }
    for (const [part, why] of Object.entries(r.failed)) rows.push([r.shape, `${part} failed`, why, '', '']);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

/** One issue-18 target checked against a run (undefined when a number is missing). */
export interface EditTargetCheck {
  target: string;
  value: string;
  met: boolean | undefined;
}

/** The targets of issue 18 on the edit results. */
export function checkEditTargets(results: readonly EditShapeResult[]): EditTargetCheck[] {
  const out: EditTargetCheck[] = [];
  const check = (target: string, v: number | undefined, limit: number): void => {
    out.push({ target, value: v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(2), met: v === undefined || !Number.isFinite(v) ? undefined : v <= limit });
  };
  for (const r of results) {
    check(`${r.shape}: one edit <= 2x one forward+backward`, r.edit?.editPerForwardBackward, 2);
    check(`${r.shape}: meta-training step ours/PyTorch <= 1.0`, r.ratios?.metaStep, 1);
    check(`${r.shape}: peak RSS ours/PyTorch <= 1.0`, r.ratios?.peakRss, 1);
  }
  return out;
}
