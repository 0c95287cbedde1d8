/**
 * Settings of `rledit`: the shared policy-editor schema (../policy/settings.ts) with no high-level policy (every edit
 * module is shifted) and no L_full baseline (it needs a gate).
 */
import { PolicyEditorSettings, policyMethod, policySettingsFunctions, ResolvedPolicySettings } from '../policy/settings';

/** The `rledit` method. */
export const RLEDIT = policyMethod({
  kind: 'rledit',
  summary: 'RLEdit: the same low-level network on every edit module, no high-level policy',
  usesHighLevel: false,
  trainerPreset: () => ({ mode: 'hiedit', computeBaseline: false }),
});

/** Pure `resolve(given, shapes, {seed})` and `readStored(stored, shapes)` of `rledit`. */
export const { resolve, readStored } = policySettingsFunctions(RLEDIT);

/** What a user may set for `rledit` (`policy.high` is forced to null). */
export type RleditSettings = PolicyEditorSettings;
/** The resolved `rledit` settings (editor.json). */
export type ResolvedRleditSettings = ResolvedPolicySettings;
