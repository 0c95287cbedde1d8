/**
 * The factory of a method with no learned state (ft, noop): its resolved settings are the whole editor, so create and
 * load are the same construction and nothing is trained.
 */
import { EditorFactory, Editor, ResolvedSettings } from '../editors/types';
import { requireResolved, SettingsInput } from './schema';

/** What a stateless method provides. */
export interface StatelessMethod<S extends ResolvedSettings> {
  readonly kind: string;
  readonly summary: string;
  /** Pure resolve of the user's settings (no shape-dependent defaults for these methods). */
  resolve(given: SettingsInput): S;
  /** editor.json's settings read back. */
  readStored(stored: SettingsInput): S;
  /** The editor over `modules` with resolved settings. */
  make(modules: readonly string[], settings: S): Editor;
}

/** The EditorFactory of a stateless method. */
export function statelessFactory<S extends ResolvedSettings>(m: StatelessMethod<S>): EditorFactory<S> {
  const build = (modules: readonly string[], settings: S): Editor => {
    requireResolved(settings, m.kind);
    return m.make(modules, settings);
  };
  return {
    kind: m.kind,
    summary: m.summary,
    trainable: false,
    resolveSettings: (_shapes, given) => m.resolve(given),
    readStoredSettings: (_shapes, stored) => m.readStored(stored),
    create: (_model, modules, settings) => build(modules, settings),
    load: (_dir, _model, modules, settings) => build(modules, settings),
  };
}
