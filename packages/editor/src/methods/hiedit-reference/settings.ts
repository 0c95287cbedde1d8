/**
 * Settings of `hiedit-reference`: HiEdit as the authors' code trains it (spec §5), for parity. The shared policy-editor
 * schema (../policy/settings.ts) with the authors' schedule as the trainer preset; no creation defaults beyond the
 * initial step size (metaLr stays the authors' 1e-5 unless given).
 */
import { REFERENCE_TRAINER_OPTIONS } from '@hiedit/rl-hierarchy';
import { PolicyEditorSettings, policyMethod, policySettingsFunctions, ResolvedPolicySettings } from '../policy/settings';

/** The `hiedit-reference` method. */
export const HIEDIT_REFERENCE = policyMethod({
  kind: 'hiedit-reference',
  summary: 'HiEdit as the authors\' code trains it (reference mode, for parity)',
  usesHighLevel: true,
  // The authors' code keeps the low-level normalizers updating at test time (spec §5).
  updateLowNormalizersAtEdit: true,
  sizeScaledMetaLr: false,
  // The authors' MEND-style low level zeroes its gradient every step (spec §5); their MALMEN-style one does not.
  trainerPreset: (lowStyle) => ({ ...REFERENCE_TRAINER_OPTIONS, zeroLowLevelGradEachStep: lowStyle === 'mend' }),
});

/** Pure `resolve(given, shapes, {seed})` and `readStored(stored, shapes)` of `hiedit-reference`. */
export const { resolve, readStored } = policySettingsFunctions(HIEDIT_REFERENCE);

/** What a user may set for `hiedit-reference`. */
export type HieditReferenceSettings = PolicyEditorSettings;
/** The resolved `hiedit-reference` settings (editor.json). */
export type ResolvedHieditReferenceSettings = ResolvedPolicySettings;
