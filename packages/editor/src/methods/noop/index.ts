/** The `noop` method: its settings and its factory (registered at module load). */
import { EditorFactory } from '../../editors/types';
import { registerEditor } from '../../editors/registry';
import { requireResolved } from '../schema';
import { NoopEditor } from './editor';
import { readStored, resolve, ResolvedNoopSettings } from './settings';

export { NoopEditor } from './editor';
export type { ResolvedNoopSettings } from './settings';

/** Factory of `noop`. */
export const noopFactory: EditorFactory<ResolvedNoopSettings> = {
  kind: 'noop',
  summary: 'applies nothing: the floor an editor that skips its edits tends to (ablation)',
  trainable: false,
  resolveSettings: (_shapes, given) => resolve(given),
  readStoredSettings: (_shapes, stored) => readStored(stored),
  create(_model, modules, settings) {
    requireResolved(settings, 'noop');
    return new NoopEditor(modules, settings);
  },
  load(_dir, _model, modules, settings) {
    requireResolved(settings, 'noop');
    return new NoopEditor(modules, settings);
  },
};

registerEditor(noopFactory);
