/**
 * Settings of `hiedit` (the default mode): the shared policy-editor schema (../policy/settings.ts) with HiEdit's
 * trainer preset and its creation defaults for the low level.
 */
import { resolveCalibration, TrainerOptions } from '@hiedit/rl-hierarchy';
import { PolicyEditorSettings, policyMethod, policySettingsFunctions, ResolvedPolicySettings } from '../policy/settings';
import type { EditModuleShape } from '../policy/sizeDefaults';

/** What a user may set for `hiedit`. */
export type HieditSettings = PolicyEditorSettings;
/** The resolved `hiedit` settings (editor.json). */
export type ResolvedHieditSettings = ResolvedPolicySettings;

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
 * HiEdit's creation defaults for the MEND-style shift: module-space factors, the key preconditioner for modules up to
 * KEY_PRECONDITIONER_DEFAULT_MAX_DIN wide, calibrated strength and (for a fixed-k gate) counterfactual gate targets.
 */
function hieditDefaults(s: PolicyEditorSettings, shapes: readonly EditModuleShape[]): PolicyEditorSettings {
  const low = { ...(s.policy?.low ?? {}) };
  if ((low.style ?? 'mend') !== 'mend') return s;
  const trainer: Partial<TrainerOptions> = { ...(s.trainer ?? {}) };
  if (low.factorSpace === undefined) low.factorSpace = HIEDIT_FACTOR_SPACE;
  if (low.factorSpace === 'module' && low.initEta === undefined) low.initEta = HIEDIT_MODULE_SPACE_INIT_ETA;
  if (low.keyPreconditioner === undefined && Math.max(...shapes.map((m) => m.dIn)) <= KEY_PRECONDITIONER_DEFAULT_MAX_DIN) {
    low.keyPreconditioner = { ...HIEDIT_KEY_PRECONDITIONER };
  }
  if (trainer.calibration === undefined) trainer.calibration = resolveCalibration(HIEDIT_CALIBRATION);
  const adaptive = typeof s.policy?.high === 'object' && s.policy.high !== null && s.policy.high.adaptive === true;
  if (trainer.gateTarget === undefined && !adaptive) trainer.gateTarget = HIEDIT_GATE_TARGET;
  return { ...s, policy: { ...(s.policy ?? {}), low }, trainer };
}

/** The `hiedit` method. */
export const HIEDIT = policyMethod({
  kind: 'hiedit',
  summary: 'HiEdit (default mode): HiNet selects k modules, the low-level network writes their shifts',
  usesHighLevel: true,
  trainerPreset: () => ({ mode: 'hiedit' }),
  creationDefaults: hieditDefaults,
});

/** Pure `resolve(given, shapes, {seed})` and `readStored(stored, shapes)` of `hiedit` (see ../policy/settings.ts). */
export const { resolve, readStored } = policySettingsFunctions(HIEDIT);
