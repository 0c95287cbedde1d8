/**
 * Atomic writes: a reader (or a concurrent run, e.g. two Nx targets sharing a cache) sees either the old
 * state or the complete new one, never a half-written file or directory.
 */
import * as fs from 'fs';
import * as path from 'path';

let counter = 0;

/** A sibling temporary path unique to this process and call. */
export function tempSibling(target: string): string {
  counter++;
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}-${counter}`);
}

/** Writes `data` to `file` through a temporary sibling and a rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempSibling(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes JSON (2-space indented, trailing newline) atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Builds a directory atomically: `fill` writes into a fresh temporary sibling, which is then renamed to
 * `dir`. If `dir` already exists (another process finished first) the temporary copy is discarded and
 * the existing directory is kept, unless `replace` is set, in which case the old one is swapped out.
 */
export async function buildDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void> | void, opts: { replace?: boolean } = {}): Promise<void> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = tempSibling(dir);
  fs.mkdirSync(tmp);
  try {
    await fill(tmp);
    if (opts.replace && fs.existsSync(dir)) {
      const old = tempSibling(dir);
      fs.renameSync(dir, old);
      fs.renameSync(tmp, dir);
      fs.rmSync(old, { recursive: true, force: true });
      return;
    }
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && fs.existsSync(dir)) {
        fs.rmSync(tmp, { recursive: true, force: true });
        return;
      }
      throw e;
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
