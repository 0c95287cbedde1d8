/** The `noop` method: its settings and its factory (registered at module load). */
import { EditorFactory } from '../../editors/types';
import { registerEditor } from '../../editors/registry';
import { statelessFactory } from '../stateless';
import { NoopEditor } from './editor';
import { readStored, resolve, ResolvedNoopSettings } from './settings';

export { NoopEditor } from './editor';
export type { ResolvedNoopSettings } from './settings';

/** Factory of `noop`. */
export const noopFactory: EditorFactory<ResolvedNoopSettings> = statelessFactory({
  kind: 'noop',
  summary: 'applies nothing: the floor an editor that skips its edits tends to (ablation)',
  resolve,
  readStored,
  make: (modules, settings) => new NoopEditor(modules, settings),
});

registerEditor(noopFactory);
