/**
 * Saving and loading policies: weights in safetensors, configuration + normalizer state + module manifest
 * in JSON. A checksum ties the two files of one save together.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { openSafetensors, readJsonFile, writeFileAtomic, writeSafetensors } from '@hiedit/tensor-core';
import type { ModuleDescriptor } from '@hiedit/tensor-core';
import type { PolicyConfig } from './config';
import type { HostParam } from './params';
import { HiEditPolicy, KEY_COV_PREFIX } from './policy';

/** `format` field of policy.json. */
export const POLICY_FORMAT = 'hiedit-policy';
/**
 * Version of the policy directory layout this build writes. Version 2 stores the step size as
 * `low.<group>.logEta` (eta = exp(logEta)); version 1 stored the raw `low.<group>.eta` and is still read
 * (converted on load, see `convertV1Tensors`). Version 3 adds the optional frozen key covariances of the key
 * preconditioner (tensors `keycov.<module>`, listed in the manifest's `keyCovariances`); a version-2 directory is a
 * version-3 one without them.
 */
export const POLICY_VERSION = 3;
/** Oldest policy directory version this build can still load. */
export const POLICY_MIN_VERSION = 1;
/** File names inside a policy directory. */
export const POLICY_JSON = 'policy.json';
export const POLICY_WEIGHTS = 'policy.safetensors';

/** Atomic file writes are tensor-core's; re-exported because rl-hierarchy has always exported this name. */
export { writeFileAtomic };

/** sha256 over names, shapes and bytes of host tensors (in order). */
export function checksumHost(params: readonly HostParam[]): string {
  const h = crypto.createHash('sha256');
  for (const p of params) {
    h.update(`${p.name}:${p.shape.join(',')};`);
    h.update(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength));
  }
  return h.digest('hex');
}

/** Write host tensors + checksum metadata to a safetensors file (atomic). */
export function writeHostTensors(file: string, tensors: readonly HostParam[], metadata: Record<string, string>): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const checksum = checksumHost(tensors);
  writeSafetensors(file, tensors.map((t) => ({ name: t.name, shape: t.shape, data: t.data })), { dtype: 'F32', metadata: { ...metadata, checksum } });
  return checksum;
}

/** Read every tensor of a safetensors file and verify it carries `checksum`. */
export function readHostTensors(file: string, checksum: string | undefined): Map<string, HostParam> {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  const src = openSafetensors(file);
  try {
    const out = new Map<string, HostParam>();
    for (const name of src.names()) {
      const t = src.read(name);
      if (!(t.data instanceof Float32Array)) throw new Error(`${file}: tensor ${name} has dtype ${t.dtype}, expected a floating dtype`);
      out.set(name, { name, shape: t.shape.slice(), data: t.data });
    }
    if (checksum !== undefined && src.metadata.checksum !== checksum) {
      throw new Error(`${file}: checksum ${src.metadata.checksum ?? '(none)'} does not match the JSON written with it (${checksum}); the save was interrupted or the files come from different saves`);
    }
    return out;
  } finally {
    src.close();
  }
}

/** policy.json contents. */
export interface PolicyManifest {
  format: string;
  version: number;
  config: PolicyConfig;
  modules: { name: string; dIn: number; dOut: number; layer: number }[];
  normalizers: { low: Record<string, object>; high: Record<string, object> };
  params: { name: string; shape: number[] }[];
  /** Modules whose key covariance (`keycov.<module>`) the weights file holds (version 3; absent or empty: none). */
  keyCovariances?: string[];
  checksum: string;
}

/** Save a policy to `dir` (policy.safetensors, then policy.json; both atomic). */
export function savePolicy(policy: HiEditPolicy, dir: string): void {
  const host = policy.params.toHost();
  const covs = policy.keyCovariancesToHost();
  const checksum = writeHostTensors(path.join(dir, POLICY_WEIGHTS), [...host, ...covs], { format: POLICY_FORMAT });
  const manifest: PolicyManifest = {
    format: POLICY_FORMAT,
    version: POLICY_VERSION,
    config: policy.config,
    modules: policy.modules.map((m) => ({ name: m.name, dIn: m.dIn, dOut: m.dOut, layer: m.layer })),
    normalizers: policy.normalizersToJSON(),
    params: host.map((p) => ({ name: p.name, shape: p.shape })),
    keyCovariances: covs.map((c) => c.name.slice(KEY_COV_PREFIX.length)),
    checksum,
  };
  writeFileAtomic(path.join(dir, POLICY_JSON), JSON.stringify(manifest, null, 1));
}

/** Read and validate policy.json. */
export function readPolicyManifest(dir: string): PolicyManifest {
  const file = path.join(dir, POLICY_JSON);
  if (!fs.existsSync(file)) throw new Error(`${file}: not found (is ${dir} a saved policy directory?)`);
  const m = readJsonFile(file) as PolicyManifest;
  if (m.format !== POLICY_FORMAT) throw new Error(`${file}: field "format" is ${JSON.stringify(m.format)}, expected "${POLICY_FORMAT}"`);
  if (!Number.isInteger(m.version) || m.version < POLICY_MIN_VERSION || m.version > POLICY_VERSION) {
    throw new Error(`${file}: field "version" is ${m.version}, this build reads versions ${POLICY_MIN_VERSION} to ${POLICY_VERSION}`);
  }
  if (!Array.isArray(m.modules) || m.modules.length === 0) throw new Error(`${file}: field "modules" must be a non-empty array`);
  if (typeof m.checksum !== 'string') throw new Error(`${file}: field "checksum" is missing`);
  if (m.keyCovariances !== undefined && (!Array.isArray(m.keyCovariances) || m.keyCovariances.some((n) => typeof n !== 'string'))) {
    throw new Error(`${file}: field "keyCovariances" must be an array of module names`);
  }
  return m;
}

/**
 * Compare a policy's module manifest with a model's modules; a clear error naming the first mismatch.
 * `modelModule` resolves a name on the model (e.g. `model.module.bind(model)`), throwing when absent.
 */
export function checkModulesMatch(
  policyModules: readonly Pick<ModuleDescriptor, 'name' | 'dIn' | 'dOut'>[],
  modelModule: (name: string) => Pick<ModuleDescriptor, 'name' | 'dIn' | 'dOut'>,
  source: string,
): void {
  for (const pm of policyModules) {
    let mm: Pick<ModuleDescriptor, 'name' | 'dIn' | 'dOut'>;
    try {
      mm = modelModule(pm.name);
    } catch (e) {
      throw new Error(`${source}: the policy edits module ${pm.name}, which the model does not have (${(e as Error).message})`);
    }
    if (mm.dIn !== pm.dIn || mm.dOut !== pm.dOut) {
      throw new Error(`${source}: module ${pm.name} is ${pm.dIn}x${pm.dOut} in the policy but ${mm.dIn}x${mm.dOut} in the model (policy made for another model?)`);
    }
  }
}

/**
 * Version 1 stored the raw step size `low.<group>.eta`; version 2 stores `low.<group>.logEta`. The conversion
 * log(eta) is exact up to float32 rounding of the log (exp(log(eta)) differs from eta by about one ulp), so a
 * converted policy edits like the saved one. A non-positive eta (possible under the old raw parametrization)
 * has no logarithm: such a policy is refused with an error naming the file and value (retrain it).
 */
export function convertV1Tensors(tensors: Map<string, HostParam>, file: string): Map<string, HostParam> {
  const out = new Map<string, HostParam>();
  for (const [name, t] of tensors) {
    if (!/^low\.[^.]+\.eta$/.test(name)) {
      out.set(name, t);
      continue;
    }
    const logName = name.replace(/\.eta$/, '.logEta');
    const data = new Float32Array(t.data.length);
    t.data.forEach((v, i) => {
      if (!(v > 0) || !Number.isFinite(v)) {
        throw new Error(`${file}: version-1 policy has ${name}[${i}] = ${v}; a step size must be positive to convert it to the log parametrization of version ${POLICY_VERSION} (retrain this policy)`);
      }
      data[i] = Math.log(v);
    });
    out.set(logName, { name: logName, shape: t.shape.slice(), data });
  }
  return out;
}

/**
 * Load a policy saved by savePolicy. With `modelModule` (e.g. `(n) => model.module(n)`) the module
 * manifest is checked against the model first.
 */
export function loadPolicy(dir: string, modelModule?: (name: string) => Pick<ModuleDescriptor, 'name' | 'dIn' | 'dOut'>): HiEditPolicy {
  const m = readPolicyManifest(dir);
  const jsonFile = path.join(dir, POLICY_JSON);
  if (modelModule) checkModulesMatch(m.modules, modelModule, jsonFile);
  const weightsFile = path.join(dir, POLICY_WEIGHTS);
  const raw = readHostTensors(weightsFile, m.checksum);
  const tensors = m.version === 1 ? convertV1Tensors(raw, weightsFile) : raw;
  const policy = new HiEditPolicy(m.modules, { low: m.config.low, high: m.config.high, seed: m.config.seed });
  try {
    policy.params.fromHost((n) => tensors.get(n), path.join(dir, POLICY_WEIGHTS));
    policy.normalizersFromJSON(m.normalizers, jsonFile);
    const listed = m.keyCovariances ?? [];
    const stored = [...tensors.keys()].filter((n) => n.startsWith(KEY_COV_PREFIX)).map((n) => n.slice(KEY_COV_PREFIX.length));
    if (JSON.stringify([...listed].sort()) !== JSON.stringify([...stored].sort())) {
      throw new Error(`${jsonFile}: field "keyCovariances" lists ${JSON.stringify(listed)} but ${weightsFile} holds key covariances of ${JSON.stringify(stored)}`);
    }
    policy.keyCovariancesFromHost(tensors, weightsFile);
  } catch (e) {
    policy.dispose();
    throw e;
  }
  return policy;
}
