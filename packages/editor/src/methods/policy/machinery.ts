/**
 * The edit-time machinery every policy editor accepts as one group of options (`machinery` in its settings): strength
 * calibration (with the miss rule: skip, apply at the bound, or fall back to the next-ranked modules), the ROME-style
 * key preconditioner and the coordinates the low level writes its factors in (the preconditioner whitens keys in the
 * module's own ones). HiEdit defaults to all of it, the other methods to none of it; giving the same `machinery` to
 * every editor of a comparison puts them on equal footing.
 *
 * The group is folded into the settings the parts have always lived in (`trainer.calibration`, `policy.low`), so an
 * editor resolved without it records exactly what it recorded before the group existed.
 */
import { CalibrationSettings, DEFAULT_TRAINER_OPTIONS, KeyPreconditionerInput, resolveCalibration, ShiftStyle, TrainerOptions } from '@hiedit/rl-hierarchy';
import { refuseUnknownFields, requireObject } from '../schema';
import type { EditModuleShape } from './sizeDefaults';

/** The machinery as a user gives it: a preset name or the parts. */
export type MachineryInput = MachineryPreset | MachineryParts;

/** `hiedit`: HiEdit's defaults (below); `none`: the shift as the network proposes it, in normalized coordinates. */
export type MachineryPreset = 'hiedit' | 'none';

/** The parts; an absent part is off. */
export interface MachineryParts {
  /** Strength calibration: `true` for the defaults (DEFAULT_CALIBRATION), an object for other values, null/false off. */
  readonly calibration?: boolean | null | Partial<CalibrationSettings>;
  /** The key preconditioner ({lambda, rescale}), or null off. `mend` shift style only. */
  readonly keyPreconditioner?: KeyPreconditionerInput | null;
  /** `module`: factors mapped back to the module's coordinates; `normalized` (default): the network's own. */
  readonly factorSpace?: 'module' | 'normalized';
}

/**
 * HiEdit's key preconditioner (docs/tuning.md, session 4; tuning worlds only): with lambda 1e-3 and module-space factors
 * the shift is close to ROME's C^-1 k direction, which on the world models changes 5x fewer unrelated answers per edit
 * than the plain gradient direction.
 */
export const HIEDIT_KEY_PRECONDITIONER = { lambda: 1e-3, rescale: 'frobenius' } as const;
export const HIEDIT_FACTOR_SPACE = 'module' as const;
export const HIEDIT_CALIBRATION = true;
/**
 * The initial step size with module-space factors on the world models (tuning worlds, session 4). Under calibration it
 * only sets where the strength search starts; the size rule's value (for normalized factors) would start it about 2^10
 * too low.
 */
export const HIEDIT_MODULE_SPACE_INIT_ETA = 3;
/**
 * Widest edit-module input for which the `hiedit` preset turns the key preconditioner on. Its inverse is a float64
 * Cholesky solve of (dIn x dIn) per module when training starts (0.7 s at 768 on the reference machine, about a
 * minute and several hundred MB at 3072), and lambda was tuned on small models only: wider modules get the plain
 * (module-space) shift unless the settings ask for the preconditioner.
 */
export const KEY_PRECONDITIONER_DEFAULT_MAX_DIN = 1024;

const PRESETS: readonly MachineryPreset[] = ['hiedit', 'none'];
const PART_KEYS = ['calibration', 'keyPreconditioner', 'factorSpace'];

/** The machinery's parts as they are folded into the settings (every part explicit). */
export interface ResolvedMachinery {
  readonly calibration: CalibrationSettings | null;
  readonly keyPreconditioner: KeyPreconditionerInput | null;
  readonly factorSpace: 'module' | 'normalized';
}

/** The parts of `input` for edit modules of `shapes`; errors name the field. */
export function resolveMachinery(input: unknown, shapes: readonly EditModuleShape[], where: string): ResolvedMachinery {
  if (typeof input === 'string') {
    if (!(PRESETS as readonly string[]).includes(input)) {
      throw new Error(`${where}: machinery must be one of ${PRESETS.map((p) => `"${p}"`).join(', ')} or an object, got ${JSON.stringify(input)}`);
    }
    if (input === 'none') return { calibration: null, keyPreconditioner: null, factorSpace: 'normalized' };
    const narrow = shapes.length > 0 && Math.max(...shapes.map((m) => m.dIn)) <= KEY_PRECONDITIONER_DEFAULT_MAX_DIN;
    return {
      calibration: resolveCalibration(HIEDIT_CALIBRATION, `${where}: machinery`),
      keyPreconditioner: narrow ? { ...HIEDIT_KEY_PRECONDITIONER } : null,
      factorSpace: HIEDIT_FACTOR_SPACE,
    };
  }
  const o = requireObject(input, where, 'machinery');
  refuseUnknownFields(o, PART_KEYS, `${where}: machinery`);
  const fs = o.factorSpace ?? 'normalized';
  if (fs !== 'module' && fs !== 'normalized') throw new Error(`${where}: machinery.factorSpace must be "module" or "normalized", got ${JSON.stringify(fs)}`);
  const kp = o.keyPreconditioner ?? null;
  if (kp !== null && (typeof kp !== 'object' || Array.isArray(kp))) {
    throw new Error(`${where}: machinery.keyPreconditioner must be an object {"lambda", "rescale"?} or null, got ${JSON.stringify(kp)}`);
  }
  return {
    calibration: resolveCalibration(o.calibration, `${where}: machinery`),
    keyPreconditioner: kp as KeyPreconditionerInput | null,
    factorSpace: fs,
  };
}

/** The settings fields a resolved machinery is folded into. */
export interface MachineryFolding {
  readonly low: Record<string, unknown>;
  readonly trainer: Partial<TrainerOptions>;
  /** The calibration of a reference-mode editor: edit time only (the authors' schedule trains without it). */
  readonly editCalibration?: CalibrationSettings;
}

/**
 * Folds `m` into the low-level and trainer settings. Machinery the user gave (`explicit`) refuses a part the settings
 * also give directly (`trainer.calibration`, `policy.low.keyPreconditioner`, `policy.low.factorSpace`) rather than
 * silently overriding it; a method's default machinery fills only the parts the settings leave unset, so those fields
 * still turn single parts off. Module-space factors start at HIEDIT_MODULE_SPACE_INIT_ETA unless initEta is given. In
 * reference mode the calibration becomes edit-time only (`editCalibration`).
 */
export function foldMachinery(m: ResolvedMachinery, given: { low: Record<string, unknown>; trainer: Partial<TrainerOptions> },
  o: { mode: TrainerOptions['mode']; explicit: boolean; where: string }): MachineryFolding {
  const { low, trainer } = given;
  if (o.explicit) {
    const clash = [
      trainer.calibration !== undefined ? 'trainer.calibration' : '',
      low.keyPreconditioner !== undefined ? 'policy.low.keyPreconditioner' : '',
      low.factorSpace !== undefined ? 'policy.low.factorSpace' : '',
    ].filter(Boolean);
    if (clash.length) throw new Error(`${o.where}: give the edit-time machinery either as "machinery" or as ${clash.join(', ')}, not both`);
  }
  const outLow = { ...low };
  if (outLow.factorSpace === undefined && m.factorSpace === 'module') outLow.factorSpace = 'module';
  if (outLow.factorSpace === 'module' && outLow.initEta === undefined) outLow.initEta = HIEDIT_MODULE_SPACE_INIT_ETA;
  if (outLow.keyPreconditioner === undefined && m.keyPreconditioner) outLow.keyPreconditioner = { ...m.keyPreconditioner };
  if (trainer.calibration !== undefined) return { low: outLow, trainer };
  if (o.mode === 'reference') return { low: outLow, trainer, ...(m.calibration ? { editCalibration: m.calibration } : {}) };
  return { low: outLow, trainer: { ...trainer, calibration: m.calibration } };
}

/** The trainer mode a method's settings will resolve to (the user's, else the method's preset's, else the default). */
export function trainerModeOf(preset: Partial<TrainerOptions>, user: Partial<TrainerOptions>): TrainerOptions['mode'] {
  return user.mode ?? preset.mode ?? DEFAULT_TRAINER_OPTIONS.mode;
}

/** Whether a method's default machinery applies to this shift style (it is tuned for the MEND-style low level). */
export function defaultMachineryApplies(style: ShiftStyle | undefined): boolean {
  return (style ?? 'mend') === 'mend';
}
