/**
 * The native matmul accelerator: keeps the tfjs wasm backend for every op but replaces its BatchMatMul and
 * _FusedMatMul kernels with ones that call the system BLAS (OpenBLAS / Accelerate) through the optional
 * N-API addon in ../native, operating directly on the wasm heap (no copies). Cases the addon does not
 * handle (non-float32, unknown activations, bias / prelu weights that are not row vectors) go to the stock
 * wasm kernels.
 *
 * Besides speed this fixes two stock-kernel defects seen in tfjs-backend-wasm 4.22: BatchMatMul returns a
 * short buffer when both operands broadcast batch dims (e.g. [2,1,M,K] x [3,K,N]) and garbage when K = 0, and
 * _FusedMatMul with a bias is wrong for batch > 1.
 *
 * The addon is optional: it is built at install time by native/build.js and, when missing, matmuls run on
 * the stock kernels and {@link installAccelerator} says why. A zero-copy Identity kernel (see
 * zeroCopyIdentity) needs no addon and is installed on wasm either way; HIEDIT_ACCELERATOR=off restores
 * every stock kernel.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { attentionKernelsActive, attentionKernelsFailure, hasNativeAttention, registerAttentionKernels, unregisterAttentionKernels } from './attention-kernels';
import { copyKernels, type StockCopyKernels } from './copy-kernels';
import { registerFusedGradients } from './fused-gradients';
import { fusedKernelsActive, hasNativeFused, registerFusedKernels, unregisterFusedKernels, type NativeFused } from './fused-kernels';
import { fusedSelfTest } from './fused-ops';
import { replaceKernels, withKernelFunc, type WasmBackendLike } from './wasm-backend';

/** Status of the accelerator, as reported by backendReport() and `hiedit doctor`. */
export interface AcceleratorStatus {
  name: string;
  active: boolean;
  reason: string;
}

/**
 * The addon's surface (see native/src/hiedit_blas.c and hiedit_fused.c for the exact argument contracts). The
 * fused kernels' functions are absent from addons built before they existed.
 */
export interface NativeBlas extends Partial<NativeFused> {
  /**
   * C[i] = op(A[i]) op(B[i]) (+ bias) (activation) for i < batch, everything addressed by byte offsets into
   * `heap`. aOffsets/bOffsets: one offset for all batches, or a Uint32Array with one per batch. C is packed.
   */
  gemm(
    heap: ArrayBuffer,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    batch: number,
    aOffsets: number | Uint32Array,
    bOffsets: number | Uint32Array,
    cOffset: number,
    biasOffset: number,
    biasLen: number,
    activation: number,
    alpha: number,
    preluOffset?: number,
    preluLen?: number,
  ): void;
  /** Which BLAS the addon links; `core` is the kernel set OpenBLAS runs (absent for other BLAS libraries and older addons). */
  info(): { blas: string; threads?: number; core?: string };
  /**
   * hiedit's own small-M GEMM (native/src/hiedit_gemm.c), which takes the products with few rows (the tokens of a
   * forward) from BLAS: `kernel` is 'avx512', 'avx2' or 'blas' (not used), `best` what the CPU could run.
   * Absent from addons built before it existed.
   */
  gemmInfo?(): { kernel: string; threads: number; best: string };
  /** Switches the small-M GEMM ('blas' turns it off, 'auto' is the default choice); false if the CPU cannot run it. */
  setGemmKernel?(name: string): boolean;
  setThreads(n: number): boolean;
}

const NAME = 'native-blas';

/** Where native/build.js puts the addon; resolved from src/ (tests) and dist/ (the built package) alike. */
export const NATIVE_ADDON_PATH = path.join(__dirname, '..', 'native', 'build', 'Release', 'hiedit_blas.node');

let loaded: { addon?: NativeBlas; reason: string } | undefined;

/** Where native/build.js records what the install decided (the addon's build directory). */
export const INSTALL_STATUS_PATH = path.join(path.dirname(NATIVE_ADDON_PATH), '..', 'install-status.json');

/** native/build.js's record of the install: whether it built the addon and the line it printed. */
export interface InstallStatus {
  built: boolean;
  line: string;
}

function readInstallStatus(): InstallStatus | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(INSTALL_STATUS_PATH, 'utf8')) as Partial<InstallStatus>;
    return typeof s.line === 'string' ? { built: s.built === true, line: s.line } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why the addon is missing and how to get it: the install's own reason when native/build.js recorded one
 * (no compiler, no OpenBLAS, HIEDIT_ACCELERATOR=off, a failed compile), then the way to build it.
 */
export function addonMissingReason(status: InstallStatus | undefined): string {
  const why = status && !status.built
    ? `native addon not built at install: ${status.line.replace(/^native accelerator not built: /, '').replace(/; using the wasm kernels\.$/, '')}`
    : 'native addon not built';
  return `${why}; to build it, install a C compiler and OpenBLAS (Debian/Ubuntu: apt-get install build-essential ` +
    'python3 libopenblas-dev; macOS: Xcode command line tools) and run `npm rebuild @hiedit/tensor-core`; ' +
    'using the wasm matmul kernels';
}

function acceleratorDisabledByEnv(): boolean {
  const v = (process.env.HIEDIT_ACCELERATOR ?? '').trim().toLowerCase();
  return v === 'off' || v === '0' || v === 'false' || v === 'no';
}

/**
 * Loads the addon once. Never throws: a missing or broken addon is reported in `reason`.
 * Honours HIEDIT_ACCELERATOR=off.
 */
export function loadNativeBlas(): { addon?: NativeBlas; reason: string } {
  if (acceleratorDisabledByEnv()) return { reason: 'disabled by HIEDIT_ACCELERATOR=off' };
  if (loaded) return loaded;
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    loaded = { reason: addonMissingReason(readInstallStatus()) };
    return loaded;
  }
  try {
    // A computed path keeps bundlers from trying to inline a binary.
    const req: NodeRequire = require;
    const addon = withShortBlasSpin(() => req(NATIVE_ADDON_PATH) as NativeBlas);
    if (typeof addon.gemm !== 'function') throw new Error('the addon exports no gemm()');
    loaded = { addon, reason: addon.info().blas };
  } catch (e) {
    loaded = { reason: `native addon failed to load (${(e as Error).message.split('\n')[0]}); using the wasm matmul kernels` };
  }
  return loaded;
}

/**
 * Loads OpenBLAS with its idle worker threads sleeping almost at once (OPENBLAS_THREAD_TIMEOUT=4, i.e. 2^4
 * cycles of spinning) unless the user set the variable. By default they spin for about 2^28 cycles (~0.1 s)
 * after every call, and the addon's own GEMM threads (hiedit_gemm.c) then compete with them for the cores:
 * GPT-2 forward+backward, median of 15 in each of 3 processes, 66.1 / 78.6 / 71.0 ms spinning against
 * 66.8 / 64.4 / 65.1 ms with the short spin. OpenBLAS reads the variable once, when the addon links it, so it
 * is set only around that load and child processes do not inherit it.
 */
function withShortBlasSpin<T>(load: () => T): T {
  if (process.env.OPENBLAS_THREAD_TIMEOUT !== undefined) return load();
  process.env.OPENBLAS_THREAD_TIMEOUT = '4';
  try {
    return load();
  } finally {
    delete process.env.OPENBLAS_THREAD_TIMEOUT;
  }
}

// Matches the addon's activation codes (which follow the wasm backend's FusableActivation numbering).
const ACTIVATION_CODES: Record<string, number> = { linear: 0, relu: 1, relu6: 2, prelu: 3, leakyrelu: 4, sigmoid: 5, elu: 6 };

interface InstalledState {
  backendName: string;
  addon: NativeBlas;
  stockBatchMatMul: tf.KernelConfig;
  stockFusedMatMul: tf.KernelConfig;
}

let installed: InstalledState | undefined;
let lastStatus: AcceleratorStatus = { name: NAME, active: false, reason: 'not installed yet (initBackend() installs it)' };

/** The current status (what the last install/uninstall left behind). */
export function acceleratorStatus(): AcceleratorStatus {
  return { ...lastStatus };
}

/** The loaded addon, for benchmarks that time raw BLAS next to tfjs; undefined when not available. */
export function nativeBlas(): NativeBlas | undefined {
  return loadNativeBlas().addon;
}

function product(dims: number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

/**
 * Byte offsets of each output batch's operand, honouring numpy-style broadcasting of the batch dims.
 * Returns a plain number when every batch uses the same matrix (no per-batch list needed).
 */
function batchOffsets(base: number, batchShape: number[], outBatch: number[], matrixBytes: number): number | Uint32Array {
  const size = product(batchShape);
  const outSize = product(outBatch);
  if (size === 1) return base;
  const offs = new Uint32Array(outSize);
  if (size === outSize) {
    for (let i = 0; i < outSize; i++) offs[i] = base + i * matrixBytes;
    return offs;
  }
  const rank = outBatch.length;
  const padded = new Array<number>(rank - batchShape.length).fill(1).concat(batchShape);
  // Stride (in matrices) of each out dim within this operand; 0 where the operand broadcasts.
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : s;
    s *= padded[d];
  }
  const idx = new Array<number>(rank).fill(0);
  let cur = 0;
  for (let i = 0; i < outSize; i++) {
    offs[i] = base + cur * matrixBytes;
    // Odometer increment over the out batch index, tracking this operand's matrix index alongside.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      cur += strides[d];
      if (idx[d] < outBatch[d]) break;
      cur -= strides[d] * idx[d];
      idx[d] = 0;
    }
  }
  return offs;
}

function broadcastBatch(a: number[], b: number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/**
 * Runs op(a) op(b) (+ bias) (activation) through BLAS, or returns undefined when the case is not one the
 * addon handles (the caller then uses the stock kernel, which also produces the stock error messages).
 */
function runNative(
  addon: NativeBlas,
  backend: WasmBackendLike,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transA: boolean,
  transB: boolean,
  bias: tf.TensorInfo | undefined,
  activation: string,
  alpha: number,
  prelu?: tf.TensorInfo,
): tf.TensorInfo | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const kA = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kB = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (kA !== kB) return undefined;
  const k = kA;
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = broadcastBatch(aBatch, bBatch);
  if (!outBatch) return undefined;
  const act = ACTIVATION_CODES[activation];
  if (act === undefined) return undefined;

  // Only row-broadcast vectors (shape [..1.., N]) or scalars; anything else is the stock kernel's job.
  const rowVectorLen = (t: tf.TensorInfo): number | undefined => {
    if (t.dtype !== 'float32' || t.shape.length > outBatch.length + 2) return undefined;
    const size = product(t.shape);
    if (size === 1) return 1;
    return size === n && t.shape[t.shape.length - 1] === n ? n : undefined;
  };
  const biasLen = bias ? rowVectorLen(bias) : 0;
  if (biasLen === undefined) return undefined;
  if ((activation === 'prelu') !== !!prelu) return undefined;
  const preluLen = prelu ? rowVectorLen(prelu) : 0;
  if (preluLen === undefined) return undefined;

  const aData = backend.dataIdMap.get(a.dataId);
  const bData = backend.dataIdMap.get(b.dataId);
  const biasData = bias ? backend.dataIdMap.get(bias.dataId) : undefined;
  const preluData = prelu ? backend.dataIdMap.get(prelu.dataId) : undefined;
  if (!aData || !bData || (bias && !biasData) || (prelu && !preluData)) return undefined;

  const outShape = [...outBatch, m, n];
  const out = backend.makeOutput(outShape, 'float32');
  // makeOutput may have grown the wasm memory, which detaches the old heap buffer: read the buffer only
  // now. Offsets themselves never move.
  const outData = backend.dataIdMap.get(out.dataId)!;
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;

  let batch = product(outBatch);
  let rows = m;
  let aOffs: number | Uint32Array;
  let bOffs: number | Uint32Array;
  if (batch > 1 && !transA && product(bBatch) === 1 && product(aBatch) === batch) {
    // Every batch multiplies the same B and A's batches are contiguous: one tall GEMM is much faster than
    // `batch` small ones (the common x(B,T,d) @ W(d,d') case).
    rows = m * batch;
    batch = 1;
    aOffs = aData.memoryOffset;
    bOffs = bData.memoryOffset;
  } else {
    aOffs = batchOffsets(aData.memoryOffset, aBatch, outBatch, m * k * 4);
    bOffs = batchOffsets(bData.memoryOffset, bBatch, outBatch, k * n * 4);
  }
  try {
    addon.gemm(
      heap,
      transA,
      transB,
      rows,
      n,
      k,
      batch,
      aOffs,
      bOffs,
      outData.memoryOffset,
      biasData ? biasData.memoryOffset : -1,
      biasLen,
      act,
      alpha,
      preluData ? preluData.memoryOffset : -1,
      preluLen,
    );
  } catch (e) {
    backend.disposeData(out.dataId);
    throw new Error(`native matmul failed for a ${JSON.stringify(a.shape)} x b ${JSON.stringify(b.shape)}: ${(e as Error).message}`);
  }
  return out;
}

function makeKernels(state: Omit<InstalledState, 'backendName'>): { batchMatMul: tf.KernelConfig; fusedMatMul: tf.KernelConfig } {
  const { addon, stockBatchMatMul, stockFusedMatMul } = state;
  const batchMatMul: tf.KernelConfig = {
    kernelName: 'BatchMatMul',
    backendName: stockBatchMatMul.backendName,
    setupFunc: stockBatchMatMul.setupFunc,
    disposeFunc: stockBatchMatMul.disposeFunc,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
      const out = runNative(addon, args.backend as WasmBackendLike, a, b, !!attrs.transposeA, !!attrs.transposeB, undefined, 'linear', 0);
      return out ?? stockBatchMatMul.kernelFunc(args);
    },
  };
  const fusedMatMul: tf.KernelConfig = {
    kernelName: '_FusedMatMul',
    backendName: stockFusedMatMul.backendName,
    setupFunc: stockFusedMatMul.setupFunc,
    disposeFunc: stockFusedMatMul.disposeFunc,
    kernelFunc: (args) => {
      const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean; activation?: string; leakyreluAlpha?: number };
      let out: tf.TensorInfo | undefined;
      if (a && b) {
        out = runNative(
          addon,
          args.backend as WasmBackendLike,
          a,
          b,
          !!attrs.transposeA,
          !!attrs.transposeB,
          bias ?? undefined,
          attrs.activation ?? 'linear',
          attrs.leakyreluAlpha ?? 0.2,
          preluActivationWeights ?? undefined,
        );
      }
      return out ?? stockFusedMatMul.kernelFunc(args);
    },
  };
  return { batchMatMul, fusedMatMul };
}

function register(configs: tf.KernelConfig[], backend: object | undefined): void {
  replaceKernels(configs);
  // Kernels registered after the backend initialised are not set up by the engine.
  if (backend && (backend as Partial<WasmBackendLike>).wasm) for (const c of configs) c.setupFunc?.(backend);
}

/**
 * Compares the accelerated kernel with a float64 reference on one small fused case; a BLAS that links but
 * computes nonsense must not silently take over every matmul.
 */
function selfTest(): string | undefined {
  const aVals = [0.5, -1, 2, 3, 0.25, -0.75, 1.5, 2.5, -2, 1, 0, 4]; // (2, 2, 3)
  const bVals = [1, -2, 0.5, 3, 2, -1]; // (3, 2)
  const biasVals = [0.125, -0.5];
  const want: number[] = [];
  for (let bi = 0; bi < 2; bi++) {
    for (let r = 0; r < 2; r++) {
      for (let j = 0; j < 2; j++) {
        let s = biasVals[j];
        for (let c = 0; c < 3; c++) s += aVals[bi * 6 + r * 3 + c] * bVals[c * 2 + j];
        want.push(Math.max(0, s));
      }
    }
  }
  const got = tf.tidy(() => {
    const a = tf.tensor3d(aVals, [2, 2, 3]);
    const b = tf.tensor2d(bVals, [3, 2]);
    const bias = tf.tensor1d(biasVals);
    return Array.from(tf.fused.matMul({ a, b, bias, activation: 'relu' }).dataSync());
  });
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > 1e-5) return `self-test mismatch at ${i}: ${got[i]} vs ${want[i]}`;
  }
  return undefined;
}

/**
 * Registers the fused LayerNorm/RMSNorm/GELU/SwiGLU/GeGLU/RoPE/cross-entropy kernels and the attention kernels (and their gradients) when the addon has them and
 * they pass their self-test; returns the note for the status line. Runs with wasm as the current backend.
 */
function installFused(addon: NativeBlas): string {
  if (!hasNativeFused(addon)) return '; this addon build has no fused kernels (rebuild it)';
  registerFusedGradients();
  registerFusedKernels(addon);
  let failure: string | undefined;
  try {
    failure = fusedSelfTest();
  } catch (e) {
    failure = `fused self-test threw: ${(e as Error).message}`;
  }
  if (failure) {
    unregisterFusedKernels();
    return `; ${failure}, fused kernels off`;
  }
  // The attention kernels self-test as they register and withdraw themselves on a mismatch.
  if (hasNativeAttention(addon)) registerAttentionKernels(addon);
  const attention = attentionKernelsActive() ? ', attention (also soft-capped)' : `, no fused attention (${attentionKernelsFailure() ?? 'not in this addon build'})`;
  return `; fused LayerNorm/RMSNorm (also (1 + w))/GELU/SwiGLU/GeGLU/RoPE/cross-entropy kernels${attention}`;
}

function findWasmBackend(): WasmBackendLike | undefined {
  try {
    return tf.findBackend('wasm') as unknown as WasmBackendLike | undefined;
  } catch {
    return undefined;
  }
}

/**
 * Zero-copy Identity for the wasm backend. The engine clones every tensor it saves for the backward pass
 * through the Identity kernel, and the stock wasm kernel copies the data: for a transformer that is every
 * weight matrix once per forward+backward (hundreds of MB). Sharing the data id with a reference count is
 * what the cpu backend does and what the wasm backend's own Reshape does; no wasm kernel writes into its
 * inputs, so sharing is safe.
 */
function zeroCopyIdentity(stock: tf.KernelConfig): tf.KernelConfig {
  return withKernelFunc(stock, (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return stock.kernelFunc(args);
    (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  });
}

let jsPaths: { stockIdentity: tf.KernelConfig; stockCopies?: StockCopyKernels } | undefined;

function installJsPaths(backend: WasmBackendLike): void {
  if (jsPaths) return;
  let stockIdentity: tf.KernelConfig | undefined;
  try {
    stockIdentity = tf.getKernel('Identity', 'wasm');
  } catch {
    stockIdentity = undefined;
  }
  if (!stockIdentity) return;
  const copies = copyKernels();
  register([zeroCopyIdentity(stockIdentity), ...(copies?.fast ?? [])], backend);
  jsPaths = { stockIdentity, stockCopies: copies?.stock };
}

function uninstallJsPaths(): void {
  if (!jsPaths) return;
  const copies = jsPaths.stockCopies;
  register([jsPaths.stockIdentity, ...(copies ? [copies.slice, copies.splitV, copies.gather] : [])], findWasmBackend());
  jsPaths = undefined;
}

function uninstallNative(): void {
  unregisterFusedKernels();
  unregisterAttentionKernels();
  if (!installed) return;
  register([installed.stockBatchMatMul, installed.stockFusedMatMul], findWasmBackend());
  installed = undefined;
}

/** Options of {@link installAccelerator}. */
export interface InstallAcceleratorOptions {
  /** Use the native BLAS kernels when the addon is available (default true). false keeps only the JS fast paths. */
  native?: boolean;
}

/**
 * Activates the accelerator on `backendName` when possible. Only the wasm backend is accelerated (tfjs-node
 * already runs native kernels; the cpu backend is the correctness fallback). On wasm it always installs the
 * JS fast paths (zero-copy Identity) and, when the addon loads and passes its self-test, the BLAS matmul
 * kernels; `active` says whether the BLAS kernels are in use. Idempotent; never throws.
 */
export function installAccelerator(backendName: string, opts: InstallAcceleratorOptions = {}): AcceleratorStatus {
  const wantNative = opts.native !== false;
  if (acceleratorDisabledByEnv()) {
    uninstallAccelerator();
    lastStatus = { name: NAME, active: false, reason: 'disabled by HIEDIT_ACCELERATOR=off (stock wasm kernels)' };
    return acceleratorStatus();
  }
  if (backendName !== 'wasm') {
    uninstallAccelerator();
    lastStatus = { name: NAME, active: false, reason: `not used on the ${backendName} backend (only wasm is accelerated)` };
    return acceleratorStatus();
  }
  const backend = findWasmBackend();
  if (!backend || !backend.wasm || !backend.dataIdMap) {
    lastStatus = { name: NAME, active: false, reason: 'the wasm backend is not initialised' };
    return acceleratorStatus();
  }
  installJsPaths(backend);
  const js = jsPaths ? `; zero-copy Identity${jsPaths.stockCopies ? ', block-copy Slice/SplitV/GatherV2' : ''} on` : '';
  if (!wantNative) {
    uninstallNative();
    lastStatus = { name: NAME, active: false, reason: `native kernels not requested${js}` };
    return acceleratorStatus();
  }
  if (installed) return acceleratorStatus();
  const { addon, reason } = loadNativeBlas();
  if (!addon) {
    lastStatus = { name: NAME, active: false, reason: `${reason}${js}` };
    return acceleratorStatus();
  }
  // Compare tags, not `instanceof`: the heap may come from another realm (jest runs tests in a vm context).
  if (Object.prototype.toString.call(backend.wasm.HEAPU8.buffer) !== '[object ArrayBuffer]') {
    // The threaded wasm build shares its memory (SharedArrayBuffer), which N-API cannot hand to C here.
    lastStatus = { name: NAME, active: false, reason: `the wasm heap is a SharedArrayBuffer (threaded wasm); using the stock matmul kernels${js}` };
    return acceleratorStatus();
  }
  let stockBatchMatMul: tf.KernelConfig | undefined;
  let stockFusedMatMul: tf.KernelConfig | undefined;
  try {
    stockBatchMatMul = tf.getKernel('BatchMatMul', 'wasm');
    stockFusedMatMul = tf.getKernel('_FusedMatMul', 'wasm');
  } catch {
    stockBatchMatMul = undefined;
  }
  if (!stockBatchMatMul || !stockFusedMatMul) {
    lastStatus = { name: NAME, active: false, reason: `the wasm backend has no BatchMatMul/_FusedMatMul kernels registered${js}` };
    return acceleratorStatus();
  }
  const kernels = makeKernels({ addon, stockBatchMatMul, stockFusedMatMul });
  register([kernels.batchMatMul, kernels.fusedMatMul], backend);
  installed = { backendName, addon, stockBatchMatMul, stockFusedMatMul };
  let failure: string | undefined;
  let fusedNote = '';
  const previous = tf.getBackend();
  try {
    if (previous !== 'wasm') tf.setBackend('wasm');
    failure = selfTest();
    if (!failure) fusedNote = installFused(addon);
  } catch (e) {
    failure = `self-test threw: ${(e as Error).message}`;
  } finally {
    if (previous && previous !== 'wasm') tf.setBackend(previous);
  }
  if (failure) {
    uninstallNative();
    lastStatus = { name: NAME, active: false, reason: `${failure}; using the stock matmul kernels${js}` };
    return acceleratorStatus();
  }
  const info = addon.info();
  // OpenBLAS honours OPENBLAS_CORETYPE (set on some machines because old OpenBLAS builds miscompute on newer
  // CPUs), so say which kernel set actually runs.
  const core = info.core ? `, ${info.core} kernels${process.env.OPENBLAS_CORETYPE ? ' (OPENBLAS_CORETYPE)' : ''}` : '';
  const g = addon.gemmInfo?.();
  const gemm = g && g.kernel !== 'blas' ? `; small-M products (tokens x weights) via hiedit's ${g.kernel} GEMM, ${g.threads} threads (HIEDIT_GEMM=blas: BLAS only)` : '';
  lastStatus = {
    name: NAME,
    active: true,
    reason: `BatchMatMul/_FusedMatMul via ${info.blas.split(' ').slice(0, 2).join(' ')}${core}${info.threads ? `, ${info.threads} threads` : ''}${gemm}${fusedNote}${js}`,
  };
  return acceleratorStatus();
}

/**
 * Bumped whenever one of hiedit's kernels changes how it rounds (session 3: vectorised exp in GELU/SwiGLU,
 * the cross-entropy and attention kernels, the bias added by BLAS; 4: Gemma-2's soft-capped attention in the
 * fused kernel): results trained under one revision are not bitwise those of another.
 */
export const KERNELS_REVISION = 4;

/**
 * A short description of every choice that decides how the accelerated kernels round: matmul kernels (and
 * OpenBLAS's kernel set), the fused and attention kernels, and {@link KERNELS_REVISION}. Caches of trained
 * models key on it, so a model trained under one set is never reused as if trained under another.
 */
export function kernelFingerprint(): string {
  if (!lastStatus.active || !installed) return `stock+r${KERNELS_REVISION}`;
  const info = installed.addon.info();
  const gemm = installed.addon.gemmInfo?.().kernel;
  // Environment switches that change which code computes a product change its rounding too.
  const flags = [process.env.HIEDIT_ATTN_LOOPS === '1' ? 'attn-loops' : undefined, process.env.HIEDIT_BLAS_NO_GEMV === '1' ? 'no-gemv' : undefined];
  const parts = [NAME, info.core, gemm && gemm !== 'blas' ? `gemm-${gemm}` : undefined, ...flags, fusedKernelsActive() ? 'fused' : undefined, attentionKernelsActive() ? 'attn' : undefined];
  return `${parts.filter((p) => p).join('+')}+r${KERNELS_REVISION}`;
}

/** Puts every stock wasm kernel back (HIEDIT_ACCELERATOR=off, tests, benchmarks). Idempotent. */
export function uninstallAccelerator(): void {
  const had = !!installed || !!jsPaths;
  uninstallNative();
  uninstallJsPaths();
  if (had) lastStatus = { name: NAME, active: false, reason: 'uninstalled; using the stock wasm kernels' };
}
