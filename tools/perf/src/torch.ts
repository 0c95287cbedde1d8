/**
 * Runs tools/torch_bench.py (PyTorch, same checkpoint files, same thread count) when a python3 with torch
 * is available, and returns its JSON. Absence of python/torch is a reported skip, never an error.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

/** What torch_bench.py prints. */
export interface TorchResult {
  torch_version: string;
  /** torch intra-op threads actually used (the faster of `blas_threads` and 1, see torch_bench.py). */
  threads: number;
  blas_threads: number;
  intra_op_probe_ms: Record<string, number>;
  load_ms: number;
  loss: number;
  logits_probe: number[];
  forward_ms: number;
  forward_backward_ms: number;
  trace_ms: number;
  generation: { context: number; new_tokens: number; ms_per_token: number; tokens_per_s: number; first_ids: number[] }[];
  matmul: { m: number; k: number; n: number; transB: boolean; ms: number; gflops: number }[];
  peak_rss_mb: number;
}

/** The workload description handed to torch_bench.py. */
export interface TorchSpec {
  model: string;
  architecture: string;
  threads: number;
  /** torch.set_num_threads for this run (OpenBLAS always gets `threads`). */
  intra_op_threads?: number;
  reps: { forward: number; backward: number; trace: number; generation: number };
  ids: number[];
  grad_params: string[];
  trace_modules: string[];
  generation: { ids: number[]; new_tokens: number }[];
  matmul_shapes: { m: number; k: number; n: number; transB: boolean; reps: number }[];
}

/** A python interpreter that imports torch and numpy, or why none was found. */
export function findTorchPython(): { python?: string; version?: string; reason: string } {
  const candidates = [process.env.HIEDIT_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter((x): x is string => !!x);
  const tried: string[] = [];
  for (const py of [...new Set(candidates)]) {
    const r = spawnSync(py, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8', timeout: 60000 });
    if (r.status === 0) return { python: py, version: r.stdout.trim(), reason: 'ok' };
    tried.push(`${py}: ${r.error ? 'not found' : (r.stderr || '').trim().split('\n').pop()}`);
  }
  return { reason: `no python with torch+numpy (${tried.join('; ')})` };
}

/** Path of tools/torch_bench.py in this repository. */
export function torchBenchScript(repoRoot: string): string {
  return path.join(repoRoot, 'tools', 'torch_bench.py');
}

/** Runs the PyTorch side; throws with its stderr when the script fails. */
export function runTorchBench(python: string, script: string, spec: TorchSpec): TorchResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-torch-spec-'));
  const specFile = path.join(dir, 'spec.json');
  try {
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const r = spawnSync(python, [script, specFile], {
      encoding: 'utf8',
      timeout: 30 * 60 * 1000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, OMP_NUM_THREADS: String(spec.threads), OPENBLAS_NUM_THREADS: String(spec.threads) },
    });
    if (r.status !== 0) {
      throw new Error(`torch_bench.py failed (${r.error ? String(r.error) : `exit ${r.status}`}): ${(r.stderr || '').trim().split('\n').slice(-5).join(' | ')}`);
    }
    const line = r.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as TorchResult;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
