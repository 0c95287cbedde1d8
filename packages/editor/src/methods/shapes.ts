/** The part of a model that method settings depend on: the shapes of its edit modules and its residual width. */
import type { EditableModel } from '@hiedit/tensor-core';
import { residualWidth } from './policy/sizeDefaults';

/** One edit module's name and shape. */
export interface EditModuleShapeInfo {
  readonly name: string;
  readonly dIn: number;
  readonly dOut: number;
}

/** What `EditorFactory.resolveSettings` needs to know of a model (plain data, so resolving stays pure). */
export interface ModelShapeInfo {
  /** The edit modules, in policy order. */
  readonly modules: readonly EditModuleShapeInfo[];
  /** The model's residual width (see residualWidth), from all its linear modules. */
  readonly residual: number;
}

/** The shape information of `model` for the edit modules `modules`. */
export function modelShapeInfo(model: EditableModel, modules: readonly string[]): ModelShapeInfo {
  return {
    modules: modules.map((name) => {
      const m = model.module(name);
      return { name, dIn: m.dIn, dOut: m.dOut };
    }),
    residual: residualWidth(model.modules),
  };
}
