/**
 * Editor directories: `editor.json` (method, model identity, edit modules with shapes, settings) next to
 * whatever the method saves (policy weights, normalizer state, training checkpoints).
 */
import * as fs from 'fs';
import * as path from 'path';
import { EditableModel, readJsonFile, writeJsonAtomic } from '@hiedit/tensor-core';
import './methods/builtin';
import { editorFactory } from './editors/registry';
import { Editor, EditorFactory, ResolvedSettings } from './editors/types';
import { modelShapeInfo } from './methods/shapes';
import { ModelIdentity, ModuleShape } from './journal';
import { EditorModel, modelIdentity, moduleShapes } from './model';

/** File name of the descriptor inside an editor directory. */
export const EDITOR_JSON = 'editor.json';

/** Contents of editor.json. */
export interface EditorDescriptor {
  readonly format: 'hiedit-editor';
  readonly formatVersion: 1;
  readonly kind: string;
  readonly model: ModelIdentity;
  /** Base weights hash of the model the editor was made (trained) on. */
  readonly baseWeightsHash: string;
  /** Edit modules with their shapes, in policy order. */
  readonly modules: readonly ModuleShape[];
  /**
   * The editor's resolved settings (the factory's resolveSettings output, with its `settingsVersion`). Files written
   * before the version was recorded hold the same object without it, or for the oldest files only the user's part.
   */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Set by training runs. */
  readonly trained?: { readonly steps: number; readonly epochs: number; readonly seed: number; readonly finished: boolean };
}

/** Writes an editor directory: the method's files, then editor.json (last, so a complete descriptor means a complete dir). */
export function saveEditorDir(dir: string, editor: Editor, model: EditorModel,
  trained?: EditorDescriptor['trained']): EditorDescriptor {
  fs.mkdirSync(dir, { recursive: true });
  editor.save(dir);
  const desc: EditorDescriptor = {
    format: 'hiedit-editor', formatVersion: 1, kind: editor.kind, model: modelIdentity(model),
    baseWeightsHash: model.weightsHash(), modules: moduleShapes(editor.modules.map((n) => model.module(n))),
    settings: editor.settings(), ...(trained ? { trained } : {}),
  };
  writeJsonAtomic(path.join(dir, EDITOR_JSON), desc);
  return desc;
}

/** Reads and validates editor.json (not yet against a model). */
export function readEditorDescriptor(dir: string): EditorDescriptor {
  const file = path.join(dir, EDITOR_JSON);
  let raw: unknown;
  try {
    raw = readJsonFile(file);
  } catch (e) {
    throw new Error(`editor directory ${dir}: ${(e as Error).message}`);
  }
  const d = raw as Record<string, unknown>;
  if (!d || d.format !== 'hiedit-editor') throw new Error(`${file}: field "format" must be "hiedit-editor"`);
  if (d.formatVersion !== 1) throw new Error(`${file}: formatVersion ${String(d.formatVersion)} is not supported`);
  if (typeof d.kind !== 'string') throw new Error(`${file}: field "kind" must be a string`);
  if (!Array.isArray(d.modules) || d.modules.length === 0) throw new Error(`${file}: field "modules" must be a non-empty array`);
  for (const [i, m] of (d.modules as Record<string, unknown>[]).entries()) {
    if (typeof m?.name !== 'string' || !Number.isInteger(m.dIn) || !Number.isInteger(m.dOut)) {
      throw new Error(`${file}: modules[${i}] must have a string "name" and integer "dIn", "dOut"`);
    }
  }
  if (typeof d.baseWeightsHash !== 'string') throw new Error(`${file}: field "baseWeightsHash" must be a string`);
  if (d.settings !== undefined && (typeof d.settings !== 'object' || d.settings === null)) {
    throw new Error(`${file}: field "settings" must be an object`);
  }
  return { ...(d as unknown as EditorDescriptor), settings: (d.settings ?? {}) as Record<string, unknown> };
}

/**
 * Refuses an editor directory made for another model: every recorded module must exist in `model`
 * with the recorded shape (the policies' weights are sized by those shapes).
 */
export function checkDescriptorMatchesModel(desc: EditorDescriptor, model: EditableModel, dir: string): void {
  const problems: string[] = [];
  for (const m of desc.modules) {
    const here = model.modules.find((x) => x.name === m.name);
    if (!here) problems.push(`module ${m.name} is missing`);
    else if (here.dIn !== m.dIn || here.dOut !== m.dOut) {
      problems.push(`module ${m.name} is ${m.dIn}x${m.dOut} in the editor but ${here.dIn}x${here.dOut} in the model`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`editor directory ${dir} was made for another model (${desc.model.modelType}/` +
      `${desc.model.architecture}, ${desc.model.numLayers ?? '?'} layers): ${problems.slice(0, 3).join('; ')}` +
      `${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}`);
  }
}

/**
 * Loads an editor directory for `model`, refusing one made for another model. `factoryOf` looks the method up
 * (default: the registry); a caller with its own set of methods passes its lookup.
 */
export function loadEditorDir(dir: string, model: EditableModel,
  factoryOf: (kind: string) => EditorFactory = editorFactory): { editor: Editor; descriptor: EditorDescriptor } {
  const descriptor = readEditorDescriptor(dir);
  checkDescriptorMatchesModel(descriptor, model, dir);
  const factory = factoryOf(descriptor.kind);
  const modules = descriptor.modules.map((m) => m.name);
  let settings: ResolvedSettings;
  try {
    settings = factory.readStoredSettings(modelShapeInfo(model, modules), descriptor.settings);
  } catch (e) {
    throw new Error(`${path.join(dir, EDITOR_JSON)}: field "settings": ${(e as Error).message}`);
  }
  const editor = factory.load(dir, model, modules, settings);
  return { editor, descriptor };
}
