/**
 * The policy-based methods (`hiedit`, `hiedit-reference`, `rledit`, `mend`): one adapter over
 * rl-hierarchy's HiEditPolicy and PolicyTrainer. The methods differ only in the policy configuration
 * (with or without the HiNet gate) and the trainer preset (mode, window depth D, accumulation).
 */
import * as fs from 'fs';
import * as path from 'path';
import { EditableModel, ParameterShift, TokenizedEditRequest, TracePositions } from '@hiedit/tensor-core';
import {
  calibrateSelection, DEFAULT_TRAINER_OPTIONS, disposeShifts, EditorKind, HiEditPolicy, loadPolicy, PolicyConfigInput, PolicyTrainer,
  presetTrainerOptions, presetUsesHighLevel, resolveCalibration, savePolicy, scaleShifts, SelectionCalibration, serializableOptions,
  TrainerOptions, TrainProgress as RlProgress,
} from '@hiedit/rl-hierarchy';
import { registerEditor } from './registry';
import { EditModuleShape, moduleStepDefaults, residualWidth } from './sizeDefaults';
import { Editor, EditorFactory, EditorTrainOptions, EditorTrainResult, ShiftProposal, TrainProgress } from './types';

/** Sub-directory of an editor directory holding the policy (policy.json + policy.safetensors). */
export const POLICY_SUBDIR = 'policy';
/** Sub-directory of an editor directory holding the resumable training state. */
export const TRAIN_STATE_SUBDIR = 'train-state';

/** Settings of a policy editor (recorded in editor.json). */
export interface PolicyEditorSettings {
  /** Policy hyper-parameters (`high` is forced to null for rledit and mend). */
  readonly policy?: PolicyConfigInput;
  /** Trainer options over the method's preset (epochs, metaLr, backDepth, ...). */
  readonly trainer?: Partial<TrainerOptions>;
  /** Checkpoint the training state every this many steps (default 50). */
  readonly checkpointEvery?: number;
}

const TRAINER_KEYS = new Set(Object.keys(DEFAULT_TRAINER_OPTIONS));
const SETTINGS_KEYS = ['policy', 'trainer', 'checkpointEvery'];

function resolveSettings(kind: EditorKind, s: Readonly<Record<string, unknown>>): PolicyEditorSettings {
  const unknown = Object.keys(s).filter((k) => !SETTINGS_KEYS.includes(k));
  if (unknown.length) throw new Error(`${kind} settings: unknown field(s) ${unknown.join(', ')} (known: ${SETTINGS_KEYS.join(', ')})`);
  const trainer = (s.trainer ?? {}) as Record<string, unknown>;
  const badTrainer = Object.keys(trainer).filter((k) => !TRAINER_KEYS.has(k));
  if (badTrainer.length) throw new Error(`${kind} settings: unknown trainer option(s) ${badTrainer.join(', ')}`);
  const every = s.checkpointEvery ?? 50;
  if (!Number.isInteger(every) || (every as number) < 1) throw new Error(`${kind} settings: checkpointEvery must be a positive integer`);
  // `true` in a settings file means the default calibration; it is resolved once here, so editor.json records the values.
  const resolved = trainer.calibration === undefined ? trainer : { ...trainer, calibration: resolveCalibration(trainer.calibration, `${kind} settings: trainer`) };
  return { policy: (s.policy ?? {}) as PolicyConfigInput, trainer: resolved as Partial<TrainerOptions>, checkpointEvery: every as number };
}

/**
 * HiEdit's default low level (docs/tuning.md, session 4; tuning worlds only). The network's factors are mapped back to
 * the module's own coordinates (`factorSpace: 'module'`), so the key preconditioner whitens the keys in the
 * coordinates its covariance was measured in: with lambda 1e-3 the shift is close to ROME's C^-1 k direction, which on
 * the world models changes 5x fewer unrelated answers per edit than the plain gradient direction. Every shift, in
 * training and at inference, is scaled to the smallest strength that makes its edit hold on the edit prompt with a
 * log-probability margin of 0.5 (calibration.ts's defaults). `keyPreconditioner: null`, `factorSpace: 'normalized'` and
 * `trainer.calibration: null` turn the parts off.
 */
export const HIEDIT_KEY_PRECONDITIONER = { lambda: 1e-3, rescale: 'frobenius' } as const;
export const HIEDIT_FACTOR_SPACE = 'module' as const;
export const HIEDIT_CALIBRATION = true;
/**
 * HiEdit's gate learns from counterfactual targets (each module calibrated and scored on its own) rather than the
 * straight-through signal, which under calibration judges an unselected module at the selected one's strength: on
 * tuning worlds 1-4 and the training files, 8 of 12 runs scored higher (docs/tuning.md, session 5).
 */
export const HIEDIT_GATE_TARGET = 'counterfactual' as const;
/**
 * HiEdit's initial step size with module-space factors on the world models (tuning worlds, session 4). Under
 * calibration it only sets where the strength search starts; the size rule's value (for normalized factors) would
 * start it about 2^10 too low.
 */
export const HIEDIT_MODULE_SPACE_INIT_ETA = 3;

/**
 * Widest edit-module input for which HiEdit turns the key preconditioner on by default. Its inverse is a float64
 * Cholesky solve of (dIn x dIn) per module when training starts (0.7 s at 768 on the reference machine, about a
 * minute and several hundred MB at 3072), and lambda was tuned on small models only: wider modules get the plain
 * (module-space) shift unless the settings ask for the preconditioner.
 */
export const KEY_PRECONDITIONER_DEFAULT_MAX_DIN = 1024;

/**
 * Fills what the user left unset with the method's defaults, so they are recorded in editor.json: the size-scaled
 * step sizes (see sizeDefaults.ts; hiedit-reference keeps its preset, the authors' meta_lr 1e-5, unless told
 * otherwise) and, for HiEdit with the MEND-style shift, its default low level (module-space factors, the key
 * preconditioner for modules up to KEY_PRECONDITIONER_DEFAULT_MAX_DIN wide, calibrated strength). The published
 * baselines (rledit, mend, hiedit-reference) keep the plain shift.
 */
export function withSizeDefaults(kind: EditorKind, s: PolicyEditorSettings, shapes: readonly EditModuleShape[], residual: number): PolicyEditorSettings {
  if (shapes.length === 0) return s;
  const d = moduleStepDefaults(shapes, residual);
  const low = { ...(s.policy?.low ?? {}) };
  const trainer: Partial<TrainerOptions> = { ...(s.trainer ?? {}) };
  if (kind === 'hiedit' && (low.style ?? 'mend') === 'mend') {
    if (low.factorSpace === undefined) low.factorSpace = HIEDIT_FACTOR_SPACE;
    if (low.factorSpace === 'module' && low.initEta === undefined) low.initEta = HIEDIT_MODULE_SPACE_INIT_ETA;
    if (low.keyPreconditioner === undefined && Math.max(...shapes.map((m) => m.dIn)) <= KEY_PRECONDITIONER_DEFAULT_MAX_DIN) {
      low.keyPreconditioner = { ...HIEDIT_KEY_PRECONDITIONER };
    }
    if (trainer.calibration === undefined) trainer.calibration = resolveCalibration(HIEDIT_CALIBRATION);
    const adaptive = typeof s.policy?.high === 'object' && s.policy.high !== null && s.policy.high.adaptive === true;
    if (trainer.gateTarget === undefined && !adaptive) trainer.gateTarget = HIEDIT_GATE_TARGET;
  }
  const policy: PolicyConfigInput = { ...(s.policy ?? {}), low: { ...low, initEta: low.initEta ?? d.initEta } };
  if (trainer.metaLr === undefined && kind !== 'hiedit-reference') trainer.metaLr = d.metaLr;
  return { ...s, policy, trainer };
}

class PolicyEditor implements Editor {
  constructor(
    readonly kind: EditorKind,
    readonly policy: HiEditPolicy,
    private readonly s: PolicyEditorSettings,
  ) {}

  get modules(): readonly string[] {
    return this.policy.moduleNames();
  }

  private trainerOptions(): Partial<TrainerOptions> {
    // The preset depends on the low-level style (the MEND-style reference run zeroes its low-level gradient each step).
    return { ...presetTrainerOptions(this.kind, this.policy.config.low.style), ...(this.s.trainer ?? {}) };
  }

  /**
   * The fully resolved settings: every trainer option (defaults, the method's preset, the user's values), so that
   * editor.json and the benchmark's cache keys change when a default does. An editor.json written before this
   * (user options only) still loads: options it lacks take the current defaults.
   */
  settings(): Record<string, unknown> {
    const trainer = serializableOptions({ ...DEFAULT_TRAINER_OPTIONS, ...this.trainerOptions() } as TrainerOptions);
    // The seed is the one each train() call is given (the run's), so a recorded default would only mislead.
    delete trainer.seed;
    return { policy: { low: this.policy.config.low, high: this.policy.config.high, seed: this.policy.config.seed },
      trainer, checkpointEvery: this.s.checkpointEvery };
  }

  propose(model: EditableModel, request: TokenizedEditRequest): ShiftProposal {
    const opts = this.trainerOptions();
    const positions: TracePositions = opts.positions ?? DEFAULT_TRAINER_OPTIONS.positions;
    const trace = model.trace(request.edit, this.modules, positions);
    try {
      // The authors' code keeps the low-level normalizers updating at test time (spec §5); ours freezes them.
      const edit = this.policy.computeEdit(trace.features, { updateLowNormalizers: this.kind === 'hiedit-reference' });
      let chosen = new Set(edit.mask.modules.filter((_, i) => edit.mask.selected[i]));
      let scale = 1;
      let tries: number | undefined;
      if (opts.calibration) {
        // An edit that holds at no strength up to the bound (on any module set the miss rule tries) is skipped
        // rather than applied for nothing.
        let c: SelectionCalibration;
        try {
          c = calibrateSelection(model, request.edit, edit, opts.calibration);
        } catch (e) {
          disposeShifts(edit.shifts);
          throw e;
        }
        chosen = new Set(c.selected);
        scale = c.scale;
        tries = c.tries;
      }
      const shifts = new Map<string, ParameterShift>();
      const dropped = new Map<string, ParameterShift>();
      for (const [name, s] of edit.shifts) (chosen.has(name) ? shifts : dropped).set(name, s);
      disposeShifts(dropped);
      scaleShifts(shifts, scale);
      const selected = edit.mask.modules.filter((n) => chosen.has(n));
      const scores: Record<string, number> = {};
      if (this.policy.high) edit.mask.modules.forEach((name, i) => { scores[name] = edit.mask.scores[i]; });
      return { shifts, selected, scores, ...(tries !== undefined ? { tries } : {}) };
    } finally {
      for (const f of trace.features.values()) {
        f.keys.dispose();
        f.valueGrads.dispose();
      }
    }
  }

  async train(model: EditableModel, stream: readonly TokenizedEditRequest[], options: EditorTrainOptions): Promise<EditorTrainResult> {
    const extra = (options.settings ?? {}) as Record<string, unknown>;
    const bad = Object.keys(extra).filter((k) => !TRAINER_KEYS.has(k));
    if (bad.length) throw new Error(`train ${this.kind}: unknown trainer option(s) ${bad.join(', ')}`);
    const total = stream.length;
    const onProgress = options.onProgress;
    const forward = (e: RlProgress): void => {
      if (!onProgress) return;
      if (e.kind === 'step') onProgress({ phase: 'train', epoch: e.epoch, step: e.position + 1, total, loss: e.loss,
        message: `selected ${e.selected.length}${e.advantage !== undefined ? `, advantage ${e.advantage.toFixed(4)}` : ''}` });
      else if (e.kind === 'epoch') onProgress({ phase: 'validate', epoch: e.epoch, step: total, total, loss: e.validation ?? e.meanLoss,
        message: `mean loss ${e.meanLoss.toFixed(4)}${e.validation !== undefined ? `, validation ${e.validation.toFixed(4)}` : ''}` });
      else if (e.kind === 'checkpoint') onProgress({ phase: 'checkpoint', epoch: -1, step: e.step, total, message: e.dir });
      else onProgress({ phase: 'done', epoch: e.epoch, step: total, total, message: `early stop, best validation ${e.best}` });
    };
    const dir = options.checkpointDir;
    if (dir) fs.mkdirSync(dir, { recursive: true });
    const trainer = new PolicyTrainer(model, this.policy, {
      ...this.trainerOptions(), ...(extra as Partial<TrainerOptions>), seed: options.seed,
      ...(options.stopAfter !== undefined ? { maxSteps: options.stopAfter } : {}),
      ...(dir ? { checkpoint: { dir, everySteps: this.s.checkpointEvery ?? 50 } } : {}),
      onProgress: forward,
    });
    try {
      if (options.resume) {
        if (!dir) throw new Error(`train ${this.kind}: resume needs a checkpoint directory`);
        if (!fs.existsSync(path.join(dir, 'train-state.json'))) {
          throw new Error(`train ${this.kind}: nothing to resume in ${dir} (no train-state.json)`);
        }
        trainer.loadState(dir);
      }
      const r = trainer.train(stream, options.validation ?? []);
      return { steps: r.steps, epochs: r.epochsCompleted, seconds: r.seconds, finished: r.status === 'done',
        details: { stoppedEarly: r.stoppedEarly, ...(r.bestValidation !== undefined ? { bestValidation: r.bestValidation } : {}) } };
    } finally {
      trainer.dispose();
    }
  }

  save(dir: string): void {
    const p = path.join(dir, POLICY_SUBDIR);
    fs.mkdirSync(p, { recursive: true });
    savePolicy(this.policy, p);
  }

  dispose(): void {
    this.policy.dispose();
  }
}

function policyFactory(kind: EditorKind, summary: string): EditorFactory {
  return {
    kind, summary, trainable: true,
    create(model, modules, settings) {
      const s = withSizeDefaults(kind, resolveSettings(kind, settings), modules.map((n) => model.module(n)), residualWidth(model.modules));
      const high = presetUsesHighLevel(kind) ? (s.policy?.high === null || s.policy?.high === false ? {} : s.policy?.high ?? {}) : null;
      const policy = new HiEditPolicy(modules.map((n) => model.module(n)), { ...s.policy, high });
      return new PolicyEditor(kind, policy, s);
    },
    load(dir, model, modules, settings) {
      const s = resolveSettings(kind, settings);
      const policy = loadPolicy(path.join(dir, POLICY_SUBDIR), (n) => model.module(n));
      const names = policy.moduleNames();
      if (names.length !== modules.length || names.some((n, i) => n !== modules[i])) {
        policy.dispose();
        throw new Error(`editor directory ${dir}: policy modules ${names.join(', ')} differ from editor.json's ${modules.join(', ')}`);
      }
      if (presetUsesHighLevel(kind) !== (policy.high !== null)) {
        policy.dispose();
        throw new Error(`editor directory ${dir}: a ${kind} editor ${presetUsesHighLevel(kind) ? 'needs' : 'must not have'} a high-level policy`);
      }
      return new PolicyEditor(kind, policy, s);
    },
  };
}

/** The policy-based factories, registered at module load. */
export const policyFactories: readonly EditorFactory[] = [
  policyFactory('hiedit', 'HiEdit (default mode): HiNet selects k modules, the low-level network writes their shifts'),
  policyFactory('hiedit-reference', 'HiEdit as the authors\' code trains it (reference mode, for parity)'),
  policyFactory('rledit', 'RLEdit: the same low-level network on every edit module, no high-level policy'),
  policyFactory('mend', 'MEND: no high-level policy, no back-tracking window (D = 1), its own training'),
];
for (const f of policyFactories) registerEditor(f);
