/** The `random-k` ablation: its settings and its factory (registered at module load). */
import { registerEditor } from '../../editors/registry';
import { policyFactory } from '../policy/factory';
import { RANDOM_K } from './settings';

export * from './settings';

/** Factory of `random-k`. */
export const randomKFactory = policyFactory(RANDOM_K);
registerEditor(randomKFactory);
