/** The editor registry: methods register a factory under their kind; nothing switches on kinds. */
import { EditorFactory } from './types';

const factories = new Map<string, EditorFactory>();

/** Registers a method. Refuses a second factory for the same kind unless `replace` is set. */
export function registerEditor(f: EditorFactory, opts: { replace?: boolean } = {}): void {
  if (!/^[a-z][a-z0-9-]*$/.test(f.kind)) throw new Error(`registerEditor: bad kind ${JSON.stringify(f.kind)}`);
  if (factories.has(f.kind) && !opts.replace) throw new Error(`registerEditor: kind ${f.kind} is already registered`);
  factories.set(f.kind, f);
}

/** The factory of `kind`; throws listing the known kinds. */
export function editorFactory(kind: string): EditorFactory {
  const f = factories.get(kind);
  if (!f) throw new Error(`unknown editor ${JSON.stringify(kind)}; known editors: ${[...factories.keys()].join(', ')}`);
  return f;
}

/** Registered kinds, in registration order. */
export function editorKinds(): string[] {
  return [...factories.keys()];
}
