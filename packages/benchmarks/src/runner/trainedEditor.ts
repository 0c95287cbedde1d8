/**
 * One editor of a run, ready to edit: its settings resolved (the cache key stands for them), then either the trained
 * editor directory an earlier run left (loaded through editor.json, as `hiedit edit --editor` loads it) or a new editor,
 * trained through an editor session on the run's training split and saved as an editor directory.
 */
import * as fs from 'fs';
import { POLICY_VERSION } from '@hiedit/rl-hierarchy';
import {
  EDITOR_JSON, LifelongEditor, loadEditorDir, modelShapeInfo, saveEditorDir, type EditorTrainResult, type ResolvedSettings, type TupleTokenizer,
} from '@hiedit/editor';
import * as path from 'path';
import type { ProgressFactory } from '../progress';
import { readJsonIfExists, RunDir, settingsKey, writeDirAtomic, writeFileAtomic, writeJsonAtomic } from './state';
import type { BenchEditor, BenchEditorFactory, BenchModel, TextRequest } from './types';

/** Training time and size of a trained editor (null for editors without training). */
export type TrainInfo = { seconds: number; epochs?: number; steps?: number } | null;

/**
 * Readies the editor's training checkpoint directory: a checkpoint written under other settings is
 * discarded; returns whether a checkpoint of these settings is there to resume from.
 */
export function prepareCheckpointDir(dir: string, key: string): boolean {
  const keyFile = `${dir}.key`;
  const prevKey = fs.existsSync(keyFile) ? fs.readFileSync(keyFile, 'utf8').trim() : undefined;
  if (prevKey !== key) {
    fs.rmSync(dir, { recursive: true, force: true });
    writeFileAtomic(keyFile, `${key}\n`);
    return false;
  }
  return fs.existsSync(dir) && fs.readdirSync(dir).length > 0;
}

/** What an editor of a run is built from. */
export interface EditorIdentity {
  name: string;
  factory: BenchEditorFactory;
  model: BenchModel;
  modules: readonly string[];
  /** The user's settings of this editor (the run's seed is the policy seed unless they give one). */
  given: Readonly<Record<string, unknown>>;
  seed: number;
  /** Key of the run's settings: the editor's key extends it. */
  runKey: string;
}

/**
 * The editor's settings, resolved once (with the run's seed as the policy's initialization seed unless the settings
 * give one), and the key of the run's work for it. The key covers the resolved settings (defaults included), not only
 * the command line's: a change of defaults must not reuse editors trained under the old ones. The policy file format
 * stands for the policies' code likewise.
 */
export function editorKey(id: EditorIdentity): { settings: ResolvedSettings; key: string } {
  const settings = id.factory.resolveSettings(modelShapeInfo(id.model, id.modules), id.given, { seed: id.seed });
  const key = settingsKey({ run: id.runKey, editor: id.name, settings: { ...settings, policyFormat: POLICY_VERSION } });
  return { settings, key };
}

/** What readying an editor needs from the run. */
export interface EditorInputs extends EditorIdentity {
  /** What {@link editorKey} gave for this identity (the caller resolved it once, e.g. to check for a saved result). */
  resolved: { settings: ResolvedSettings; key: string };
  run: RunDir;
  train: readonly TextRequest[];
  validation: readonly TextRequest[];
  tokenize: TupleTokenizer;
  progress: ProgressFactory;
  log(line: string): void;
}

/** An editor ready to edit, with the key of its settings and how it was trained. */
export interface ReadyEditor {
  editor: BenchEditor;
  key: string;
  train: TrainInfo;
  /** Whether the trained editor came from an earlier run. */
  loaded: boolean;
}

/** Loads the editor an earlier run trained under the same key, or creates (and, for trainable methods, trains) one. */
export async function readyEditor(inp: EditorInputs): Promise<ReadyEditor> {
  const { name, factory, model, modules, run } = inp;
  const { settings, key } = inp.resolved;
  const trainedMeta = readJsonIfExists<{ key: string; seconds: number; epochs?: number; steps?: number }>(run.trainMetaJson(name));
  const dir = run.trainedDir(name);
  if (factory.trainable && trainedMeta?.key === key && fs.existsSync(path.join(dir, EDITOR_JSON))) {
    // editor.json holds the settings the editor was created and trained with, so a resumed run edits exactly as an
    // uninterrupted one (a reload from the command line's settings once lost HiEdit's calibration).
    const { editor } = loadEditorDir(dir, model, (kind) => {
      if (kind !== name) throw new Error(`${dir}: holds a ${kind} editor, the run expects ${name}`);
      return factory;
    });
    inp.log(`${name}: trained earlier, loading ${dir}`);
    return { editor, key, loaded: true,
      train: { seconds: trainedMeta.seconds, epochs: trainedMeta.epochs, steps: trainedMeta.steps } };
  }
  const editor = factory.create(model, modules, settings);
  if (!factory.trainable) return { editor, key, train: null, loaded: false };
  try {
    if (inp.train.length === 0) throw new Error(`editor ${name} needs training but --train is 0`);
    const ckpt = run.trainCheckpointDir(name);
    const resume = prepareCheckpointDir(ckpt, key);
    if (resume) inp.log(`${name}: resuming training from ${ckpt}`);
    const t0 = Date.now();
    const res = await trainInSession(inp, editor, ckpt, resume);
    if (!res.finished) throw new Error(`editor ${name}: training stopped before it finished`);
    // The editor reports its training seconds, earlier (resumed) sessions included; this session's time is the fallback.
    const train = { seconds: res.seconds > 0 ? res.seconds : (Date.now() - t0) / 1000, epochs: res.epochs, steps: res.steps };
    await writeDirAtomic(dir, (tmp) => {
      saveEditorDir(tmp, editor, model, { steps: res.steps, epochs: res.epochs, seed: inp.seed, finished: res.finished });
    });
    writeJsonAtomic(run.trainMetaJson(name), { key, ...train });
    return { editor, key, train, loaded: false };
  } catch (e) {
    editor.dispose();
    throw e;
  }
}

/**
 * Trains through an editor session (which validates and tokenizes the requests as `hiedit train-editor` does and puts
 * the edit modules back when training stops), with a progress bar per epoch.
 */
async function trainInSession(inp: EditorInputs, editor: BenchEditor, checkpointDir: string, resume: boolean): Promise<EditorTrainResult> {
  let bar: ReturnType<ProgressFactory> | undefined;
  let barKey = '';
  const session = new LifelongEditor({ model: inp.model, editor, tokenize: inp.tokenize });
  const res = await session.train(inp.train, {
    seed: inp.seed,
    validationRequests: inp.validation,
    checkpointDir,
    resume,
    onProgress: (e) => {
      const k = `${e.phase}:${e.epoch}`;
      if (e.phase === 'train' || e.phase === 'validate') {
        if (k !== barKey) {
          bar?.finish();
          barKey = k;
          bar = inp.progress(`${inp.name} ${e.phase} epoch ${e.epoch + 1}`, Math.max(e.total, 0));
        }
        bar!.set(e.step, e.loss !== undefined ? `loss ${e.loss.toFixed(4)}` : e.message);
      }
    },
  });
  bar?.finish();
  return res;
}
