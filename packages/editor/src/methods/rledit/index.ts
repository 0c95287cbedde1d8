/** The `rledit` method: its settings and its factory (registered at module load). */
import { registerEditor } from '../../editors/registry';
import { policyFactory } from '../policy/factory';
import { RLEDIT } from './settings';

export * from './settings';

/** Factory of `rledit`. */
export const rleditFactory = policyFactory(RLEDIT);
registerEditor(rleditFactory);
