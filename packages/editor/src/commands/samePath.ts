/**
 * Output paths that would destroy an input: `export --out` onto the base model, `export --pack` onto the journal.
 * Paths are compared as the filesystem sees them (symbolic links and `..` resolved, hard links by inode), so a
 * symlink to the base model is refused like the model's own path.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CliUsageError } from '@hiedit/tensor-core';

/** A path given on the command line, with the flag that gave it. */
export interface FlagPath {
  readonly flag: string;
  readonly path: string;
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (for paths not yet created). */
export function canonicalPath(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest);
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.unshift(path.basename(cur));
      cur = parent;
    }
  }
}

/** True when `a` and `b` name the same file or directory (same inode when both exist). */
export function samePath(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return canonicalPath(a) === canonicalPath(b);
  }
}

/** Refuses (usage error naming both flags) an output that is one of the inputs. */
export function refuseOutputOnInput(outputs: readonly FlagPath[], inputs: readonly FlagPath[]): void {
  for (const o of outputs) {
    for (const i of inputs) {
      if (samePath(o.path, i.path)) {
        throw new CliUsageError(`--${o.flag} ${o.path} is the same path as --${i.flag} ${i.path}: writing it would ` +
          `destroy the ${i.flag === 'model' ? 'base model' : i.flag}; choose another --${o.flag}`);
      }
    }
  }
}

/** Refuses a file output that would replace an existing file inside the `--model` directory. */
export function refuseFileInModelDir(output: FlagPath, modelDir: string): void {
  if (!fs.existsSync(output.path)) return;
  if (samePath(path.dirname(canonicalPath(output.path)), modelDir)) {
    throw new CliUsageError(`--${output.flag} ${output.path} would replace a file of the base model directory ` +
      `(--model ${modelDir}); choose another --${output.flag}`);
  }
}
