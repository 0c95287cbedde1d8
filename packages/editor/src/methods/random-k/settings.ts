/**
 * Settings of `random-k`: HiEdit's settings (it trains exactly like `hiedit`) with the `random` module-selection rule at
 * edit time (../policy/selection.ts).
 */
import { hieditAblation } from '../hiedit/settings';
import { policySettingsFunctions } from '../policy/settings';

/** The `random-k` method. */
export const RANDOM_K = hieditAblation({
  kind: 'random-k',
  summary: "HiEdit's trained low level on k modules picked by a seeded hash of the request (ablation)",
  selection: 'random',
});

/** Pure `resolve(given, shapes, {seed})` and `readStored(stored, shapes)` of `random-k`. */
export const { resolve, readStored } = policySettingsFunctions(RANDOM_K);
