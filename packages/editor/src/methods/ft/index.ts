/** The `ft` method: its settings and its factory (registered at module load). */
import { EditorFactory } from '../../editors/types';
import { registerEditor } from '../../editors/registry';
import { requireResolved } from '../schema';
import { FtEditor } from './editor';
import { readStored, resolve, ResolvedFtSettings } from './settings';

export * from './settings';
export { FtEditor } from './editor';

/** Factory of the `ft` baseline. */
export const ftFactory: EditorFactory<ResolvedFtSettings> = {
  kind: 'ft',
  summary: 'fine-tuning of the edit modules on the edit tuple (Adam, Frobenius-norm constraint), no training phase',
  trainable: false,
  resolveSettings: (shapes, given, options) => resolve(given, shapes, options),
  readStoredSettings: (shapes, stored) => readStored(stored, shapes),
  create(_model, modules, settings) {
    requireResolved(settings, 'ft');
    return new FtEditor(modules, settings);
  },
  load(_dir, _model, modules, settings) {
    requireResolved(settings, 'ft');
    return new FtEditor(modules, settings);
  },
};

registerEditor(ftFactory);
