/**
 * The one interface every editing method implements (HiEdit, its reference mode, RLEdit, MEND, FT),
 * so the lifelong editor and the benchmarks treat them alike.
 */
import { disposeShifts, EditableModel, ShiftSet, TokenizedEditRequest } from '@hiedit/tensor-core';

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
  /** Method-specific settings (epochs, learning rate, ...), passed through. */
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
  /** JSON-able settings, recorded in editor.json. */
  settings(): Record<string, unknown>;
  dispose(): void;
}

/** How to build an editor of one kind. Registered in the editor registry. */
export interface EditorFactory {
  readonly kind: string;
  readonly summary: string;
  /** Whether the method has a training phase (`train-editor` refuses the others). */
  readonly trainable: boolean;
  /** A fresh (untrained) editor over `modules`. */
  create(model: EditableModel, modules: readonly string[], settings: Readonly<Record<string, unknown>>): Editor;
  /** An editor restored from a directory written by `save` (editor.json already validated). */
  load(dir: string, model: EditableModel, modules: readonly string[], settings: Readonly<Record<string, unknown>>): Editor;
}
