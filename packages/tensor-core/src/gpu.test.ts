import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend';
import { cudaSearchDirs, describeGpu, findCudaLibraries, gpuReport, timeTinyMatmul, type GpuProbe } from './gpu';

beforeAll(async () => {
  await initBackend();
});

const none = { cudart: [], cudnn: [], cublas: [] };

describe('findCudaLibraries', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-cuda-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists versioned CUDA runtime, cuDNN and cuBLAS libraries and skips the rest', () => {
    for (const f of ['libcudart.so.12', 'libcudart.so.11.0', 'libcudnn.so.8', 'libcublas.so.12.4.5', 'libcudart.so', 'libfoo.so.1', 'libcudnn.so.8.txt']) {
      fs.writeFileSync(path.join(dir, f), '');
    }
    const found = findCudaLibraries([dir, path.join(dir, 'missing')]);
    expect(found.cudart.map((f) => path.basename(f))).toEqual(['libcudart.so.11.0', 'libcudart.so.12']);
    expect(found.cudnn.map((f) => path.basename(f))).toEqual(['libcudnn.so.8']);
    expect(found.cublas.map((f) => path.basename(f))).toEqual(['libcublas.so.12.4.5']);
  });

  it('searches LD_LIBRARY_PATH and CUDA_HOME first', () => {
    const dirs = cudaSearchDirs({ LD_LIBRARY_PATH: `${dir}${path.delimiter}`, CUDA_HOME: '/opt/cuda-x' });
    expect(dirs.slice(0, 3)).toEqual([dir, '/opt/cuda-x/lib64', '/opt/cuda-x/lib']);
  });
});

describe('describeGpu', () => {
  const base: GpuProbe = { backendActive: false, backendReason: '@tensorflow/tfjs-node-gpu is not installed', cuda: none };

  it('says so when tfjs-node-gpu is absent', () => {
    const r = describeGpu(base);
    expect(r.status).toBe('absent');
    expect(r.summary).toMatch(/tfjs-node-gpu is not installed: no GPU path/);
    expect(r.details[0]).toMatch(/needs CUDA 11\.2 \(libcudart\.so\.11\.0\) and cuDNN 8\.1.*found CUDA runtime none, cuDNN none/);
  });

  it('names CUDA 12 as unsupported when only CUDA 12 is found', () => {
    const cuda = { cudart: ['/usr/local/cuda/lib64/libcudart.so.12'], cudnn: ['/usr/lib/libcudnn.so.9'], cublas: [] };
    const r = describeGpu({ ...base, packageVersion: '4.22.0', backendReason: 'the backend failed to initialize', cuda,
      driver: { cudaVersion: '12.4', gpus: ['GPU 0: NVIDIA L4'] } });
    expect(r.status).toBe('unavailable');
    expect(r.summary).toBe('@tensorflow/tfjs-node-gpu 4.22.0 is installed but its backend is not active: the backend failed to initialize');
    expect(r.details[0]).toMatch(/found CUDA runtime 12\.x, cuDNN 9, a driver for CUDA up to 12\.4; CUDA 12 and later are not supported .*8362, 8269/);
    expect(r.details[1]).toBe('GPUs: GPU 0: NVIDIA L4');
  });

  it('reports the timed matmul on the GPU', () => {
    const cuda = { cudart: ['/x/libcudart.so.11.0'], cudnn: ['/x/libcudnn.so.8'], cublas: [] };
    const r = describeGpu({ ...base, packageVersion: '4.22.0', backendActive: true, backendReason: '', cuda,
      matmul: { size: 256, ms: 0.5, onGpu: true } });
    expect(r.status).toBe('gpu');
    expect(r.summary).toBe('@tensorflow/tfjs-node-gpu 4.22.0 is active and ran ops on the GPU: a 256x256 matmul took 0.50 ms');
    expect(r.details[0]).toMatch(/^CUDA 11 runtime and cuDNN 8, which tfjs-node-gpu 4.22 needs, are present/);
  });

  it('says when the active GPU backend fell back to the CPU', () => {
    const r = describeGpu({ ...base, packageVersion: '4.22.0', backendActive: true, backendReason: '',
      matmul: { size: 256, ms: 3.25, onGpu: false } });
    expect(r.status).toBe('cpu-fallback');
    expect(r.summary).toMatch(/active but fell back to the CPU .*a 256x256 matmul took 3\.25 ms on the CPU/);
  });
});

describe('the probe on this machine', () => {
  it('times a tiny matmul on the active backend, placed on no GPU, without leaking tensors', () => {
    const before = tf.memory().numTensors;
    const m = timeTinyMatmul(32, 3);
    expect(m.size).toBe(32);
    expect(m.ms).toBeGreaterThan(0);
    expect(m.onGpu).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports tfjs-node-gpu as absent here (it is not installed in this workspace)', () => {
    const r = gpuReport();
    expect(r.status).toBe('absent');
    expect(r.probe.matmul).toBeUndefined();
  });
});
