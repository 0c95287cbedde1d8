export * from './journal';
export * from './model';
export * from './request';
export * from './editors/types';
export * from './editors/registry';
export * from './editors/create';
export * from './methods/schema';
export * from './methods/shapes';
export * from './methods/policy/sizeDefaults';
export * from './methods/policy/settings';
export { PolicyEditor, POLICY_SUBDIR, TRAIN_STATE_SUBDIR } from './methods/policy/editor';
export { policyFactory } from './methods/policy/factory';
// Each method's `resolve` / `readStored` are reached through its factory (resolveSettings / readStoredSettings).
export {
  HIEDIT, HIEDIT_CALIBRATION, HIEDIT_FACTOR_SPACE, HIEDIT_GATE_TARGET, HIEDIT_KEY_PRECONDITIONER, HIEDIT_MODULE_SPACE_INIT_ETA,
  KEY_PRECONDITIONER_DEFAULT_MAX_DIN, hieditFactory,
} from './methods/hiedit';
export type { HieditSettings, ResolvedHieditSettings } from './methods/hiedit';
export { HIEDIT_REFERENCE, hieditReferenceFactory } from './methods/hiedit-reference';
export type { HieditReferenceSettings, ResolvedHieditReferenceSettings } from './methods/hiedit-reference';
export { RLEDIT, rleditFactory } from './methods/rledit';
export type { RleditSettings, ResolvedRleditSettings } from './methods/rledit';
export { MEND, mendFactory } from './methods/mend';
export type { MendSettings, ResolvedMendSettings } from './methods/mend';
export { DEFAULT_FT, FtEditor, ftFactory, resolveFtSettings } from './methods/ft';
export type { FtSettings, ResolvedFtSettings } from './methods/ft';
export * from './editorDir';
export * from './editor';
export * from './data';
export * from './commands';
