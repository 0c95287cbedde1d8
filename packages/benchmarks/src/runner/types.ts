/**
 * What the runner needs from models, editors and datasets: llm-loader's CausalLM and @hiedit/editor's factories fit as
 * they are, and tests can run the whole pipeline on toys that implement the editor package's interfaces.
 */
import type { TokenizedTuple } from '@hiedit/tensor-core';
import type { EditRequest, Editor, EditorFactory, EditorModel, EditorTokenizer, ShiftProposal, TrainProgress } from '@hiedit/editor';
import type { EvalModel, MetricStyle } from '../eval';
import type { ProgressFactory } from '../progress';
import type { ModelSize } from '../testbed/modelSize';
import type { PretrainArch } from '../testbed/pretrain';

/** A model the benchmark can edit and measure: a model an editor session accepts (CausalLM satisfies it). */
export interface BenchModel extends EditorModel, EvalModel {
  readonly tokenizer?: EditorTokenizer;
  dispose(): void;
}

/** The benchmark's editors are the editor package's: the stream runs them through an editor session. */
export type BenchEditor = Editor;
/** An editor's proposal for one request. */
export type BenchProposal = ShiftProposal;
/** One training progress event. */
export type BenchTrainProgress = TrainProgress;
/** How to build an editor of one kind (the editor registry's factories). */
export type BenchEditorFactory = EditorFactory;

/** The datasets a run can use. */
export type BenchDataset = 'world' | 'counterfact' | 'zsre';

/** A request as text: the project's one edit request (@hiedit/editor's EditRequest), under its runner name. */
export type TextRequest = EditRequest;

/** A true fact as text. */
export interface TextFact {
  readonly prompt: string;
  readonly answer: string;
}

/** The records of a run: every request of the file, and facts no request touches (for retention). */
export interface DataBundle {
  /** Short label of the data (file base name, or `world-s<seed>`). */
  readonly label: string;
  /** sha256 of the record file (part of the resume key). */
  readonly hash: string;
  /** The record file (for the settings shown in the report). */
  readonly file: string;
  readonly requests: readonly TextRequest[];
  /**
   * Facts for the retention metric. When absent the runner takes the true facts of requests that are in
   * no split.
   */
  readonly heldOutFacts?: readonly TextFact[];
  /** Records refused by the loader under --skip-invalid (index and reason). */
  readonly skipped?: readonly { readonly index: number; readonly message: string }[];
}

/** A ready model and how to tokenize for it. */
export interface ModelBundle {
  readonly model: BenchModel;
  /** Label for results.json "model" (directory base name or a description). */
  readonly name: string;
  /** Checkpoint directory the model came from. */
  readonly dir: string;
  /** Identity of the weights (part of the resume key). */
  readonly hash: string;
  /** (prompt, answer) -> teacher-forcing tuple (spec §2). */
  tokenize(prompt: string, answer: string): TokenizedTuple;
  /** Remarks for the report (e.g. the facts the model knew after pretraining). */
  readonly notes?: readonly string[];
  /** Size preset and architecture of a built-in world / facts model (absent for a --model checkpoint). */
  readonly builtIn?: { readonly size: ModelSize; readonly arch: PretrainArch };
}

/** Everything the runner gets from the other packages; {@link defaultDeps} wires the real ones. */
export interface RunnerDeps {
  /** Loads (or, for `world`, generates) the records. */
  loadData(opts: RunOptions, progress: ProgressFactory): Promise<DataBundle>;
  /**
   * Loads `--model`, or pretrains / reuses the cached world or facts model. `teach` lists the ids of the
   * requests the run uses (splits and retention), the records a facts model must know.
   */
  obtainModel(opts: RunOptions, data: DataBundle, progress: ProgressFactory, teach: readonly string[]): Promise<ModelBundle>;
  /** The factory of an editor kind (throws naming the known kinds). */
  editorFactory(kind: string): BenchEditorFactory;
  /** Default edit modules of a model. */
  defaultModules(model: BenchModel): string[];
}

/** Options of one benchmark run (the CLI flags). */
export interface RunOptions {
  dataset: BenchDataset;
  /** Record file (required for counterfact / zsre; world generates its own when absent). */
  data?: string;
  /** Checkpoint directory; default: world model / facts model. */
  model?: string;
  editors: string[];
  /** Training stream length; default {@link defaultSizes}. */
  nTrain?: number;
  /** Validation split size (early stopping); default max(5, round(nTrain / 5)), within what the data holds. */
  nVal?: number;
  /** Evaluation stream length; default {@link defaultSizes}. */
  nEval?: number;
  /** Pre_* over the first numPre edits; default min(20, nEval). */
  numPre?: number;
  seed: number;
  /** Output directory. */
  out: string;
  /** ES/GS scoring; default counterfact-style for world and counterfact, zsRE-style for zsre. */
  style?: MetricStyle;
  /** Measure WILD_ES / WILD_GS (greedy generation). Default true. */
  wild?: boolean;
  /** Held-out facts for retention (default 200). */
  heldOut?: number;
  /** Per-editor settings, passed to the editor factory and its training. */
  editorSettings?: Record<string, Record<string, unknown>>;
  /**
   * The edit-time machinery (`machinery` setting) of every policy editor of the run (runMachinery.ts); absent: each
   * editor's own default.
   */
  machinery?: 'hiedit' | 'none';
  /** Edit modules (default: the editor package's default for the architecture). */
  modules?: string[];
  /** Where pretrained world / facts models are cached (default: <out>/../.cache or HIEDIT_CACHE). */
  cacheDir?: string;
  /** Skip invalid records of --data (each is reported) instead of stopping at the first. */
  skipInvalid?: boolean;
  /** Discard any previous state in `out` instead of resuming it. */
  fresh?: boolean;
  /** Resume state of the same settings, but discard state of other settings instead of refusing it. */
  overwrite?: boolean;
  /** No progress bars. */
  quiet?: boolean;
  /** Journal each editor's evaluation stream to editors/NAME/stream.hjournal (`hiedit export` rebuilds its final model). */
  journal?: boolean;
}
