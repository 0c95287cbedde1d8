/**
 * What `hiedit doctor` says about the GPU path, @tensorflow/tfjs-node-gpu: whether it is installed, the CUDA
 * and cuDNN libraries the dynamic loader can find, and whether a tiny matmul actually ran on the GPU.
 *
 * tfjs-node-gpu 4.22.0 (its last release, October 2024) links libtensorflow 2.9, built for CUDA 11.2 and
 * cuDNN 8.1: it opens libcudart.so.11.0 and libcudnn.so.8 and nothing newer. On a CUDA 12 system libtensorflow
 * either fails to load or quietly places every op on the CPU (tfjs issues 8362 and 8269), so "installed" and
 * "active" are not enough: only the placement of a real op says whether the GPU is used.
 *
 * The probe (files, nvidia-smi, the timed op) is separate from {@link describeGpu}, which turns its facts into
 * the verdict, so every verdict can be checked on a machine without a GPU.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { backendReport } from './backend';
import { median } from './timing';

/** The module name of the GPU backend package. */
export const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';

/** CUDA and cuDNN shared libraries found on disk, as absolute paths. */
export interface CudaLibraries {
  cudart: string[];
  cudnn: string[];
  cublas: string[];
}

/** NVIDIA driver facts from nvidia-smi, when it is on PATH. */
export interface NvidiaDriver {
  /** The highest CUDA version the driver supports ("12.4"), when nvidia-smi prints it. */
  cudaVersion?: string;
  gpus: string[];
}

/** The tiny matmul of the probe. */
export interface GpuMatmul {
  /** Side of the square matrices multiplied. */
  size: number;
  /** Median wall time of one product including the read back, in milliseconds. */
  ms: number;
  /** Whether the active tfjs backend placed ops on a GPU device. */
  onGpu: boolean;
}

/** The facts {@link describeGpu} judges. */
export interface GpuProbe {
  /** Version of @tensorflow/tfjs-node-gpu when it is installed, undefined when it is not. */
  packageVersion?: string;
  /** Whether the tensorflow-gpu backend candidate is the active backend. */
  backendActive: boolean;
  /** Why the tensorflow-gpu candidate is not active ('' when it is). */
  backendReason: string;
  cuda: CudaLibraries;
  driver?: NvidiaDriver;
  /** Present when the tensorflow-gpu backend is active. */
  matmul?: GpuMatmul;
}

/** The GPU section of `hiedit doctor`. */
export interface GpuReport {
  /**
   * absent: tfjs-node-gpu is not installed; unavailable: installed but its backend is not active;
   * gpu: the probe's matmul ran on the GPU; cpu-fallback: the backend is active but placed the matmul on the CPU.
   */
  status: 'absent' | 'unavailable' | 'gpu' | 'cpu-fallback';
  summary: string;
  details: string[];
  probe: GpuProbe;
}

/** Directories the dynamic loader searches for CUDA libraries: LD_LIBRARY_PATH, CUDA_HOME and the usual installs. */
export function cudaSearchDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  for (const d of (env.LD_LIBRARY_PATH ?? '').split(path.delimiter)) if (d) dirs.push(d);
  for (const home of [env.CUDA_HOME, env.CUDA_PATH]) if (home) dirs.push(path.join(home, 'lib64'), path.join(home, 'lib'));
  const local = '/usr/local';
  try {
    for (const e of fs.readdirSync(local)) if (/^cuda(-[\d.]+)?$/.test(e)) dirs.push(path.join(local, e, 'lib64'));
  } catch {
    // no /usr/local: nothing to add
  }
  dirs.push('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu');
  return [...new Set(dirs.map((d) => path.resolve(d)))];
}

/** The CUDA runtime, cuDNN and cuBLAS libraries in `dirs` (versioned names only: libcudart.so.11.0, libcudnn.so.8). */
export function findCudaLibraries(dirs: readonly string[]): CudaLibraries {
  const found: CudaLibraries = { cudart: [], cudnn: [], cublas: [] };
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const m = /^lib(cudart|cudnn|cublas)\.so\.\d+(\.\d+)*$/.exec(name);
      if (m) found[m[1] as keyof CudaLibraries].push(path.join(dir, name));
    }
  }
  return found;
}

/** Major version of a versioned shared library path (libcudart.so.11.0 -> 11). */
function libraryMajor(file: string): number {
  return Number(/\.so\.(\d+)/.exec(path.basename(file))?.[1] ?? NaN);
}

function majors(files: readonly string[]): number[] {
  return [...new Set(files.map(libraryMajor))].filter(Number.isFinite).sort((a, b) => a - b);
}

/** Whether the libraries tfjs-node-gpu 4.22 loads (CUDA runtime 11, cuDNN 8) are present, and what is there instead. */
function cudaVerdict(cuda: CudaLibraries, driver?: NvidiaDriver): string {
  const rt = majors(cuda.cudart);
  const dnn = majors(cuda.cudnn);
  const have = `found CUDA runtime ${rt.length ? rt.map((v) => `${v}.x`).join(', ') : 'none'}, cuDNN ${dnn.length ? dnn.join(', ') : 'none'}` +
    (driver?.cudaVersion ? `, a driver for CUDA up to ${driver.cudaVersion}` : '');
  if (rt.includes(11) && dnn.includes(8)) return `CUDA 11 runtime and cuDNN 8, which tfjs-node-gpu 4.22 needs, are present (${have})`;
  const newer = rt.some((v) => v > 11) ? '; CUDA 12 and later are not supported by tfjs-node-gpu 4.22 (tfjs issues 8362, 8269)' : '';
  return `tfjs-node-gpu 4.22 needs CUDA 11.2 (libcudart.so.11.0) and cuDNN 8.1 (libcudnn.so.8): ${have}${newer}`;
}

const SEE = 'see docs/performance.md, "GPU"';

/** The verdict on the GPU path from the probe's facts. */
export function describeGpu(probe: GpuProbe): GpuReport {
  const cuda = cudaVerdict(probe.cuda, probe.driver);
  const details = [cuda];
  if (probe.driver?.gpus.length) details.push(`GPUs: ${probe.driver.gpus.join('; ')}`);
  if (probe.packageVersion === undefined) {
    return { status: 'absent', summary: `${TFJS_NODE_GPU} is not installed: no GPU path (${SEE})`, details, probe };
  }
  const pkg = `${TFJS_NODE_GPU} ${probe.packageVersion}`;
  if (!probe.backendActive || !probe.matmul) {
    return { status: 'unavailable', summary: `${pkg} is installed but its backend is not active: ${probe.backendReason}`, details, probe };
  }
  const m = probe.matmul;
  const op = `a ${m.size}x${m.size} matmul took ${m.ms.toFixed(2)} ms`;
  if (m.onGpu) return { status: 'gpu', summary: `${pkg} is active and ran ops on the GPU: ${op}`, details, probe };
  return {
    status: 'cpu-fallback',
    summary: `${pkg} is active but fell back to the CPU (libtensorflow found no usable GPU): ${op} on the CPU (${SEE})`,
    details,
    probe,
  };
}

/** Multiplies two size x size matrices on the active backend: median time of `runs` after a warm-up, and the placement. */
export function timeTinyMatmul(size = 256, runs = 5): GpuMatmul {
  const a = tf.randomUniform([size, size], -1, 1, 'float32', 1);
  const b = tf.randomUniform([size, size], -1, 1, 'float32', 2);
  try {
    const once = (): number => {
      const t0 = performance.now();
      tf.tidy(() => tf.matMul(a, b).dataSync());
      return performance.now() - t0;
    };
    once();
    const ms = median(Array.from({ length: runs }, once));
    // tfjs-node's backend records whether libtensorflow created its context on a GPU device.
    const onGpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
    return { size, ms, onGpu };
  } finally {
    a.dispose();
    b.dispose();
  }
}

function installedVersion(moduleName: string): string | undefined {
  try {
    const req: NodeRequire = require;
    const file = req.resolve(`${moduleName}/package.json`);
    return String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown version');
  } catch {
    return undefined;
  }
}

function nvidiaDriver(): NvidiaDriver | undefined {
  const r = spawnSync('nvidia-smi', [], { encoding: 'utf8', timeout: 10000 });
  if (r.error || r.status !== 0) return undefined;
  const cudaVersion = /CUDA Version:\s*([\d.]+)/.exec(r.stdout)?.[1];
  const list = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10000 });
  const gpus = list.status === 0 ? list.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [];
  return { cudaVersion, gpus };
}

/**
 * Probes the GPU path and judges it. Call after initBackend(): the matmul runs only when the tensorflow-gpu
 * backend is the active one (it would say nothing about the GPU on another backend).
 */
export function gpuReport(): GpuReport {
  const r = backendReport();
  const candidate = r.candidates.find((c) => c.name === 'tensorflow-gpu');
  const backendActive = r.active === 'tensorflow-gpu';
  const probe: GpuProbe = {
    packageVersion: installedVersion(TFJS_NODE_GPU),
    backendActive,
    backendReason: backendActive ? '' : (candidate?.reason ?? 'not probed'),
    cuda: findCudaLibraries(cudaSearchDirs()),
    driver: nvidiaDriver(),
    matmul: backendActive ? timeTinyMatmul() : undefined,
  };
  return describeGpu(probe);
}
