/** The `hiedit-reference` method: its settings and its factory (registered at module load). */
import { registerEditor } from '../../editors/registry';
import { policyFactory } from '../policy/factory';
import { HIEDIT_REFERENCE } from './settings';

export * from './settings';

/** Factory of `hiedit-reference`. */
export const hieditReferenceFactory = policyFactory(HIEDIT_REFERENCE);
registerEditor(hieditReferenceFactory);
