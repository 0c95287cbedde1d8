/**
 * The on-disk state of a run, so an interrupted run resumes: every file is written atomically
 * (temp + rename) and carries the key of the settings it was computed under; a phase whose output exists
 * with the current key is skipped.
 *
 * Layout of the output directory:
 *   run.json                   settings and their key (a run refuses a directory with other settings)
 *   baseline.json              unedited predictions (locality argmax, held-out facts)
 *   editors/NAME/trained/      the trained editor (editor directory), written once training finished
 *   editors/NAME/train-ckpt/   the editor's own training checkpoints (resume mid-training)
 *   editors/NAME/result.json   metrics, curve and module records of the editor
 *   results.json, details.json, report.html
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  writeDirAtomic as tcWriteDirAtomic,
  writeFileAtomic as tcWriteFileAtomic,
  writeJsonAtomic as tcWriteJsonAtomic,
} from '@hiedit/tensor-core';
import { cacheKey, canonicalJson } from '../testbed/pretrain/cache';

/** Writes a file atomically (tensor-core's temp + fsync + rename): readers see old or new, never torn. */
export function writeFileAtomic(file: string, content: string): void {
  tcWriteFileAtomic(file, content);
}

/** Compact JSON with a trailing newline, written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  tcWriteJsonAtomic(file, value, 1);
}

/** Parsed JSON of a file, or undefined when it does not exist; a corrupt file is an error naming it. */
export function readJsonIfExists<T = unknown>(file: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); delete it to recompute that phase`);
  }
}

/**
 * Fills a directory atomically: `fill` writes into a temporary sibling which then replaces `dir`, so
 * `dir` either does not exist or is complete.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => void | Promise<void>): Promise<void> {
  await tcWriteDirAtomic(dir, fill, { replace: true });
}

export { canonicalJson };

/** Short sha256 key of a settings object. */
export function settingsKey(v: unknown): string {
  return cacheKey(v).slice(0, 16);
}

/** The paths of a run directory. */
export class RunDir {
  constructor(readonly root: string) {}
  get runJson(): string {
    return path.join(this.root, 'run.json');
  }
  get baselineJson(): string {
    return path.join(this.root, 'baseline.json');
  }
  get resultsJson(): string {
    return path.join(this.root, 'results.json');
  }
  get detailsJson(): string {
    return path.join(this.root, 'details.json');
  }
  get reportHtml(): string {
    return path.join(this.root, 'report.html');
  }
  editorDir(name: string): string {
    return path.join(this.root, 'editors', name);
  }
  trainedDir(name: string): string {
    return path.join(this.editorDir(name), 'trained');
  }
  trainMetaJson(name: string): string {
    return path.join(this.editorDir(name), 'trained.json');
  }
  trainCheckpointDir(name: string): string {
    return path.join(this.editorDir(name), 'train-ckpt');
  }
  editorResultJson(name: string): string {
    return path.join(this.editorDir(name), 'result.json');
  }
  /** The run's requests as files (train / validation / evaluation splits, held-out facts). */
  get requestsDir(): string {
    return path.join(this.root, 'requests');
  }
  /** The evaluation stream's journal (`--journal`): `hiedit export` rebuilds the editor's final model from it. */
  streamJournal(name: string): string {
    return path.join(this.editorDir(name), 'stream.hjournal');
  }
}

/**
 * What to do with earlier state in the run directory: `resume` it when its settings match and refuse
 * otherwise (default), always discard it (`fresh`), or resume matching state and discard state of other
 * settings (`overwrite`, for automation such as the Nx targets).
 */
export type ClaimMode = 'resume' | 'fresh' | 'overwrite';

/**
 * Claims `dir` for a run with `settings`: a new directory gets run.json; one with the same settings is
 * resumed; one with other settings is refused (naming the differences) unless the mode says to discard it.
 * Returns true when earlier state is being resumed.
 */
export function claimRunDir(run: RunDir, settings: Record<string, unknown>, mode: ClaimMode | boolean = 'resume'): boolean {
  const m: ClaimMode = mode === true ? 'fresh' : mode === false ? 'resume' : mode;
  const key = settingsKey(settings);
  const prev = readJsonIfExists<{ key?: string; settings?: Record<string, unknown> }>(run.runJson);
  if (prev && (m === 'fresh' || (m === 'overwrite' && prev.key !== key))) {
    for (const f of ['run.json', 'baseline.json', 'results.json', 'details.json', 'report.html', 'editors']) {
      fs.rmSync(path.join(run.root, f), { recursive: true, force: true });
    }
  } else if (prev) {
    if (prev.key === key) return true;
    const before = prev.settings ?? {};
    const diffs = [...new Set([...Object.keys(before), ...Object.keys(settings)])]
      .filter((k) => canonicalJson(before[k]) !== canonicalJson(settings[k]))
      .map((k) => `${k}: ${canonicalJson(before[k])} -> ${canonicalJson(settings[k])}`);
    throw new Error(
      `${run.root} holds a run with other settings (${diffs.join('; ') || 'different key'}); ` +
        'use another --out, or --fresh (or --overwrite) to discard it',
    );
  }
  writeJsonAtomic(run.runJson, { key, settings, created: new Date().toISOString() });
  return false;
}
