/**
 * Settings of `mend`: the shared policy-editor schema (../policy/settings.ts) with no high-level policy, no
 * back-tracking window (D = 1) and edits that do not accumulate during training.
 */
import { PolicyEditorSettings, policyMethod, policySettingsFunctions, ResolvedPolicySettings } from '../policy/settings';

/** The `mend` method. */
export const MEND = policyMethod({
  kind: 'mend',
  summary: 'MEND: no high-level policy, no back-tracking window (D = 1), its own training',
  usesHighLevel: false,
  trainerPreset: () => ({ mode: 'hiedit', backDepth: 1, accumulateEdits: false, computeBaseline: false }),
});

/** Pure `resolve(given, shapes, {seed})` and `readStored(stored, shapes)` of `mend`. */
export const { resolve, readStored } = policySettingsFunctions(MEND);

/** What a user may set for `mend` (`policy.high` is forced to null). */
export type MendSettings = PolicyEditorSettings;
/** The resolved `mend` settings (editor.json). */
export type ResolvedMendSettings = ResolvedPolicySettings;
