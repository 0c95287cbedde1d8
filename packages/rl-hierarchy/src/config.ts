/**
 * Hyper-parameters of the policies (what a saved policy directory records in policy.json).
 */
import { describeValue } from '@hiedit/tensor-core';

/** How the low-level network turns its transformed keys and value gradients into a shift (spec §3.2). */
export type ShiftStyle = 'mend' | 'malmen';

/** Low-level (hypernetwork) hyper-parameters, shared by every shape group. */
export interface LowLevelConfig {
  /** 'mend': dW = -eta K~^T G~; 'malmen': ridge solve with learned per-module lambda. */
  readonly style: ShiftStyle;
  /** Rank r of each residual block (clamped to the feature width D = dIn + dOut). */
  readonly rank: number;
  /** Number of residual blocks. */
  readonly blocks: number;
  /** Initial per-module step size eta (> 0; the trained parameter is log(eta), so eta stays positive). */
  readonly initEta: number;
  /** Initial per-module log ridge coefficient lambda (MALMEN style only). */
  readonly initLogLambda: number;
  /** Standard deviation of the random-normal init of A, as a multiple of 1/sqrt(D). */
  readonly initScaleA: number;
  /**
   * Floor of the running normalizer's standard deviation. Value gradients of larger models are small
   * (1e-4 and below), so the floor must sit well under them or they are not normalized at all.
   */
  readonly normEps: number;
  /**
   * Opt-in key-covariance preconditioner of the MEND-style left factor (see key-precond.ts). Absent: off (and absent
   * from the resolved config, so configurations without it serialize exactly as before it existed).
   */
  readonly keyPreconditioner?: KeyPreconditionerConfig;
  /**
   * Coordinates of the MEND-style factors. Absent (default): the network's outputs (K~, G~) are used as they come
   * out, in the normalizer's coordinates. 'module': they are mapped back through the normalizer (k = k~ * std + mean),
   * so an untrained (identity) network gives the module's own gradient K^T G, and the key preconditioner whitens
   * keys in the coordinates its covariance was measured in. Absent from the resolved config when not set, so
   * configurations without it serialize exactly as before it existed.
   */
  readonly factorSpace?: 'module';
}

/** Settings of the key-covariance preconditioner. */
export interface KeyPreconditionerConfig {
  /** Ridge as a fraction of the mean eigenvalue of C: left = (C + lambda * tr(C)/d * I)^-1 K~^T. Finite, > 0. */
  readonly lambda: number;
  /**
   * How the preconditioned left factor is rescaled. 'frobenius' (default): to the Frobenius norm of K~^T, so only
   * the direction changes. 'response': so the edit's own raw keys K see the same response norm ||K left||_F as
   * without the preconditioner (ROME fixes the magnitude on the edited key the same way); C^-1 shrinks the
   * component along common key directions, which under 'frobenius' also weakens the edit itself.
   */
  readonly rescale: KeyPreconditionerRescale;
}

/** User-facing preconditioner setting (`rescale` defaults to 'frobenius'). */
export type KeyPreconditionerInput = { lambda: number; rescale?: KeyPreconditionerRescale };

/** See KeyPreconditionerConfig.rescale. */
export type KeyPreconditionerRescale = 'frobenius' | 'response';

/** High-level (HiNet) hyper-parameters. */
export interface HighLevelConfig {
  /** Encoder width H. */
  readonly hidden: number;
  /** Number of modules selected per edit (fixed-k mode). Defaults to half of the modules. */
  readonly k: number;
  /**
   * Adaptive k: select the modules whose gate score exceeds a learned threshold (at least `minK`,
   * at most `maxK`), with an explicit sparsity reward -beta * (#selected / |M|) in the objective.
   */
  readonly adaptive: boolean;
  /** Sparsity reward weight (adaptive k only). */
  readonly beta: number;
  /** Bounds on the number of selected modules in adaptive mode. */
  readonly minK: number;
  readonly maxK: number;
  /** Epsilon of the encoder normalizer. */
  readonly normEps: number;
}

/** Full policy configuration. `high: null` is the RLEdit / MEND configuration (every module, no gate). */
export interface PolicyConfig {
  readonly low: LowLevelConfig;
  readonly high: HighLevelConfig | null;
  /** Seed of the parameter initialization. */
  readonly seed: number;
}

/** Defaults for small models; the authors' Llama-3 values are in the spec (§5). */
export const DEFAULT_LOW_LEVEL: LowLevelConfig = {
  style: 'mend',
  rank: 64,
  blocks: 2,
  initEta: 1e-3,
  initLogLambda: 0,
  initScaleA: 1,
  normEps: 1e-6,
};

/** Default HiNet settings; `k` is replaced by half the module count when not given. */
export const DEFAULT_HIGH_LEVEL: Omit<HighLevelConfig, 'k' | 'minK' | 'maxK'> = {
  hidden: 256,
  adaptive: false,
  beta: 0.1,
  normEps: 1e-6,
};

/** User-facing partial configuration. */
export interface PolicyConfigInput {
  low?: Omit<Partial<LowLevelConfig>, 'keyPreconditioner' | 'factorSpace'> & { keyPreconditioner?: KeyPreconditionerInput | null; factorSpace?: 'normalized' | 'module' | null };
  /** `null` or `false`: no high-level policy (all modules are shifted). */
  high?: Partial<HighLevelConfig> | null | false;
  seed?: number;
}

function checkPositiveInt(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`policy config: ${field} must be a positive integer, got ${describeValue(v)}`);
}

function checkFinite(v: number, field: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`policy config: ${field} must be a finite number, got ${describeValue(v)}`);
}

/** Validate the preconditioner setting; null/false/undefined mean off. Returns a fresh object (or null when off). */
function resolveKeyPreconditioner(v: unknown, style: ShiftStyle): KeyPreconditionerConfig | null {
  if (v === undefined || v === null || v === false) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`policy config: low.keyPreconditioner must be an object {"lambda": number, "rescale"?: "frobenius" | "response"} or null, got ${JSON.stringify(v)}`);
  const extra = Object.keys(v).filter((k) => k !== 'lambda' && k !== 'rescale');
  if (extra.length) throw new Error(`policy config: low.keyPreconditioner has unknown field(s) ${extra.join(', ')} (known: lambda, rescale)`);
  const rescale = (v as { rescale?: unknown }).rescale ?? 'frobenius';
  if (rescale !== 'frobenius' && rescale !== 'response') {
    throw new Error(`policy config: low.keyPreconditioner.rescale must be 'frobenius' or 'response', got ${JSON.stringify(rescale)}`);
  }
  const lambda = (v as { lambda?: unknown }).lambda;
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || !(lambda > 0)) {
    throw new Error(`policy config: low.keyPreconditioner.lambda must be a finite number > 0, got ${JSON.stringify(lambda)}`);
  }
  if (style !== 'mend') throw new Error(`policy config: low.keyPreconditioner applies to the 'mend' shift style only (low.style is '${style}')`);
  return { lambda, rescale };
}

/** Fill defaults and validate against the number of edit modules. */
export function resolvePolicyConfig(input: PolicyConfigInput, moduleCount: number): PolicyConfig {
  if (moduleCount < 1) throw new Error('policy config: at least one edit module is required');
  const low = { ...DEFAULT_LOW_LEVEL, ...(input.low ?? {}) } as Omit<LowLevelConfig, 'keyPreconditioner'> & { keyPreconditioner?: unknown };
  if (low.style !== 'mend' && low.style !== 'malmen') throw new Error(`policy config: low.style must be 'mend' or 'malmen', got ${String(low.style)}`);
  checkPositiveInt(low.rank, 'low.rank');
  if (!Number.isInteger(low.blocks) || low.blocks < 0) throw new Error(`policy config: low.blocks must be a non-negative integer, got ${describeValue(low.blocks)}`);
  checkFinite(low.initEta, 'low.initEta');
  if (!(low.initEta > 0)) throw new Error(`policy config: low.initEta must be > 0 (eta is parametrized as exp(logEta)), got ${low.initEta}`);
  checkFinite(low.initLogLambda, 'low.initLogLambda');
  checkFinite(low.initScaleA, 'low.initScaleA');
  checkFinite(low.normEps, 'low.normEps');
  if (!(low.normEps > 0)) throw new Error(`policy config: low.normEps must be > 0, got ${low.normEps}`);
  const kp = resolveKeyPreconditioner(low.keyPreconditioner, low.style);
  const fs = (low as { factorSpace?: unknown }).factorSpace;
  if (fs !== undefined && fs !== null && fs !== 'normalized' && fs !== 'module') {
    throw new Error(`policy config: low.factorSpace must be 'normalized' or 'module', got ${JSON.stringify(fs)}`);
  }
  if (fs === 'module' && low.style !== 'mend') throw new Error(`policy config: low.factorSpace applies to the 'mend' shift style only (low.style is '${low.style}')`);
  const { keyPreconditioner: _kp, factorSpace: _fs, ...lowRest } = low as typeof low & { factorSpace?: unknown };
  const lowResolved: LowLevelConfig = { ...lowRest, ...(kp ? { keyPreconditioner: kp } : {}), ...(fs === 'module' ? { factorSpace: 'module' as const } : {}) };
  let high: HighLevelConfig | null = null;
  if (input.high !== null && input.high !== false) {
    const h = input.high ?? {};
    const k = h.k ?? Math.max(1, Math.floor(moduleCount / 2));
    high = { ...DEFAULT_HIGH_LEVEL, minK: 1, maxK: moduleCount, ...h, k };
    checkPositiveInt(high.hidden, 'high.hidden');
    checkPositiveInt(high.k, 'high.k');
    if (high.k > moduleCount) throw new Error(`policy config: high.k = ${high.k} exceeds the number of edit modules (${moduleCount})`);
    checkPositiveInt(high.minK, 'high.minK');
    checkPositiveInt(high.maxK, 'high.maxK');
    if (high.minK > high.maxK || high.maxK > moduleCount) {
      throw new Error(`policy config: need 1 <= high.minK (${high.minK}) <= high.maxK (${high.maxK}) <= ${moduleCount}`);
    }
    checkFinite(high.beta, 'high.beta');
    checkFinite(high.normEps, 'high.normEps');
    if (!(high.normEps > 0)) throw new Error(`policy config: high.normEps must be > 0, got ${high.normEps}`);
  }
  const seed = input.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`policy config: seed must be an integer, got ${describeValue(seed)}`);
  return { low: lowResolved, high, seed };
}
