/**
 * Atomic writes for every package: a reader (or a concurrent run sharing a cache) sees either the old
 * state or the complete new one, never a half-written file or directory. Files go through a temporary
 * sibling (same directory, hence same filesystem, so the rename is atomic), are fsynced before the
 * rename, and the directory is fsynced after it so the rename itself survives a crash.
 */
import * as fs from 'fs';
import * as path from 'path';

let counter = 0;

/** A hidden temporary sibling path of `target`, unique to this process and call. */
export function tempSibling(target: string): string {
  counter++;
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}-${counter}`);
}

/** Best effort: make a rename inside `dir` durable (directories cannot be fsynced on every platform). */
export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not supported here; the rename is still atomic, only its durability is weaker */
  }
}

/** Writes all of `bytes` at the file position (writeSync may write less than asked). */
export function writeFully(fd: number, bytes: Uint8Array): void {
  // 1 GiB at a time: a single write of more than 2 GiB fails on some platforms.
  const chunk = 1 << 30;
  let done = 0;
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, Math.min(chunk, bytes.length - done));
  }
}

/** Options of `writeFileAtomicWith`. */
export interface AtomicWriteOptions {
  /**
   * Create only: fail with code EEXIST when `file` exists, even if another process creates it while this one
   * writes. The complete temp file is hard-linked into place (a link never replaces an existing name, a rename
   * does); where the filesystem has no hard links it is copied with COPYFILE_EXCL (still exclusive, no longer
   * atomic against a crash).
   */
  exclusive?: boolean;
}

/** An error of an atomic write, naming the file and keeping the system error's code (EEXIST, ENOSPC, ...). */
function writeError(target: string, e: unknown): Error {
  const err = new Error(`cannot write ${target}: ${(e as Error).message}`) as NodeJS.ErrnoException;
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== undefined) err.code = code;
  return err;
}

/** Puts the finished `tmp` at `target` without ever replacing an existing `target`. */
function placeExclusive(tmp: string, target: string): void {
  try {
    fs.linkSync(tmp, target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    fs.copyFileSync(tmp, target, fs.constants.COPYFILE_EXCL);
  }
  fs.rmSync(tmp, { force: true });
}

/**
 * Creates or replaces `file` atomically with whatever `write` writes to the open descriptor (for
 * contents too large to assemble in memory). The parent directory is created if needed. Errors name
 * the file: `cannot write <file>: <reason>`, with the reason's `code`. `opts.exclusive`: create only.
 */
export function writeFileAtomicWith(file: string, write: (fd: number) => void, opts: AtomicWriteOptions = {}): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = tempSibling(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    if (opts.exclusive) placeExclusive(tmp, target);
    else fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw writeError(target, e);
  }
  fsyncDir(dir);
}

/** Creates or replaces `file` atomically with `data` (strings as UTF-8); creates the parent directory. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  writeFileAtomicWith(file, (fd) => writeFully(fd, bytes));
}

/** Writes `value` as JSON (indented by `indent`, default 2, with a trailing newline) atomically. */
export function writeJsonAtomic(file: string, value: unknown, indent = 2): void {
  writeFileAtomic(file, JSON.stringify(value, null, indent) + '\n');
}

/**
 * Builds the directory `dir` atomically: `fill` writes into a fresh temporary sibling, which is then
 * renamed to `dir`. If `dir` exists already: with `replace`, the old one is swapped out (it stays
 * complete under a side name until the new one is in place); without it, the existing directory is kept
 * (another process finished first) and the new copy is discarded. Resolves to whether `dir` now holds
 * what `fill` wrote. On any error the temporary directory is removed and `dir` is left as it was.
 */
export async function writeDirAtomic(
  dir: string,
  fill: (tmpDir: string) => Promise<void> | void,
  opts: { replace?: boolean } = {},
): Promise<boolean> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = tempSibling(target);
  fs.mkdirSync(tmp);
  try {
    await fill(tmp);
    if (opts.replace && fs.existsSync(target)) {
      const old = tempSibling(target);
      fs.renameSync(target, old);
      fs.renameSync(tmp, target);
      fs.rmSync(old, { recursive: true, force: true });
      fsyncDir(parent);
      return true;
    }
    try {
      fs.renameSync(tmp, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!opts.replace && (code === 'ENOTEMPTY' || code === 'EEXIST') && fs.existsSync(target)) {
        fs.rmSync(tmp, { recursive: true, force: true });
        return false;
      }
      throw e;
    }
    fsyncDir(parent);
    return true;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
