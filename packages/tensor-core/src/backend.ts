/**
 * tfjs backend selection. Order: tfjs-node-gpu, tfjs-node (optional peers, never installed by default),
 * wasm (the default dependency), cpu. `opts.backend` or HIEDIT_BACKEND forces one backend.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
// Imported statically (it is a regular dependency) so bundlers include it and it shares this tfjs-core.
import * as tfWasm from '@tensorflow/tfjs-backend-wasm';
import { installAccelerator } from './accelerator';
import { registerWasmKernelPatches } from './wasm-kernels';

/** Backends hiedit knows, in default preference order. */
export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
/** A backend hiedit can select. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What initBackend chose and why every other candidate was skipped. */
export interface BackendReport {
  /** The active backend (a BackendName once initialized; '' before). */
  active: string;
  candidates: { name: string; available: boolean; reason: string }[];
  accelerator: { name: string; active: boolean; reason: string };
  /** Package versions: tfjs-core, tfjs-backend-wasm, tfjs-node, node, ... */
  versions: Record<string, string>;
}

/** Options of initBackend. */
export interface InitBackendOptions {
  backend?: BackendName;
}

type Candidate = BackendReport['candidates'][number];

let initPromise: Promise<BackendReport> | undefined;
let initRequest: BackendName | 'auto' | undefined;
let report: BackendReport | undefined;

function baseVersions(): Record<string, string> {
  const v: Record<string, string> = { node: process.versions.node };
  for (const [k, val] of Object.entries(tf.version)) v[k] = String(val);
  return v;
}

function parseRequest(opts?: InitBackendOptions): BackendName | 'auto' {
  if (opts?.backend !== undefined) {
    if (!(BACKEND_NAMES as readonly string[]).includes(opts.backend)) {
      throw new Error(`initBackend: unknown backend ${JSON.stringify(opts.backend)} (expected one of ${BACKEND_NAMES.join(', ')})`);
    }
    return opts.backend;
  }
  const env = process.env.HIEDIT_BACKEND;
  if (env !== undefined && env.trim() !== '') {
    const v = env.trim();
    if (!(BACKEND_NAMES as readonly string[]).includes(v)) {
      throw new Error(`environment variable HIEDIT_BACKEND=${JSON.stringify(env)} is not a backend (expected one of ${BACKEND_NAMES.join(', ')})`);
    }
    return v as BackendName;
  }
  return 'auto';
}

/** Loads an optional module; distinguishes "not installed" from "installed but broken". */
function tryRequire(moduleName: string): { mod?: Record<string, unknown>; reason: string } {
  try {
    // A computed require keeps bundlers from trying to inline optional native peers.
    const req = require;
    return { mod: req(moduleName) as Record<string, unknown>, reason: 'loaded' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' && e.message.includes(moduleName)) {
      return { reason: `${moduleName} is not installed (optional peer dependency)` };
    }
    return { reason: `${moduleName} failed to load: ${e.message.split('\n')[0]}` };
  }
}

async function activate(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

async function tryNode(name: 'tensorflow-gpu' | 'tensorflow', versions: Record<string, string>): Promise<Candidate> {
  const moduleName = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  const { mod, reason } = tryRequire(moduleName);
  if (!mod) return { name, available: false, reason };
  // Both packages register their native backend under the name 'tensorflow'.
  if (!tf.findBackendFactory('tensorflow')) {
    return { name, available: false, reason: `${moduleName} loaded but registered no 'tensorflow' backend (a second tfjs-core copy?)` };
  }
  if (!(await activate('tensorflow'))) {
    return { name, available: false, reason: `${moduleName} loaded but its backend failed to initialize` };
  }
  const ver = (mod.version as Record<string, string> | undefined)?.['tfjs-node'];
  if (ver) versions[moduleName.replace('@tensorflow/', '')] = ver;
  return { name, available: true, reason: `active (${moduleName})` };
}

/** Directory holding the wasm binaries, next to the package's entry point. */
function wasmBinaryDir(): string | undefined {
  try {
    return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  } catch {
    return undefined;
  }
}

let wasmPathsSet = false;

async function tryWasm(versions: Record<string, string>): Promise<Candidate> {
  versions['tfjs-backend-wasm'] = tfWasm.version_wasm;
  // Point the loader at the .wasm binaries explicitly: bundling the JS elsewhere (esbuild) would
  // otherwise make it look for them beside the bundle.
  const dir = wasmBinaryDir();
  if (dir && !wasmPathsSet) {
    try {
      tfWasm.setWasmPaths(dir + path.sep);
      wasmPathsSet = true;
    } catch {
      // Already initialized in this process (setWasmPaths then throws): the paths in use stay valid.
    }
  }
  if (!tf.findBackendFactory('wasm')) {
    return { name: 'wasm', available: false, reason: `@tensorflow/tfjs-backend-wasm registered no 'wasm' backend (a second tfjs-core copy?)` };
  }
  if (!(await activate('wasm'))) {
    return { name: 'wasm', available: false, reason: 'the wasm backend failed to initialize (WebAssembly unavailable or .wasm files missing)' };
  }
  return { name: 'wasm', available: true, reason: 'active' };
}

async function tryCpu(): Promise<Candidate> {
  if (!(await activate('cpu'))) return { name: 'cpu', available: false, reason: 'the cpu backend failed to initialize' };
  // The cpu backend prints a "use tfjs-node" banner on first write; hiedit reports the choice itself.
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (typeof backend.firstUse === 'boolean') backend.firstUse = false;
  return { name: 'cpu', available: true, reason: 'active' };
}

function runAccelerator(active: string): BackendReport['accelerator'] {
  try {
    return installAccelerator(active);
  } catch (err) {
    return { name: 'none', active: false, reason: `accelerator failed to install: ${(err as Error).message}` };
  }
}

async function select(request: BackendName | 'auto'): Promise<BackendReport> {
  const versions = baseVersions();
  registerWasmKernelPatches();
  const candidates: Candidate[] = [];
  let active = '';
  for (const name of BACKEND_NAMES) {
    if (active) {
      candidates.push({ name, available: false, reason: `not tried: ${active} is active` });
      continue;
    }
    if (request !== 'auto' && name !== request) {
      candidates.push({ name, available: false, reason: `not tried: backend ${request} was requested` });
      continue;
    }
    const c =
      name === 'tensorflow-gpu' || name === 'tensorflow'
        ? await tryNode(name, versions)
        : name === 'wasm'
          ? await tryWasm(versions)
          : await tryCpu();
    candidates.push(c);
    if (c.available) active = name;
  }
  if (!active) {
    const why = candidates.map((c) => `${c.name}: ${c.reason}`).join('; ');
    throw new Error(
      request === 'auto'
        ? `initBackend: no tfjs backend could be initialized (${why})`
        : `initBackend: requested backend ${request} is not available (${why})`,
    );
  }
  const accelerator =
    active === 'wasm' || active === 'cpu'
      ? runAccelerator(active)
      : { name: 'none', active: false, reason: `not used with the native ${active} backend` };
  return { active, candidates, accelerator, versions };
}

/**
 * Selects and initializes the tfjs backend once per process. Concurrent and repeated calls share
 * one promise. A later call that explicitly asks for a different backend than the one chosen
 * rejects rather than silently switching (tensors already created would move backends).
 */
export function initBackend(opts?: InitBackendOptions): Promise<BackendReport> {
  let request: BackendName | 'auto';
  try {
    request = parseRequest(opts);
  } catch (err) {
    return Promise.reject(err);
  }
  if (initPromise) {
    if (request === 'auto' || request === initRequest) return initPromise;
    return initPromise.then((r) => {
      if (r.active !== request) {
        throw new Error(`initBackend: backend already initialized as ${r.active}; cannot switch to ${request} in this process`);
      }
      return r;
    });
  }
  initRequest = request;
  const p = select(request).then(
    (r) => {
      report = r;
      return r;
    },
    (err) => {
      // Let a later call retry (e.g. with another backend) after a failed attempt.
      if (initPromise === p) {
        initPromise = undefined;
        initRequest = undefined;
      }
      throw err;
    },
  );
  initPromise = p;
  return p;
}

/**
 * The report of the last successful initBackend(). Before that it describes the uninitialized state
 * (active '' and every candidate "not probed") instead of throwing, so diagnostics can always print it.
 */
export function backendReport(): BackendReport {
  if (report) {
    return {
      active: report.active,
      candidates: report.candidates.map((c) => ({ ...c })),
      accelerator: { ...report.accelerator },
      versions: { ...report.versions },
    };
  }
  return {
    active: '',
    candidates: BACKEND_NAMES.map((name) => ({ name, available: false, reason: 'not probed: initBackend() has not completed' })),
    accelerator: { name: 'none', active: false, reason: 'initBackend() has not completed' },
    versions: baseVersions(),
  };
}

/**
 * Forgets the selection so tests can select again in the same process. Not exported from the
 * package index: production code selects once.
 * @internal
 */
export function resetBackendSelectionForTests(): void {
  initPromise = undefined;
  initRequest = undefined;
  report = undefined;
}
