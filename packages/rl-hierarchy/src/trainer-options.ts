/**
 * Trainer options, their defaults and the named configurations (hiedit, hiedit-reference, rledit, mend).
 */
import { describeValue, type TracePositions } from '@hiedit/tensor-core';
import type { PolicyConfigInput, ShiftStyle } from './config';
import type { GeneralizationTuples } from './loss';
import { resolveCalibration, type CalibrationSettings } from './calibrate';

/** `hiedit`: exact in-graph gradients (default). `reference`: the authors' schedule, for parity. */
export type TrainMode = 'hiedit' | 'reference';

/** How the HiNet gate learns in hiedit mode (TrainerOptions.gateTarget). */
export type GateTarget = 'straightThrough' | 'counterfactual' | 'reinforce';
/** Every gate target, in the order error messages list them. */
export const GATE_TARGETS: readonly GateTarget[] = ['straightThrough', 'counterfactual', 'reinforce'];

/** The baseline of the REINFORCE gate target (TrainerOptions.reinforceBaseline). */
export type ReinforceBaseline = 'mean' | 'all';
/** Every REINFORCE baseline, in the order error messages list them. */
export const REINFORCE_BASELINES: readonly ReinforceBaseline[] = ['mean', 'all'];

/** Trainer options; every field has a default (see DEFAULT_TRAINER_OPTIONS / REFERENCE_TRAINER_OPTIONS). */
export interface TrainerOptions {
  mode: TrainMode;
  /** Passes over the training stream (the model is reset to its base weights at each epoch start). */
  epochs: number;
  /** hiedit: Adam steps every `updateEvery` requests on the clipped mean gradient. Ignored by `reference`. */
  updateEvery: number;
  /** D: number of most recent requests (current one included) in the back-tracking window; 1 = MEND. */
  backDepth: number;
  /** gamma of the time decay gamma^(t-j). */
  gamma: number;
  locCoef: number;
  regCoef: number;
  /** Which tuples the generalization term uses (default: paraphrases, the edit tuple when there are none). */
  genOn: GeneralizationTuples;
  /** Adam learning rate (of the low level, and of the gate unless `gateLr` is set). */
  metaLr: number;
  /**
   * Adam learning rate of the high-level policy's parameters (`high.*`); null: `metaLr`, as before this option
   * existed. The two levels learn different things at different speeds: metaLr is scaled down with the edited modules'
   * width for the hypernetwork's sake (about 2e-5 at d_in 512), and at that rate a gate barely moves from its random
   * initialization in a few dozen Adam steps.
   */
  gateLr: number | null;
  beta1: number;
  beta2: number;
  /** Global-norm clip of the gradient (reference: of the running accumulated gradient, each step). */
  clipNorm: number;
  /** Seed of every random choice of the trainer (stream shuffling). */
  seed: number;
  /** Shuffle the training stream at each epoch (seeded). */
  shuffle: boolean;
  /** Traced positions (spec §3.1). */
  positions: TracePositions;
  /**
   * Edit-strength calibration (calibrate.ts), hiedit mode only: every shift, in training and at inference, is scaled
   * to the smallest strength that makes its edit hold on the edit prompt, so the policy is trained on the edits it
   * will make. null: the shift as the network proposes it. Accepts `true` for the defaults.
   */
  calibration: CalibrationSettings | null;
  /**
   * How the HiNet gate learns (hiedit mode). 'straightThrough' (the spec's): the model losses reach the gate through
   * the straight-through mask, a first-order signal that, under calibration, judges every unselected module's shift
   * at the selected modules' strength. 'counterfactual': each module's shift is calibrated and scored on its own
   * (the same window loss and regularizer), and the gate's scores are trained by cross-entropy towards the k
   * modules that scored best; the model losses then reach only the low level. Costs one calibration and one window
   * loss per module per step. 'reinforce': `reinforceSamples` module sets of the gate's k are drawn from softmax of its
   * scores (seeded), each scored as the edit it would be (at its own calibrated strength; window loss + regularizer),
   * and the gate gets the REINFORCE gradient of each set's advantage over `reinforceBaseline`; the model losses then
   * reach only the low level, which learns from the gate's top-k as always. Costs one calibration and one window loss
   * per distinct sampled set per step.
   */
  gateTarget: GateTarget;
  /** gateTarget 'reinforce': module sets sampled per step (at least 2 with the 'mean' baseline). */
  reinforceSamples: number;
  /**
   * gateTarget 'reinforce': what a sampled set's loss is compared with. 'mean': the mean loss of the step's samples;
   * 'all': the loss with every module shifted (L_full, calibrated on all modules), the spec's advantage.
   */
  reinforceBaseline: ReinforceBaseline;
  /** Keep each step's selected shift applied (lifelong trajectory). false: every edit starts from the base model. */
  accumulateEdits: boolean;
  /** Compute L_full (all modules shifted) for the reported advantage L_sel - L_full (needs a high-level policy). */
  computeBaseline: boolean;
  /** reference, authors' MEND variant: the low-level gradient is zeroed every step, so only the last step counts. */
  zeroLowLevelGradEachStep: boolean;
  /** Update the HiNet normalizers during training (the authors' code never does). */
  updateHighNormalizers: boolean;
  /** Epochs without validation improvement before stopping (needs a validation stream). */
  patience: number;
  /** Stop (resumably) once this many steps have been taken in total. */
  maxSteps?: number;
  /** Write the full training state to `dir` every `everySteps` steps and when training stops. */
  checkpoint?: { dir: string; everySteps: number };
  /** Progress callback. */
  onProgress?: (e: TrainProgress) => void;
}

/** Progress events. */
export type TrainProgress =
  | {
      kind: 'step';
      epoch: number;
      /** Global step count after this step. */
      step: number;
      /** Position in the epoch's stream order. */
      position: number;
      requestId: string;
      /** L_sel: generalization + loc_coef * locality + regularizer (the low-level objective). */
      loss: number;
      gen: number;
      loc: number;
      reg: number;
      /** L_full and the advantage L_sel - L_full when computed. */
      full?: number;
      advantage?: number;
      /** Modules shifted by this edit. */
      selected: string[];
      /** Global norm of this step's gradient (before clipping). */
      gradNorm: number;
      /** Whether Adam stepped after this request. */
      updated: boolean;
    }
  | { kind: 'epoch'; epoch: number; meanLoss: number; validation?: number; best?: number; improved?: boolean }
  | { kind: 'checkpoint'; dir: string; step: number }
  | { kind: 'early-stop'; epoch: number; best: number };

/** Outcome of `train`. */
export interface TrainResult {
  /** 'done': all epochs (or early stop); 'maxSteps': paused, resumable. */
  status: 'done' | 'maxSteps';
  steps: number;
  epochsCompleted: number;
  bestValidation?: number;
  stoppedEarly: boolean;
  seconds: number;
}

/** Defaults of the `hiedit` mode (the spec's numbers where they apply; update_every 4, 3 epochs). */
export const DEFAULT_TRAINER_OPTIONS: Omit<TrainerOptions, 'maxSteps' | 'checkpoint' | 'onProgress'> = {
  mode: 'hiedit',
  epochs: 3,
  updateEvery: 4,
  backDepth: 10,
  gamma: 0.95,
  locCoef: 1,
  regCoef: 1e-2,
  genOn: 'paraphrases',
  metaLr: 1e-4,
  gateLr: null,
  beta1: 0.9,
  beta2: 0.999,
  clipNorm: 1,
  seed: 0,
  shuffle: true,
  positions: 'all',
  calibration: null,
  gateTarget: 'straightThrough',
  reinforceSamples: 4,
  reinforceBaseline: 'mean',
  accumulateEdits: true,
  computeBaseline: true,
  zeroLowLevelGradEachStep: false,
  updateHighNormalizers: true,
  patience: 2,
};

/** The authors' schedule (spec §5): one epoch, Adam once at its end with meta_lr 1e-5, HiNet normalizer frozen. */
export const REFERENCE_TRAINER_OPTIONS: Partial<TrainerOptions> = {
  mode: 'reference',
  epochs: 1,
  metaLr: 1e-5,
  shuffle: false,
  updateHighNormalizers: false,
  computeBaseline: true,
};

/** Named configurations the editor exposes; combine with a matching policy config (see presetPolicyConfig). */
export type EditorKind = 'hiedit' | 'hiedit-reference' | 'rledit' | 'mend';

/**
 * Trainer options of a named configuration. RLEdit: same low-level network, all modules (build the policy with
 * `high: null`), same window. MEND: D = 1 (no window), edits do not accumulate, all modules.
 * `lowStyle` is the policy's low-level shift style (default 'mend'): the authors' MEND-style low level zeroes its
 * gradient every step in reference mode (spec §5), their MALMEN-style one does not.
 */
export function presetTrainerOptions(kind: EditorKind, lowStyle: ShiftStyle = 'mend'): Partial<TrainerOptions> {
  switch (kind) {
    case 'hiedit':
      return { mode: 'hiedit' };
    case 'hiedit-reference':
      return { ...REFERENCE_TRAINER_OPTIONS, zeroLowLevelGradEachStep: lowStyle === 'mend' };
    case 'rledit':
      return { mode: 'hiedit', computeBaseline: false };
    case 'mend':
      return { mode: 'hiedit', backDepth: 1, accumulateEdits: false, computeBaseline: false };
    default:
      throw new Error(`unknown editor kind ${String(kind)}`);
  }
}

/** Whether a named configuration uses the high-level policy (rledit and mend shift every module). */
export function presetUsesHighLevel(kind: EditorKind): boolean {
  return kind === 'hiedit' || kind === 'hiedit-reference';
}

/** Policy configuration of a named configuration: rledit and mend drop the high-level policy. */
export function presetPolicyConfig(kind: EditorKind, base: PolicyConfigInput = {}): PolicyConfigInput {
  presetTrainerOptions(kind);
  return presetUsesHighLevel(kind) ? { ...base, high: base.high === null || base.high === false ? {} : base.high } : { ...base, high: null };
}

/** Throw a clear error naming the first invalid option. */
export function validateOptions(o: TrainerOptions): void {
  const bad = (f: string, why: string): never => {
    throw new Error(`trainer options: ${f} ${why}`);
  };
  if (o.mode !== 'hiedit' && o.mode !== 'reference') bad('mode', `must be 'hiedit' or 'reference', got ${String(o.mode)}`);
  for (const f of ['epochs', 'updateEvery', 'backDepth', 'patience'] as const) {
    if (!Number.isInteger(o[f]) || o[f] < 1) bad(f, `must be a positive integer, got ${describeValue(o[f])}`);
  }
  for (const f of ['gamma', 'locCoef', 'regCoef', 'metaLr', 'clipNorm', 'beta1', 'beta2'] as const) {
    if (typeof o[f] !== 'number' || !Number.isFinite(o[f]) || o[f] < 0) bad(f, `must be a finite non-negative number, got ${describeValue(o[f])}`);
  }
  if (o.gateLr !== null && (typeof o.gateLr !== 'number' || !Number.isFinite(o.gateLr) || o.gateLr < 0)) {
    bad('gateLr', `must be null or a finite non-negative number, got ${describeValue(o.gateLr)}`);
  }
  if (!Number.isInteger(o.seed)) bad('seed', `must be an integer, got ${describeValue(o.seed)}`);
  if (!['paraphrases', 'edit', 'both'].includes(o.genOn)) bad('genOn', `must be 'paraphrases', 'edit' or 'both', got ${String(o.genOn)}`);
  if (o.positions !== 'all' && o.positions !== 'ans') bad('positions', `must be 'all' or 'ans', got ${String(o.positions)}`);
  if (o.calibration !== null) {
    if (o.mode !== 'hiedit') bad('calibration', 'is a hiedit-mode option (reference mode reproduces the authors\' schedule)');
    resolveCalibration(o.calibration, 'trainer options');
  }
  if (!GATE_TARGETS.includes(o.gateTarget)) bad('gateTarget', `must be ${oneOf(GATE_TARGETS)}, got ${String(o.gateTarget)}`);
  if (o.gateTarget !== 'straightThrough' && o.mode !== 'hiedit') bad('gateTarget', `'${o.gateTarget}' is a hiedit-mode option`);
  if (!Number.isInteger(o.reinforceSamples) || o.reinforceSamples < 1) bad('reinforceSamples', `must be a positive integer, got ${describeValue(o.reinforceSamples)}`);
  if (!REINFORCE_BASELINES.includes(o.reinforceBaseline)) bad('reinforceBaseline', `must be ${oneOf(REINFORCE_BASELINES)}, got ${String(o.reinforceBaseline)}`);
  if (o.reinforceBaseline === 'mean' && o.reinforceSamples < 2) {
    bad('reinforceSamples', "must be at least 2 with reinforceBaseline 'mean' (one sample is its own mean: every advantage would be 0)");
  }
  if (o.clipNorm <= 0) bad('clipNorm', `must be > 0, got ${o.clipNorm}`);
  if (o.beta1 >= 1 || o.beta2 >= 1) bad('beta1/beta2', `must be < 1, got ${o.beta1}, ${o.beta2}`);
  if (o.maxSteps !== undefined && (!Number.isInteger(o.maxSteps) || o.maxSteps < 0)) bad('maxSteps', `must be a non-negative integer, got ${describeValue(o.maxSteps)}`);
  if (o.checkpoint && (!Number.isInteger(o.checkpoint.everySteps) || o.checkpoint.everySteps < 1)) bad('checkpoint.everySteps', 'must be a positive integer');
}

/** "'a', 'b' or 'c'" for an error message. */
function oneOf(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}
