/**
 * Settings of `all`: HiEdit's settings (it trains exactly like `hiedit`) with the `all` module-selection rule at
 * edit time (../policy/selection.ts).
 */
import { hieditAblation } from '../hiedit/settings';
import { policySettingsFunctions } from '../policy/settings';

/** The `all` method. */
export const ALL_MODULES = hieditAblation({
  kind: 'all',
  summary: "HiEdit's trained low level on every candidate module: RLEdit with HiEdit's low level (ablation)",
  selection: 'all',
});

/** Pure `resolve(given, shapes, {seed})` and `readStored(stored, shapes)` of `all`. */
export const { resolve, readStored } = policySettingsFunctions(ALL_MODULES);
