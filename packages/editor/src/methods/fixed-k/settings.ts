/**
 * Settings of `fixed-k`: HiEdit's settings (it trains exactly like `hiedit`) with the `fixed` module-selection rule at
 * edit time (../policy/selection.ts).
 */
import { hieditAblation } from '../hiedit/settings';
import { policySettingsFunctions } from '../policy/settings';

/** The `fixed-k` method. */
export const FIXED_K = hieditAblation({
  kind: 'fixed-k',
  summary: "HiEdit's trained low level on the k modules best on the training split, for every edit (ablation)",
  selection: 'fixed',
});

/** Pure `resolve(given, shapes, {seed})` and `readStored(stored, shapes)` of `fixed-k`. */
export const { resolve, readStored } = policySettingsFunctions(FIXED_K);
