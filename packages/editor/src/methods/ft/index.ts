/** The `ft` method: its settings and its factory (registered at module load). */
import { EditorFactory } from '../../editors/types';
import { registerEditor } from '../../editors/registry';
import { statelessFactory } from '../stateless';
import { FtEditor } from './editor';
import { readStored, resolve, ResolvedFtSettings } from './settings';

export * from './settings';
export { FtEditor } from './editor';

/** Factory of the `ft` baseline. */
export const ftFactory: EditorFactory<ResolvedFtSettings> = statelessFactory({
  kind: 'ft',
  summary: 'fine-tuning of the edit modules on the edit tuple (Adam, Frobenius-norm constraint), no training phase',
  resolve,
  readStored,
  make: (modules, settings) => new FtEditor(modules, settings),
});

registerEditor(ftFactory);
