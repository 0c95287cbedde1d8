/**
 * The one interface every editing method implements (HiEdit, its reference mode, RLEdit, MEND, FT),
 * so the lifelong editor and the benchmarks treat them alike.
 */
import { disposeShifts, EditableModel, ShiftSet, TokenizedEditRequest } from '@hiedit/tensor-core';
import type { SettingsInput } from '../methods/schema';
import type { ModelShapeInfo } from '../methods/shapes';

/** What an editor proposes for one request. The proposal owns its tensors: call `disposeProposal`. */
export interface ShiftProposal {
  /** Shifts of the selected modules only, (dIn, dOut) orientation or low-rank factors. */
  readonly shifts: ShiftSet;
  /** Modules shifted, in policy order. */
  readonly selected: readonly string[];
  /** Gate score per candidate module (empty when the method has no gate). */
  readonly scores: Readonly<Record<string, number>>;
  /**
   * Module sets the calibration tried (calibrated methods only): 1 when the gate's own choice held or the edit was
   * skipped at once, more when the edit moved on to the gate's next-ranked modules.
   */
  readonly tries?: number;
}

/** Disposes every tensor of a proposal. */
export function disposeProposal(p: ShiftProposal): void {
  disposeShifts(p.shifts);
}

/** One progress event of a training run. */
export interface TrainProgress {
  readonly phase: 'train' | 'validate' | 'checkpoint' | 'done';
  readonly epoch: number;
  /** Requests processed in this epoch. */
  readonly step: number;
  /** Requests per epoch. */
  readonly total: number;
  readonly loss?: number;
  readonly message?: string;
}

/** Options of `Editor.train`. */
export interface EditorTrainOptions {
  /** Seed of every random choice of the run. */
  readonly seed: number;
  /** Requests used for early stopping (hiedit mode). */
  readonly validation?: readonly TokenizedEditRequest[];
  /** Directory where the full training state is checkpointed (for resume). */
  readonly checkpointDir?: string;
  /** Resume from the checkpoint in `checkpointDir` when there is one. */
  readonly resume?: boolean;
  /** Stop after this many requests in total (used to test resume). */
  readonly stopAfter?: number;
  readonly onProgress?: (e: TrainProgress) => void;
  /** Method-specific overrides of the resolved training settings for this run (epochs, learning rate, ...). */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** Summary of a training run. */
export interface EditorTrainResult {
  readonly steps: number;
  readonly epochs: number;
  readonly seconds: number;
  readonly finished: boolean;
  readonly finalLoss?: number;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** An editing method bound to a model's edit modules. */
export interface Editor {
  /** Registry key (`hiedit`, `ft`, ...). */
  readonly kind: string;
  /** Candidate edit modules, in order. */
  readonly modules: readonly string[];
  /**
   * Proposes the shift for one request on the model's current weights. Must not change the weights
   * (the lifelong editor applies, journals and undoes).
   */
  propose(model: EditableModel, request: TokenizedEditRequest): ShiftProposal;
  /** Meta-trains the method on a stream; methods without a training phase throw a clear error. */
  train(model: EditableModel, stream: readonly TokenizedEditRequest[], options: EditorTrainOptions): Promise<EditorTrainResult>;
  /** Method settings and learned state written into an editor directory (besides editor.json). */
  save(dir: string): void;
  /** The resolved settings the editor was created or loaded with, recorded as they are in editor.json. */
  settings(): ResolvedSettings;
  dispose(): void;
}

/**
 * A method's fully resolved settings: a plain JSON object holding every value the method uses (defaults included),
 * tagged with the version of its layout. It is what editor.json and the benchmarks' cache keys record.
 */
export interface ResolvedSettings {
  readonly settingsVersion: number;
  readonly [field: string]: unknown;
}

/** Options of `EditorFactory.resolveSettings`. */
export interface ResolveOptions {
  /**
   * The run's seed. Methods with a learned initialization (the policy editors) take it as their initialization seed
   * (`policy.seed`) unless the settings give one; methods without one ignore it.
   */
  readonly seed?: number;
}

/**
 * How to build an editor of one kind. Registered in the editor registry. Settings are resolved once, by
 * `resolveSettings`, and `create` / `load` take only the resolved object, so what an editor runs with is exactly
 * what editor.json and cache keys record.
 */
export interface EditorFactory<S extends ResolvedSettings = ResolvedSettings> {
  readonly kind: string;
  readonly summary: string;
  /** Whether the method has a training phase (`train-editor` refuses the others). */
  readonly trainable: boolean;
  /**
   * Whether the method takes the shared edit-time options (the `machinery` setting: strength calibration with its miss
   * rule, key preconditioner, module-space factors): every policy method does. A run-wide option such as
   * `hiedit-bench run --machinery` reaches exactly the methods that say so.
   */
  readonly sharedEditTimeOptions?: boolean;
  /**
   * The user's settings validated and completed with the method's defaults (some computed from the model's shape).
   * Pure: builds no editor and touches no tensor. Errors name the field.
   */
  resolveSettings(shapes: ModelShapeInfo, given: SettingsInput, options?: ResolveOptions): S;
  /**
   * The settings recorded in an editor.json, read back as resolved settings: a file without `settingsVersion`
   * (written before it was recorded) is version 1, and fields it lacks take the defaults a loaded editor has
   * always taken (not the creation defaults, which it was not made with).
   */
  readStoredSettings(shapes: ModelShapeInfo, stored: SettingsInput): S;
  /** A fresh (untrained) editor over `modules`. */
  create(model: EditableModel, modules: readonly string[], settings: S): Editor;
  /** An editor restored from a directory written by `save` (editor.json already validated). */
  load(dir: string, model: EditableModel, modules: readonly string[], settings: S): Editor;
}
