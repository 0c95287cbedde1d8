/** The `hiedit` method: its settings and its factory (registered at module load). */
import { registerEditor } from '../../editors/registry';
import { policyFactory } from '../policy/factory';
import { HIEDIT } from './settings';

export * from './settings';

/** Factory of `hiedit`. */
export const hieditFactory = policyFactory(HIEDIT);
registerEditor(hieditFactory);
