/** The `all` ablation: its settings and its factory (registered at module load). */
import { registerEditor } from '../../editors/registry';
import { policyFactory } from '../policy/factory';
import { ALL_MODULES } from './settings';

export * from './settings';

/** Factory of `all`. */
export const allModulesFactory = policyFactory(ALL_MODULES);
registerEditor(allModulesFactory);
