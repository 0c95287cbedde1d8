/**
 * The settings schema shared by the policy methods (hiedit, hiedit-reference, rledit, mend): what the user may give,
 * the resolved object editor.json records, and the pure resolution from one to the other. Each method's own
 * `settings.ts` supplies a PolicyMethod (its trainer preset, whether it has a gate, its creation defaults).
 */
import {
  CalibrationSettings, DEFAULT_TRAINER_OPTIONS, PolicyConfig, PolicyConfigInput, REFERENCE_TRAINER_OPTIONS, resolveCalibration, resolvePolicyConfig,
  ShiftStyle, TrainerOptions, validateOptions,
} from '@hiedit/rl-hierarchy';
import type { EditableModel, ShiftSet, TokenizedEditRequest } from '@hiedit/tensor-core';
import { refuseUnknownFields, requireObject, SETTINGS_VERSION, SettingsInput, splitSettingsVersion } from '../schema';
import type { ModelShapeInfo } from '../shapes';
import { defaultMachineryApplies, foldMachinery, MachineryInput, MachineryPreset, resolveMachinery, trainerModeOf } from './machinery';
import { ModuleSelection, resolveSelection, SelectionInput, SelectionRule } from './selection';
import { EditModuleShape, moduleStepDefaults } from './sizeDefaults';

/** Settings of a policy editor as a user gives them (every field optional). */
export interface PolicyEditorSettings {
  /** Policy hyper-parameters (`high` is forced to null for methods without a gate). */
  readonly policy?: PolicyConfigInput;
  /** Trainer options over the method's preset (epochs, metaLr, backDepth, ...). */
  readonly trainer?: Partial<TrainerOptions>;
  /** Checkpoint the training state every this many steps (default 50). */
  readonly checkpointEvery?: number;
  /**
   * The edit-time machinery (calibration with its fallback and skip, key preconditioner, factor space) as one group:
   * `"hiedit"`, `"none"` or the parts (machinery.ts). Default: the method's own (HiEdit's for hiedit and the
   * ablations, none for the others).
   */
  readonly machinery?: MachineryInput;
  /**
   * Parameters of the method's module-selection rule (selection.ts): `seed` for random-k, `modules` for fixed-k,
   * `prior` for the gate (hiedit: the training split's module merits as a prior on its scores).
   */
  readonly selection?: SelectionInput;
}

/** Every trainer option but the ones a single run supplies (its seed, stop point, checkpointing and callback). */
export type ResolvedTrainerOptions = Omit<TrainerOptions, 'seed' | 'maxSteps' | 'checkpoint' | 'onProgress'>;

/** The resolved settings of a policy editor: what it runs with and editor.json records. */
export interface ResolvedPolicySettings {
  readonly settingsVersion: typeof SETTINGS_VERSION;
  /** The full policy configuration (rl-hierarchy's resolvePolicyConfig output). */
  readonly policy: PolicyConfig;
  /**
   * Every trainer option (defaults, the method's preset, the user's values). The seed is left out: each train() call
   * takes the run's, so a recorded one would only mislead.
   */
  readonly trainer: ResolvedTrainerOptions;
  readonly checkpointEvery: number;
  /** The module-selection rule; absent for a gate without a prior (hiedit, hiedit-reference) and for methods without a gate. */
  readonly selection?: ModuleSelection;
  /** Edit-time calibration of a reference-mode editor (its training never calibrates); absent otherwise. */
  readonly editCalibration?: CalibrationSettings;
  readonly [field: string]: unknown;
}

/** What distinguishes one policy method from another; each method folder defines one. */
export interface PolicyMethod {
  /** Registry key. */
  readonly kind: string;
  readonly summary: string;
  /** Whether the HiNet gate selects modules (false: every edit module is shifted). */
  readonly usesHighLevel: boolean;
  /** Whether the low-level normalizers keep updating at edit time (the authors' code does; spec §5). */
  readonly updateLowNormalizersAtEdit: boolean;
  /** Whether metaLr defaults to the size rule's value (false: the preset's value stands). */
  readonly sizeScaledMetaLr: boolean;
  /** Trainer options the method sets over DEFAULT_TRAINER_OPTIONS; `lowStyle` is the policy's shift style. */
  trainerPreset(lowStyle: ShiftStyle): Partial<TrainerOptions>;
  /** Method-specific creation defaults, filled before the size rule's (see withSizeDefaults). Pure. */
  creationDefaults?(s: PolicyEditorSettings, shapes: readonly EditModuleShape[]): PolicyEditorSettings;
  /** The edit-time machinery when the settings give none (absent: none of it; see machinery.ts). */
  readonly defaultMachinery?: MachineryPreset;
  /**
   * How the modules of an edit are chosen (selection.ts; default `gate`). Methods with another rule still train a
   * gate (they train exactly like hiedit) and ignore it at edit time.
   */
  readonly selection: SelectionRule;
  /** A rule supplied from outside the package (`selection: 'custom'`), e.g. the benchmark's oracle-k. */
  readonly customSelection?: CustomSelection;
}

/** A module-selection rule supplied with the method (see PolicyEditor.propose for the arguments). */
export type CustomSelection = (inp: CustomSelectionInput) => { scores: Float32Array; selected: boolean[] };

/** What a custom selection rule sees: the model (weights not to be changed), the request, the edit's shifts, k. */
export interface CustomSelectionInput {
  readonly model: EditableModel;
  readonly request: TokenizedEditRequest;
  readonly modules: readonly string[];
  readonly shifts: ShiftSet;
  readonly k: number;
  readonly calibration: CalibrationSettings | null;
}

/**
 * A PolicyMethod with the common choices filled in: low-level normalizers frozen at edit time, metaLr from the size
 * rule, no creation defaults of its own.
 */
export function policyMethod(m: Pick<PolicyMethod, 'kind' | 'summary' | 'usesHighLevel' | 'trainerPreset'> & Partial<PolicyMethod>): PolicyMethod {
  return { updateLowNormalizersAtEdit: false, sizeScaledMetaLr: true, selection: 'gate', ...m };
}

const SETTINGS_KEYS = ['policy', 'trainer', 'checkpointEvery', 'machinery', 'selection'];
/** Keys only a resolved (stored) object holds: the folded calibration of a reference-mode editor. */
const STORED_KEYS = [...SETTINGS_KEYS.filter((k) => k !== 'machinery'), 'editCalibration'];
const TRAINER_KEYS = Object.keys(DEFAULT_TRAINER_OPTIONS);
const DEFAULT_CHECKPOINT_EVERY = 50;

/**
 * Validates the user's settings (field names, checkpointEvery) without filling defaults. `true` as the trainer's
 * calibration means the default calibration; it is expanded here so the resolved object records the values.
 * `stored`: the settings come from editor.json (resolved: no `machinery`, maybe `editCalibration`).
 */
export function validatePolicySettings(kind: string, given: SettingsInput, stored = false): PolicyEditorSettings & { editCalibration?: CalibrationSettings } {
  const where = `${kind} settings`;
  refuseUnknownFields(given, stored ? STORED_KEYS : SETTINGS_KEYS, where);
  const policy = requireObject(given.policy ?? {}, where, 'policy');
  const trainer = requireObject(given.trainer ?? {}, where, 'trainer');
  const badTrainer = Object.keys(trainer).filter((k) => !TRAINER_KEYS.includes(k));
  if (badTrainer.length) throw new Error(`${where}: unknown trainer option(s) ${badTrainer.join(', ')}`);
  const every = given.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  if (!Number.isInteger(every) || (every as number) < 1) throw new Error(`${where}: checkpointEvery must be a positive integer`);
  const resolvedTrainer = trainer.calibration === undefined ? trainer
    : { ...trainer, calibration: resolveCalibration(trainer.calibration, `${where}: trainer`) };
  const editCalibration = given.editCalibration === undefined ? undefined : resolveCalibration(given.editCalibration, `${where}: editCalibration`) ?? undefined;
  return {
    policy: policy as PolicyConfigInput, trainer: resolvedTrainer as Partial<TrainerOptions>, checkpointEvery: every as number,
    ...(given.machinery !== undefined ? { machinery: given.machinery as MachineryInput } : {}),
    ...(given.selection !== undefined ? { selection: requireObject(given.selection, where, 'selection') as SelectionInput } : {}),
    ...(editCalibration ? { editCalibration } : {}),
  };
}

/**
 * Folds the edit-time machinery into the policy and trainer settings: the settings' own `machinery`, else the
 * method's default (for the MEND-style shift it was tuned for). Returns the settings without `machinery`, and the
 * edit-time-only calibration of a reference-mode editor.
 */
export function withMachinery(method: PolicyMethod, s: PolicyEditorSettings, shapes: readonly EditModuleShape[]): PolicyEditorSettings & { editCalibration?: CalibrationSettings } {
  const { machinery, ...rest } = s;
  const where = `${method.kind} settings`;
  const low = { ...(rest.policy?.low ?? {}) } as Record<string, unknown>;
  const input = machinery ?? (defaultMachineryApplies(low.style as ShiftStyle | undefined) ? method.defaultMachinery : undefined);
  if (input === undefined) return rest;
  const trainer = { ...(rest.trainer ?? {}) };
  const mode = trainerModeOf(method.trainerPreset((low.style as ShiftStyle | undefined) ?? 'mend'), trainer);
  const m = resolveMachinery(input, shapes, where);
  const f = foldMachinery(m, { low, trainer }, { mode, explicit: machinery !== undefined, where });
  return {
    ...rest, policy: { ...(rest.policy ?? {}), low: f.low as PolicyConfigInput['low'] }, trainer: f.trainer,
    ...(f.editCalibration ? { editCalibration: f.editCalibration } : {}),
  };
}

/**
 * Fills what the user left unset with the method's creation defaults, so they are recorded in editor.json: the
 * method's own (HiEdit's gate target), its edit-time machinery (withMachinery) and then the size-scaled step sizes
 * (see sizeDefaults.ts): initEta always, metaLr when the method asks for it (hiedit-reference keeps its preset, the
 * authors' meta_lr 1e-5).
 */
export function withSizeDefaults(method: PolicyMethod, s: PolicyEditorSettings, shapes: readonly EditModuleShape[], residual: number): PolicyEditorSettings & { editCalibration?: CalibrationSettings } {
  if (shapes.length === 0) return s;
  const d = moduleStepDefaults(shapes, residual);
  const m = withMachinery(method, method.creationDefaults ? method.creationDefaults(s, shapes) : s, shapes);
  const low = { ...(m.policy?.low ?? {}) };
  const trainer: Partial<TrainerOptions> = { ...(m.trainer ?? {}) };
  const policy: PolicyConfigInput = { ...(m.policy ?? {}), low: { ...low, initEta: low.initEta ?? d.initEta } };
  if (trainer.metaLr === undefined && method.sizeScaledMetaLr) trainer.metaLr = d.metaLr;
  return { ...m, policy, trainer };
}

/** The policy configuration input with the method's gate rule: a gated method always has one, the others never. */
function withGateRule(method: PolicyMethod, policy: PolicyConfigInput | undefined): PolicyConfigInput {
  const p = policy ?? {};
  const high = method.usesHighLevel ? (p.high === null || p.high === false ? {} : p.high ?? {}) : null;
  return { ...p, high };
}

/**
 * Every trainer option: the defaults, the reference schedule's when the mode is 'reference' (as PolicyTrainer merges
 * them), the method's preset, then the user's values; validated as the trainer will.
 */
export function resolveTrainerOptions(method: PolicyMethod, lowStyle: ShiftStyle, user: Partial<TrainerOptions>, where: string): ResolvedTrainerOptions {
  const preset = method.trainerPreset(lowStyle);
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...preset, ...user })) if (v !== undefined) given[k] = v;
  const modeDefaults = given.mode === 'reference' ? REFERENCE_TRAINER_OPTIONS : {};
  const { seed: _seed, ...full } = { ...DEFAULT_TRAINER_OPTIONS, ...modeDefaults, ...given } as TrainerOptions;
  try {
    validateOptions({ ...full, seed: 0 });
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  return full;
}

/**
 * Resolves a policy method's settings for a new editor. Pure. `seed` (the run's) becomes `policy.seed` unless the
 * settings give one, so runs with other seeds start from other policies.
 */
export function resolvePolicySettings(method: PolicyMethod, shapes: ModelShapeInfo, given: SettingsInput,
  options: { seed?: number } = {}): ResolvedPolicySettings {
  const where = `${method.kind} settings`;
  const validated = validatePolicySettings(method.kind, given);
  const s = withSizeDefaults(method, validated, shapes.modules, shapes.residual);
  const seeded = s.policy?.seed === undefined && options.seed !== undefined ? { ...s.policy, seed: options.seed } : s.policy;
  const policy = resolvePolicyConfig(withGateRule(method, seeded), shapes.modules.length);
  const trainer = resolveTrainerOptions(method, policy.low.style, s.trainer ?? {}, where);
  return resolvedObject(method, policy, trainer, s, shapes, where);
}

/** The resolved object; `selection` and `editCalibration` only where they say something (older files stay as they were). */
function resolvedObject(method: PolicyMethod, policy: PolicyConfig, trainer: ResolvedTrainerOptions,
  s: PolicyEditorSettings & { editCalibration?: CalibrationSettings }, shapes: ModelShapeInfo, where: string): ResolvedPolicySettings {
  if (!method.usesHighLevel && s.selection !== undefined) throw new Error(`${where}: field "selection" is for the gated methods; ${method.kind} shifts every edit module`);
  const resolved = resolveSelection(method.selection, s.selection, shapes.modules.map((m) => m.name), where);
  // A gate without a prior records no selection (what editor.json held before the rules existed).
  const selection = resolved.rule === 'gate' && !resolved.prior ? undefined : resolved;
  return {
    settingsVersion: SETTINGS_VERSION, policy, trainer, checkpointEvery: s.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY,
    ...(selection ? { selection } : {}),
    ...(s.editCalibration ? { editCalibration: s.editCalibration } : {}),
  };
}

/**
 * Reads a policy method's settings from editor.json. Fields a version-1 file lacks take DEFAULT_TRAINER_OPTIONS and
 * the preset, not the creation defaults (HiEdit's calibration, the size-scaled step sizes): an editor written before
 * those existed was trained without them. The policy section is informational; `load` replaces it with the saved
 * policy's own configuration.
 */
export function readStoredPolicySettings(method: PolicyMethod, shapes: ModelShapeInfo, stored: SettingsInput): ResolvedPolicySettings {
  const where = `${method.kind} settings`;
  const { rest } = splitSettingsVersion(stored, where);
  const s = validatePolicySettings(method.kind, rest, true);
  const policy = resolvePolicyConfig(withGateRule(method, s.policy), shapes.modules.length);
  const trainer = resolveTrainerOptions(method, policy.low.style, s.trainer ?? {}, where);
  return resolvedObject(method, policy, trainer, s, shapes, where);
}

/** A policy method's settings functions, as its settings module exports them. */
export interface PolicySettingsFunctions {
  /** Resolves the settings of a new editor (pure; see resolvePolicySettings). */
  resolve(given: SettingsInput, shapes: ModelShapeInfo, options?: { seed?: number }): ResolvedPolicySettings;
  /** Reads the settings recorded in editor.json (see readStoredPolicySettings). */
  readStored(stored: SettingsInput, shapes: ModelShapeInfo): ResolvedPolicySettings;
}

/** `resolve` and `readStored` bound to `method`. */
export function policySettingsFunctions(method: PolicyMethod): PolicySettingsFunctions {
  return {
    resolve: (given, shapes, options = {}) => resolvePolicySettings(method, shapes, given, options),
    readStored: (stored, shapes) => readStoredPolicySettings(method, shapes, stored),
  };
}
