/** The `fixed-k` ablation: its settings and its factory (registered at module load). */
import { registerEditor } from '../../editors/registry';
import { policyFactory } from '../policy/factory';
import { FIXED_K } from './settings';

export * from './settings';

/** Factory of `fixed-k`. */
export const fixedKFactory = policyFactory(FIXED_K);
registerEditor(fixedKFactory);
