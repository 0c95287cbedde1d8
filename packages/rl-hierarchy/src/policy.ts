/**
 * The two-level edit policy: low-level networks (one per shape group) + optional HiNet gate.
 */
import { tf, addShifts, RunningNormalizer, SeededRandom, shapeKey } from '@hiedit/tensor-core';
import type { EditableModel, EditFeatures, ModuleDescriptor, ModuleMask, ParameterShift, ShiftSet, TokenizedEditRequest } from '@hiedit/tensor-core';
import { resolvePolicyConfig } from './config';
import type { PolicyConfig, PolicyConfigInput } from './config';
import { HiNet } from './high-level';
import type { GateOutput } from './high-level';
import { LowLevelGroup } from './low-level';
import type { FactoredShift, RidgeForm } from './low-level';
import { covarianceTuples, estimateKeyCovariances } from './key-precond';
import { ParamSet } from './params';
import type { HostParam } from './params';

/** Name prefix of the key covariances among a saved policy's (or training state's) tensors. */
export const KEY_COV_PREFIX = 'keycov.';

/** What one policy pass produces for one edit; the caller owns (and disposes) the shift tensors. */
export interface PolicyEdit {
  /** Low-rank shift for EVERY module (selected or not); apply mask-selected ones only. */
  readonly shifts: ShiftSet;
  /** Gate scores and hard selection. Without a high-level policy every module is selected, scores are 1. */
  readonly mask: ModuleMask;
}

/** Options of a policy pass. */
export interface PolicyPassOptions {
  /** Fold this trace into the low-level normalizers first (training; the reference mode also at test time). */
  updateLowNormalizers?: boolean;
  /** Fold this trace into the HiNet normalizers first. */
  updateHighNormalizers?: boolean;
  /** Ridge form for the MALMEN style (tests compare forms). */
  ridgeForm?: RidgeForm;
}

/** Forward pass inside a gradient computation. */
export interface PolicyForward {
  /** Factored shifts per module, in policy module order. */
  shifts: FactoredShift[];
  /** Gate output, or null without a high-level policy (then the mask is all ones). */
  gate: GateOutput | null;
}

/**
 * Apply the selected shifts of `edit` to the model (W_m += scale * dW_m for mask-selected m, outside autodiff).
 * Returns the names of the shifted modules, in policy order. Does not dispose `edit`.
 */
export function applySelectedShifts(model: Pick<EditableModel, 'addShift'>, edit: PolicyEdit, scale = 1): string[] {
  const selected = edit.mask.modules.filter((_, i) => edit.mask.selected[i]);
  for (const name of selected) {
    if (!edit.shifts.has(name)) throw new Error(`applySelectedShifts: module ${name} is selected but has no shift`);
  }
  addShifts(model, edit.shifts, selected, scale);
  return selected;
}

/** HiEdit's policy pair over a fixed ordered list of edit modules. */
export class HiEditPolicy {
  readonly config: PolicyConfig;
  readonly modules: readonly ModuleDescriptor[];
  readonly params = new ParamSet();
  readonly groups = new Map<string, LowLevelGroup>();
  readonly high: HiNet | null;

  /**
   * @param modules edit modules in policy order (the HiNet concatenates encodings in this order).
   * @param config hyper-parameters; `high: null` gives the RLEdit/MEND configuration.
   */
  constructor(modules: readonly ModuleDescriptor[], config: PolicyConfigInput = {}) {
    const seen = new Set<string>();
    for (const m of modules) {
      if (seen.has(m.name)) throw new Error(`policy: module ${m.name} is listed twice`);
      seen.add(m.name);
      if (!(Number.isInteger(m.dIn) && m.dIn > 0 && Number.isInteger(m.dOut) && m.dOut > 0)) {
        throw new Error(`policy: module ${m.name} has invalid shape ${m.dIn}x${m.dOut}`);
      }
    }
    this.config = resolvePolicyConfig(config, modules.length);
    this.modules = modules.map((m) => ({ name: m.name, dIn: m.dIn, dOut: m.dOut, layer: m.layer }));
    const rng = new SeededRandom(this.config.seed);
    const byKey = new Map<string, ModuleDescriptor[]>();
    for (const m of this.modules) {
      const k = shapeKey(m);
      if (!byKey.has(k)) byKey.set(k, []);
      byKey.get(k)!.push(m);
    }
    for (const [k, ms] of byKey) this.groups.set(k, new LowLevelGroup(this.config.low, ms, this.params, rng.fork(`low.${k}`)));
    this.high = this.config.high ? new HiNet(this.config.high, this.modules, this.params, rng.fork('high')) : null;
  }

  /** Module names in policy order. */
  moduleNames(): string[] {
    return this.modules.map((m) => m.name);
  }

  /** Low-level parameter names (prefix `low.`). */
  lowParamNames(): string[] {
    return this.params.namesWithPrefix('low.');
  }

  /** High-level parameter names (prefix `high.`). */
  highParamNames(): string[] {
    return this.params.namesWithPrefix('high.');
  }

  private group(m: ModuleDescriptor): LowLevelGroup {
    return this.groups.get(shapeKey(m))!;
  }

  /** Check that `features` covers every module with consistent shapes; a clear error otherwise. */
  checkFeatures(features: ReadonlyMap<string, EditFeatures>): void {
    let T = -1;
    for (const m of this.modules) {
      const f = features.get(m.name);
      if (!f) throw new Error(`policy: trace has no features for module ${m.name}`);
      const [tk, dk] = f.keys.shape;
      const [tg, dg] = f.valueGrads.shape;
      if (dk !== m.dIn || dg !== m.dOut || tk !== tg) {
        throw new Error(`policy: features of ${m.name} have keys ${tk}x${dk} and value grads ${tg}x${dg}, expected Tx${m.dIn} and Tx${m.dOut}`);
      }
      if (tk < 1) throw new Error(`policy: features of ${m.name} have no traced positions`);
      if (T >= 0 && tk !== T && this.high) throw new Error(`policy: modules traced at different numbers of positions (${T} vs ${tk})`);
      T = tk;
    }
  }

  /** Fold a trace into the normalizers (outside any gradient). */
  updateNormalizers(features: ReadonlyMap<string, EditFeatures>, opts: { low: boolean; high: boolean }): void {
    this.checkFeatures(features);
    if (opts.low) for (const m of this.modules) {
      const f = features.get(m.name)!;
      this.group(m).updateNormalizer(f.keys, f.valueGrads);
    }
    if (opts.high && this.high) this.high.updateNormalizers(features);
  }

  /** Differentiable forward pass; call inside tf.tidy or a gradient function (tensors are not kept). */
  forward(features: ReadonlyMap<string, EditFeatures>, ridgeForm: RidgeForm = 'auto'): PolicyForward {
    const shifts = this.modules.map((m) => {
      const f = features.get(m.name)!;
      return this.group(m).shift(m.name, f.keys, f.valueGrads, ridgeForm);
    });
    const gate = this.high ? this.high.select(this.high.scores(features)) : null;
    return { shifts, gate };
  }

  /**
   * One inference pass (spec §3.2-3.3): shifts for all modules and the selection. This is what an editor
   * calls per edit; the returned tensors belong to the caller (see disposeShifts).
   */
  computeEdit(features: ReadonlyMap<string, EditFeatures>, opts: PolicyPassOptions = {}): PolicyEdit {
    this.checkFeatures(features);
    if (opts.updateLowNormalizers || opts.updateHighNormalizers) {
      this.updateNormalizers(features, { low: !!opts.updateLowNormalizers, high: !!opts.updateHighNormalizers });
    }
    const M = this.modules.length;
    let scores = new Float32Array(M).fill(1);
    let selected: boolean[] = new Array<boolean>(M).fill(true);
    const shifts: ShiftSet = new Map();
    tf.tidy(() => {
      const out = this.forward(features, opts.ridgeForm);
      this.modules.forEach((m, i) => {
        const s = out.shifts[i];
        shifts.set(m.name, { kind: 'lowRank', left: tf.keep(s.left), right: tf.keep(s.right) });
      });
      if (out.gate) {
        scores = Float32Array.from(out.gate.scores.dataSync() as Float32Array);
        selected = Array.from(out.gate.hard, (h) => h > 0.5);
      }
    });
    return { shifts, mask: { modules: this.moduleNames(), scores, selected } };
  }

  /** Whether the policy preconditions its shifts with key covariances (config `low.keyPreconditioner`). */
  get usesKeyPreconditioner(): boolean {
    return this.config.low.keyPreconditioner !== undefined;
  }

  /**
   * True when the preconditioner is configured and every module's key covariance is set (training estimates them);
   * before that, shifts are the plain, unpreconditioned ones.
   */
  get keyPreconditionerReady(): boolean {
    return this.usesKeyPreconditioner && !this.needsKeyCovariances();
  }

  /** True when the preconditioner is configured but some module's key covariance has not been set yet. */
  needsKeyCovariances(): boolean {
    return this.usesKeyPreconditioner && this.modules.some((m) => !this.group(m).hasKeyCovariance(m.name));
  }

  /**
   * Set the frozen key covariances, one row-major (dIn, dIn) matrix per module; every module must be covered.
   * Errors name `source` and the module.
   */
  setKeyCovariances(covs: ReadonlyMap<string, ArrayLike<number>>, source = 'key preconditioner'): void {
    for (const m of this.modules) if (!covs.has(m.name)) throw new Error(`${source}: key covariance of module ${m.name} is missing`);
    for (const n of covs.keys()) if (!this.modules.some((m) => m.name === n)) throw new Error(`${source}: key covariance given for ${n}, which the policy does not edit`);
    for (const m of this.modules) this.group(m).setKeyCovariance(m.name, covs.get(m.name)!, source);
  }

  /**
   * Estimate (under the model's current weights) and set the key covariances from the training requests' edit and
   * locality prompts (see covarianceTuples for why those).
   */
  estimateKeyCovariances(model: Pick<EditableModel, 'trace' | 'module'>, requests: readonly TokenizedEditRequest[]): void {
    if (!this.usesKeyPreconditioner) throw new Error('policy: estimateKeyCovariances needs low.keyPreconditioner in the policy config');
    this.setKeyCovariances(estimateKeyCovariances(model, this.moduleNames(), covarianceTuples(requests)));
  }

  /** Host copies of the set key covariances, named `keycov.<module>`, in policy order (empty when none are set). */
  keyCovariancesToHost(): HostParam[] {
    const out: HostParam[] = [];
    for (const m of this.modules) {
      const c = this.group(m).keyCovariance(m.name);
      if (c) out.push({ name: `${KEY_COV_PREFIX}${m.name}`, shape: [m.dIn, m.dIn], data: c });
    }
    return out;
  }

  /**
   * Restore key covariances from named host tensors (`keycov.<module>`), as written by keyCovariancesToHost.
   * None present: nothing happens (a policy saved before training). Some present: all must be, and only for a
   * preconditioned policy.
   */
  keyCovariancesFromHost(lookup: ReadonlyMap<string, HostParam>, source: string): void {
    const found = [...lookup.keys()].filter((n) => n.startsWith(KEY_COV_PREFIX));
    if (found.length === 0) return;
    if (!this.usesKeyPreconditioner) throw new Error(`${source}: holds key covariances (${found[0]}, ...) but the policy config has no low.keyPreconditioner`);
    const covs = new Map<string, ArrayLike<number>>();
    for (const n of found) {
      const t = lookup.get(n)!;
      const name = n.slice(KEY_COV_PREFIX.length);
      const m = this.modules.find((x) => x.name === name);
      if (m && (t.shape.length !== 2 || t.shape[0] !== m.dIn || t.shape[1] !== m.dIn)) {
        throw new Error(`${source}: ${n} has shape ${JSON.stringify(t.shape)}, expected [${m.dIn},${m.dIn}]`);
      }
      covs.set(name, t.data);
    }
    this.setKeyCovariances(covs, source);
  }

  /** Normalizer states as JSON (for policy.json). */
  normalizersToJSON(): { low: Record<string, object>; high: Record<string, object> } {
    const low: Record<string, object> = {};
    for (const [k, g] of this.groups) low[k] = g.normalizer.toJSON();
    const high: Record<string, object> = {};
    if (this.high) for (const [k, n] of this.high.normalizers) high[k] = n.toJSON();
    return { low, high };
  }

  /** Restore normalizer states written by normalizersToJSON. */
  normalizersFromJSON(o: { low?: Record<string, object>; high?: Record<string, object> }, source: string): void {
    for (const [k, g] of this.groups) {
      const s = o.low?.[k];
      if (!s) throw new Error(`${source}: normalizer state of low-level group ${k} is missing`);
      const n = normalizerFrom(s, `${source}: low-level normalizer ${k}`, g.width);
      g.normalizer.dispose();
      g.normalizer = n;
    }
    if (this.high) {
      for (const [k, old] of [...this.high.normalizers]) {
        const s = o.high?.[k];
        if (!s) throw new Error(`${source}: normalizer state of HiNet group ${k} is missing`);
        const n = normalizerFrom(s, `${source}: HiNet normalizer ${k}`, widthOf(k));
        old.dispose();
        this.high.normalizers.set(k, n);
      }
    }
  }

  /** Release every tensor (parameters and normalizer statistics). */
  dispose(): void {
    for (const g of this.groups.values()) g.dispose();
    this.high?.dispose();
    this.params.dispose();
  }
}

function widthOf(key: string): number {
  const [a, b] = key.split('x').map(Number);
  return a + b;
}


function normalizerFrom(state: object, source: string, width: number): RunningNormalizer {
  let n: RunningNormalizer;
  try {
    n = RunningNormalizer.fromJSON(state);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  const json = n.toJSON() as { dim?: number; mean?: number[] };
  const dim = json.dim ?? json.mean?.length;
  if (dim !== undefined && dim !== width) {
    n.dispose();
    throw new Error(`${source}: state has width ${dim}, expected ${width}`);
  }
  return n;
}
