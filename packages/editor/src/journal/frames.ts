/**
 * Scanning and durable appending of framed files (journals and packs). The scan verifies every
 * frame's checksum once, keeps only the payload offsets, and classifies damage:
 * an INCOMPLETE last frame (the file ends inside it, or its tail is zeros that never reached the disk) is a torn
 * write (a crash mid-append) and is reported; any other damage, a complete last frame's included, is corruption
 * and refused.
 */
import * as fs from 'fs';
import { openRegularFile, tempSibling, writeFileAtomicWith, writeFully } from '@hiedit/tensor-core';
import { FRAME_DIGEST_BYTES, FRAME_PREFIX_BYTES, MAGIC_BYTES, sha256 } from './format';

/** One verified frame: where its payload lives in the file. */
export interface FrameLocation {
  /** 0-based index of the frame in the file. */
  readonly index: number;
  /** Byte offset of the frame (its length prefix) in the file. */
  readonly offset: number;
  /** Byte offset of the payload. */
  readonly payloadOffset: number;
  /** Payload length in bytes. */
  readonly payloadLength: number;
}

/** Result of scanning a framed file. */
export interface FrameScan {
  readonly frames: FrameLocation[];
  /** End of the last intact frame: where the next frame is written. */
  readonly validEnd: number;
  /** File size at scan time. */
  readonly fileSize: number;
  /** Set when a torn last frame was found after `validEnd`. */
  readonly tornTail?: { readonly offset: number; readonly bytes: number; readonly reason: string };
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, offset + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${offset + done}`);
    done += n;
  }
  return buf;
}

/**
 * Sequential reads of a file through 1 MiB windows: a scan of a long journal reads its records with a few large
 * reads instead of three small ones per record. Returned views stay valid (each window is a new buffer).
 */
class WindowReader {
  private window: Buffer = Buffer.alloc(0);
  private start = 0;

  /** `windowBytes`: 0 reads exactly what is asked (a scan of one record must not read a megabyte). */
  constructor(private readonly fd: number, private readonly size: number, private readonly windowBytes = 1 << 20) {}

  bytes(offset: number, length: number): Buffer {
    if (offset < this.start || offset + length > this.start + this.window.length) {
      this.window = readAt(this.fd, offset, Math.min(Math.max(length, this.windowBytes), this.size - offset));
      this.start = offset;
    }
    return this.window.subarray(offset - this.start, offset - this.start + length);
  }
}

function allZero(fd: number, from: number, to: number): boolean {
  const chunk = 1 << 16;
  for (let pos = from; pos < to; pos += chunk) {
    const b = readAt(fd, pos, Math.min(chunk, to - pos));
    for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  }
  return true;
}

/** Where a scan starts: the first frame's byte offset and index (a frame boundary already verified). */
export interface ScanStart {
  readonly offset: number;
  readonly index: number;
}

/**
 * Verifies the magic and every frame of `file` (from `start` on, when given: the frames before it are the caller's,
 * e.g. covered by the journal index; at most `maxFrames` frames). Throws a clear error (file, record index, byte
 * offset) for corruption; returns a `tornTail` for an incomplete last frame. `onFrame` receives every intact
 * frame's payload and SHA-256 trailer as it is verified, so a reader need not read it again. `frames` holds the
 * scanned frames only.
 */
export function scanFrames(file: string, magic: string, kind: string,
  onFrame?: (frame: FrameLocation, payload: Buffer, digest: Buffer) => void,
  opts: { start?: ScanStart; maxFrames?: number } = {}): FrameScan {
  const { start, maxFrames = Infinity } = opts;
  let fd: number;
  try {
    fd = openRegularFile(file);
  } catch (e) {
    // openRegularFile says "<file>: not a regular file (a directory)"; a system error gets its own words.
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === undefined ? (e as Error).message.replace(`${file}: `, '') : `cannot open (${(e as Error).message})`;
    throw new Error(`${kind} ${file}: ${reason}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const aKind = `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
    if (size < MAGIC_BYTES) throw new Error(`${kind} ${file}: ${size} bytes is too short to be ${aKind}`);
    const got = readAt(fd, 0, MAGIC_BYTES).toString('latin1');
    if (got !== magic) {
      throw new Error(`${kind} ${file}: bad magic ${JSON.stringify(got)} (expected ${JSON.stringify(magic)}); not ${aKind}`);
    }
    const frames: FrameLocation[] = [];
    const reader = new WindowReader(fd, size, maxFrames === Infinity ? 1 << 20 : 0);
    let offset = start?.offset ?? MAGIC_BYTES;
    const first = start?.index ?? 0;
    const torn = (reason: string): FrameScan => ({
      frames, validEnd: offset, fileSize: size, tornTail: { offset, bytes: size - offset, reason },
    });
    while (offset < size && frames.length < maxFrames) {
      const index = first + frames.length;
      const where = `${kind} ${file}: record ${index} at byte offset ${offset}`;
      if (size - offset < FRAME_PREFIX_BYTES) return torn(`only ${size - offset} bytes of a record prefix`);
      const prefix = reader.bytes(offset, FRAME_PREFIX_BYTES);
      const n = prefix.readUInt32LE(0);
      const check = prefix.readUInt32LE(4);
      if ((~n >>> 0) !== check) {
        // A crash can leave a zero-filled tail (the size grew before the data reached the disk).
        if (allZero(fd, offset, size)) return torn('zero-filled tail');
        throw new Error(`${where} is corrupted: its length field fails its check (length ${n}, check ${check}); ` +
          `the ${kind} is refused`);
      }
      const end = offset + FRAME_PREFIX_BYTES + n + FRAME_DIGEST_BYTES;
      if (end > size) return torn(`record of ${n} payload bytes extends ${end - size} bytes past the end of the file`);
      const payload = reader.bytes(offset + FRAME_PREFIX_BYTES, n);
      const digest = reader.bytes(offset + FRAME_PREFIX_BYTES + n, FRAME_DIGEST_BYTES);
      if (!sha256(payload).equals(digest)) {
        // A complete last record was fsynced before its append returned: a bad checksum there is damage to an
        // acknowledged edit, not a crash mid-append. Only a digest that never reached the disk (zeros) is torn.
        if (end === size && digest.every((b) => b === 0)) return torn('the last record\'s checksum never reached the disk');
        throw new Error(`${where} is corrupted: SHA-256 checksum mismatch (${end === size
          ? 'the record is complete, so this is not a torn write'
          : `${size - end} bytes of later records follow, so this is not a torn write`}); the ${kind} is refused. ` +
          `To keep the records before it, copy the first ${offset} bytes of the file (e.g. head -c ${offset})`);
      }
      const frame = { index, offset, payloadOffset: offset + FRAME_PREFIX_BYTES, payloadLength: n };
      frames.push(frame);
      onFrame?.(frame, payload, digest);
      offset = end;
    }
    return { frames, validEnd: offset, fileSize: size };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads the payloads of verified frames in the given order through one open file and 1 MiB windows (replaying or
 * packing a long journal reads it front to back once).
 */
export function* readPayloads(file: string, frames: readonly FrameLocation[]): Generator<Buffer> {
  const fd = fs.openSync(file, 'r');
  try {
    const reader = new WindowReader(fd, fs.fstatSync(fd).size);
    for (const f of frames) yield reader.bytes(f.payloadOffset, f.payloadLength);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads the payload of a verified frame. */
export function readPayload(file: string, frame: FrameLocation): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    return readAt(fd, frame.payloadOffset, frame.payloadLength);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Like `readPayloads`, checking each payload against its SHA-256 trailer as it is read: a record a journal index
 * vouched for was not verified when the journal was opened, so it is verified when it is used. Throws naming the
 * record when the file no longer holds what the frame says.
 */
export function* readCheckedPayloads(file: string, frames: readonly FrameLocation[], kind: string): Generator<Buffer> {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const reader = new WindowReader(fd, size);
    for (const f of frames) {
      const where = `${kind} ${file}: record ${f.index} at byte offset ${f.offset}`;
      if (f.payloadOffset + f.payloadLength + FRAME_DIGEST_BYTES > size) {
        throw new Error(`${where} lies past the end of the file (${size} bytes): the ${kind} was truncated after it was opened`);
      }
      const payload = reader.bytes(f.payloadOffset, f.payloadLength);
      if (!sha256(payload).equals(reader.bytes(f.payloadOffset + f.payloadLength, FRAME_DIGEST_BYTES))) {
        throw new Error(`${where} is corrupted: SHA-256 checksum mismatch (found when the record was read; open with ` +
          `full verification to check every record); the ${kind} is refused`);
      }
      yield payload;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Why the frame at `offset` of the open file `fd` is not the one a checkpoint recorded (payload length
 * `payloadLength`, trailer `digestHex`), or undefined when its length prefix and trailer match. Reads 40 bytes, not
 * the payload: it tells records apart (a record that moved, was replaced or was cut away), it does not re-verify one.
 */
export function frameIdentityProblem(fd: number, offset: number, payloadLength: number, digestHex: string): string | undefined {
  let prefix: Buffer;
  let digest: Buffer;
  try {
    prefix = readAt(fd, offset, FRAME_PREFIX_BYTES);
    digest = readAt(fd, offset + FRAME_PREFIX_BYTES + payloadLength, FRAME_DIGEST_BYTES);
  } catch (e) {
    return (e as Error).message;
  }
  if (prefix.readUInt32LE(0) !== payloadLength || prefix.readUInt32LE(4) !== (~payloadLength >>> 0)) {
    return `its length prefix is not ${payloadLength}`;
  }
  return digest.toString('hex') === digestHex ? undefined : 'its SHA-256 trailer differs';
}

/**
 * Writes `file` atomically (temp + fsync + rename) holding the magic and the given frames, taken one at a time (a
 * generator keeps a large pack out of memory). `exclusive`: create only, failing with code EEXIST when the file
 * exists (even when another process creates it meanwhile).
 */
export function createFramedFile(file: string, magic: string, frames: Iterable<Buffer>, opts: { exclusive?: boolean } = {}): number {
  let size = 0;
  writeFileAtomicWith(file, (fd) => {
    // Frames are gathered into writes of about 1 MiB: a pack of 100k small records is not 100k system calls.
    let pending: Buffer[] = [Buffer.from(magic, 'latin1')];
    let pendingBytes = pending[0].length;
    const flush = (): void => {
      writeFully(fd, Buffer.concat(pending, pendingBytes));
      size += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    for (const f of frames) {
      pending.push(f);
      pendingBytes += f.length;
      if (pendingBytes >= 1 << 20) flush();
    }
    flush();
  }, opts);
  return size;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process where the system tells it (Linux /proc), for lock messages. */
function commandOf(pid: number): string | undefined {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0).join(' ');
    return cmd.length > 0 ? (cmd.length > 120 ? `${cmd.slice(0, 120)}...` : cmd) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates `lock` holding our pid, atomically: the pid is written to a temp file first and hard-linked into place,
 * so a lock never exists without its pid (a full disk fails the temp file, not the lock). Returns false when the
 * lock exists.
 */
function tryCreateLock(lock: string): boolean {
  const tmp = tempSibling(lock);
  try {
    fs.writeFileSync(tmp, String(process.pid), { flag: 'wx' });
    try {
      fs.linkSync(tmp, lock);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    }
    // No hard links here: exclusive create, then the pid (a crash in between leaves a pid-less lock).
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      fs.rmSync(lock, { force: true });
      throw e;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes `lock` when it is still the file last changed at `since` (another writer may have replaced a stale lock with
 * its own meanwhile); returns whether it removed it.
 */
function removeIfUnchanged(lock: string, since: Date): boolean {
  try {
    if (fs.statSync(lock).mtime.getTime() !== since.getTime()) return false;
    fs.rmSync(lock);
    return true;
  } catch {
    return false;
  }
}

/** Why `lock` blocks us, with what holds it and how to clear it. */
function lockedMessage(file: string, lock: string, owner: number, content: string, since: Date | undefined): string {
  const when = since ? ` since ${since.toISOString()}` : '';
  if (!(Number.isInteger(owner) && owner > 0)) {
    return `journal ${file}: the lock ${lock}${when} holds no process id (${content.length === 0 ? 'it is empty'
      : `it holds ${JSON.stringify(content.slice(0, 40))}`}): a writer crashed while taking it or the disk was full. ` +
      `No live writer is known to hold it (it is taken over once unchanged for ${STALE_PIDLESS_LOCK_MS / 1000} s): if no hiedit process is writing this journal, delete ${lock}`;
  }
  const cmd = commandOf(owner);
  return `journal ${file}: locked by process ${owner}${cmd ? ` (${cmd})` : ''}${when} (${lock}); another writer is ` +
    `appending. If that process is not writing this journal (the pid of a crashed writer can be reused by another ` +
    `program), delete ${lock}`;
}

/**
 * How long a lock without a pid must be left unchanged before it is taken to be stale. This version never leaves one
 * behind a live writer (the pid is in place before the lock appears), older versions and a full disk did; their
 * writers held it for milliseconds, so a minute without change means nobody holds it.
 */
export const STALE_PIDLESS_LOCK_MS = 60_000;

/**
 * Runs `fn` holding `${file}.lock` (created exclusively, holding our pid). Two writers can otherwise
 * both see the same size and write at the same offset. A lock left by a dead process is taken over, and so is a lock
 * without a pid unchanged for `STALE_PIDLESS_LOCK_MS` (saying so through `onWarning`); a newer lock without a pid, or
 * one held by a live process for more than about a second, is refused with what holds it and how to clear it.
 */
export function withWriteLock<T>(file: string, fn: () => T, onWarning?: (message: string) => void): T {
  const lock = `${file}.lock`;
  for (let attempt = 0; ; attempt++) {
    if (tryCreateLock(lock)) break;
    let content = '';
    let since: Date | undefined;
    try {
      content = fs.readFileSync(lock, 'utf8').trim();
      since = fs.statSync(lock).mtime;
    } catch {
      continue; // released meanwhile: retry
    }
    const owner = /^\d+$/.test(content) ? Number(content) : NaN;
    const valid = Number.isInteger(owner) && owner > 0;
    if (valid && owner !== process.pid && !pidAlive(owner)) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    const age = since ? Date.now() - since.getTime() : 0;
    if (!valid && age >= STALE_PIDLESS_LOCK_MS && removeIfUnchanged(lock, since!)) {
      onWarning?.(`journal ${file}: removed the stale lock ${lock}: it held no process id ` +
        `(${content.length === 0 ? 'empty' : JSON.stringify(content.slice(0, 40))}) and was last changed ` +
        `${since!.toISOString()}, ${Math.round(age / 1000)} s ago (left by a crashed writer, a full disk or an older ` +
        'hiedit version; no writer holds a lock that long)');
      continue;
    }
    if (attempt >= 50) throw new Error(lockedMessage(file, lock, owner, content, since));
    // Appends take milliseconds: a short synchronous wait is enough.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * Writes `frame` at `at` (the end of the last intact frame), cutting away any torn tail first, and
 * fsyncs before returning. Refuses when the file grew behind our back (another writer). Call it
 * inside `withWriteLock`.
 */
export function appendFrame(file: string, at: number, expectedSize: number, frame: Buffer): number {
  const fd = fs.openSync(file, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    if (size !== expectedSize) {
      throw new Error(`journal ${file}: size changed on disk from ${expectedSize} to ${size} bytes since it was ` +
        `opened (another writer?); reopen it`);
    }
    try {
      if (size > at) fs.ftruncateSync(fd, at);
      let done = 0;
      while (done < frame.length) done += fs.writeSync(fd, frame, done, frame.length - done, at + done);
      fs.fsyncSync(fd);
    } catch (e) {
      // A partial frame must not stay behind the last intact one: cut it away so the file ends at `at` again.
      let restored = true;
      try {
        fs.ftruncateSync(fd, at);
        fs.fsyncSync(fd);
      } catch {
        restored = false;
      }
      throw new AppendFailure(file, at, restored, e as Error);
    }
  } finally {
    fs.closeSync(fd);
  }
  return at + frame.length;
}

/**
 * A failed append. `restored`: the file was cut back to `at` (its size is `at`, nothing torn is left);
 * otherwise its size is unknown and the journal must be reopened (the torn tail is then skipped and cut away).
 */
export class AppendFailure extends Error {
  constructor(readonly file: string, readonly at: number, readonly restored: boolean, readonly reason: Error) {
    super(`journal ${file}: append at byte offset ${at} failed (${reason.message}); ` +
      (restored ? 'the partial record was removed, nothing was recorded'
        : 'the partial record could not be removed: reopen the journal (the torn record is then ignored)'));
    this.name = 'AppendFailure';
  }
}
