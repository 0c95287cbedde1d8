/** The `mend` method: its settings and its factory (registered at module load). */
import { registerEditor } from '../../editors/registry';
import { policyFactory } from '../policy/factory';
import { MEND } from './settings';

export * from './settings';

/** Factory of `mend`. */
export const mendFactory = policyFactory(MEND);
registerEditor(mendFactory);
