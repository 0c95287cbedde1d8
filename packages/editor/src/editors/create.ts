/** Building a new editor from a user's settings: resolve them once with the method's factory, then create. */
import type { EditableModel } from '@hiedit/tensor-core';
import { modelShapeInfo } from '../methods/shapes';
import type { SettingsInput } from '../methods/schema';
import '../methods/builtin';
import { editorFactory } from './registry';
import type { Editor, ResolveOptions } from './types';

/** A fresh editor of `kind` over `modules`, with `given` resolved by the method's factory. */
export function createEditor(kind: string, model: EditableModel, modules: readonly string[], given: SettingsInput,
  options: ResolveOptions = {}): Editor {
  const factory = editorFactory(kind);
  return factory.create(model, modules, factory.resolveSettings(modelShapeInfo(model, modules), given, options));
}
