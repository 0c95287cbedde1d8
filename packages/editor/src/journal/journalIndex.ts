/**
 * The journal's sidecar index (`<journal>.index`): checkpoints of what a full scan of the journal learns, so opening a
 * long journal reads only the records written after the last checkpoint (see docs/editor.md, "Journal index").
 *
 * Same framing as the journal (magic `HIEDITX1`): a head frame naming the journal it belongs to (the digest and end of
 * the journal's header record), then one frame per checkpoint segment listing, for each record it covers, the record's
 * type, edit id and payload length, plus the byte range the segment covers and the SHA-256 trailer of its last
 * record (see `IndexSegment`). Segments are appended (one fsynced frame per checkpoint, so appending costs the same at any length); a full
 * rebuild is written to a temp file and renamed.
 *
 * The index is a cache, verified and never trusted: `readJournalIndex` checks it against the journal (header record,
 * every segment's last record, continuity of offsets) and reports why it cannot be used; the journal then scans
 * everything and rebuilds it.
 */
import * as fs from 'fs';
import { decodePayload, encodeFrame, encodePayload, FRAME_DIGEST_BYTES, FRAME_PREFIX_BYTES } from './format';
import { appendFrame, createFramedFile, frameIdentityProblem, scanFrames } from './frames';
import { EDIT, editNumber, ROLLBACK } from './recordTable';

/** Magic of a journal index (format version 1). */
export const INDEX_MAGIC = 'HIEDITX1';

/** Records after the last checkpoint that trigger the next one (the most an open has to verify record by record). */
export const DEFAULT_INDEX_EVERY = 512;

/** Bytes after the last checkpoint that trigger the next one, whatever the record count (large dense shifts). */
export const INDEX_EVERY_BYTES = 8 << 20;

/**
 * One checkpoint: consecutive journal records from `startByte` to `endByte`. Its frame's payload is a JSON document
 * (u32 length first, as in the journal) followed by three arrays of `count` entries: payload lengths (u32), edit
 * numbers N of ids `eN` (u32; 0 where the id has another form, listed in `otherIds` by position) and record types
 * (u8: 1 edit, 2 rollback). Binary, not JSON arrays: 100,000 entries parse in a loop instead of 100,000 objects.
 */
export interface IndexSegment {
  /** Frame index (1-based: frame 0 is the header) of the first record of the segment. */
  readonly firstRecord: number;
  readonly startByte: number;
  readonly endByte: number;
  /** Hex SHA-256 trailer of the segment's last record, as stored in the journal. */
  readonly lastDigest: string;
  readonly types: Uint8Array;
  readonly lengths: Uint32Array;
  /** Edit numbers, -1 where the id is in `otherIds`. */
  readonly nums: Float64Array;
  /** Position in the segment -> edit id not of the form `eN`. */
  readonly otherIds: ReadonlyMap<number, string>;
}

/** The journal an index belongs to: its header record's trailer and end offset. */
export interface IndexHead {
  readonly headerDigest: string;
  readonly headerEnd: number;
}

/** A verified index: its checkpoints (with their payloads, to rewrite it), where coverage ends, its file's end. */
export interface LoadedIndex {
  readonly segments: IndexSegment[];
  readonly payloads: Buffer[];
  /** Records covered. */
  readonly records: number;
  /** Journal byte offset where the covered records end. */
  readonly coveredEnd: number;
  /** Size of the index file, and where its next frame goes (a torn last index frame is cut away then). */
  readonly indexEnd: number;
  readonly indexSize: number;
}

/** The index file of a journal. */
export function indexFileOf(journalFile: string): string {
  return `${journalFile}.index`;
}

function encodeHead(head: IndexHead): Buffer {
  return encodeFrame(encodePayload({ type: 'journal-index', version: 1, ...head }, []));
}

/** Encodes one segment's payload (see `IndexSegment`). */
export function encodeSegment(s: IndexSegment): Buffer {
  const count = s.types.length;
  const otherIds: Record<string, string> = {};
  for (const [pos, id] of s.otherIds) otherIds[pos] = id;
  const text = Buffer.from(JSON.stringify({ type: 'segment', firstRecord: s.firstRecord, startByte: s.startByte,
    endByte: s.endByte, lastDigest: s.lastDigest, count, otherIds }), 'utf8');
  const out = Buffer.alloc(4 + text.length + count * 9);
  out.writeUInt32LE(text.length, 0);
  text.copy(out, 4);
  let pos = 4 + text.length;
  for (let i = 0; i < count; i++, pos += 4) out.writeUInt32LE(s.lengths[i], pos);
  for (let i = 0; i < count; i++, pos += 4) out.writeUInt32LE(s.nums[i] < 0 ? 0 : s.nums[i], pos);
  for (let i = 0; i < count; i++) out[pos++] = s.types[i];
  return out;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function decodeSegment(payload: Buffer, where: string): IndexSegment | string {
  let json: Record<string, unknown>;
  try {
    json = decodePayload(payload, where).json;
  } catch (e) {
    return (e as Error).message;
  }
  const { firstRecord, startByte, endByte, lastDigest, count, otherIds } = json;
  if (json.type !== 'segment' || !isCount(firstRecord) || !isCount(startByte) || !isCount(endByte) || !isCount(count) ||
    count === 0 || typeof lastDigest !== 'string' || otherIds === null || typeof otherIds !== 'object') {
    return 'a checkpoint segment is malformed';
  }
  let pos = 4 + payload.readUInt32LE(0);
  if (payload.length - pos !== count * 9) return 'a checkpoint segment\'s arrays do not match its record count';
  const lengths = new Uint32Array(count);
  const nums = new Float64Array(count);
  const types = new Uint8Array(count);
  for (let i = 0; i < count; i++, pos += 4) lengths[i] = payload.readUInt32LE(pos);
  for (let i = 0; i < count; i++, pos += 4) nums[i] = payload.readUInt32LE(pos) || -1;
  for (let i = 0; i < count; i++) {
    types[i] = payload[pos++];
    if (types[i] !== EDIT && types[i] !== ROLLBACK) return 'a checkpoint segment holds an unknown record type';
  }
  const others = new Map<number, string>();
  for (const [k, id] of Object.entries(otherIds as Record<string, unknown>)) {
    const at = Number(k);
    if (!Number.isInteger(at) || at < 0 || at >= count || nums[at] !== -1 || typeof id !== 'string' || editNumber(id) > 0) {
      return 'a checkpoint segment names an edit id it should not';
    }
    others.set(at, id);
  }
  for (let i = 0; i < count; i++) if (nums[i] === -1 && !others.has(i)) return 'a checkpoint segment lacks an edit id';
  return { firstRecord, startByte, endByte, lastDigest, types, lengths, nums, otherIds: others };
}

/**
 * Reads the index of `journalFile` and checks it against the journal open on `fd` (of `journalSize` bytes) whose header
 * is `head`. Returns the verified index, or a string saying why it cannot be used (missing, corrupt, for another
 * journal, covering bytes the journal no longer has, records that moved or changed). Reads the index and, per segment,
 * the length prefix and trailer of its last record: no journal payload is read.
 */
export function readJournalIndex(journalFile: string, fd: number, journalSize: number, head: IndexHead): LoadedIndex | string {
  const file = indexFileOf(journalFile);
  if (!fs.existsSync(file)) return 'missing';
  const payloads: Buffer[] = [];
  let scan;
  try {
    scan = scanFrames(file, INDEX_MAGIC, 'journal index', (_f, p) => { payloads.push(p); });
  } catch (e) {
    return `unreadable (${(e as Error).message})`;
  }
  if (payloads.length === 0) return 'it has no head record';
  const at = (i: number): string => `journal index ${file}: record ${i}`;
  let headJson: Record<string, unknown>;
  try {
    headJson = decodePayload(payloads[0], at(0)).json;
  } catch (e) {
    return (e as Error).message;
  }
  if (headJson.type !== 'journal-index' || headJson.version !== 1) return 'its head record is not a version 1 journal index head';
  if (headJson.headerDigest !== head.headerDigest || headJson.headerEnd !== head.headerEnd) {
    return 'it belongs to another journal (the header record differs: the journal was replaced or recreated)';
  }
  const segments: IndexSegment[] = [];
  let records = 0;
  let end = head.headerEnd;
  for (let i = 1; i < payloads.length; i++) {
    const seg = decodeSegment(payloads[i], at(i));
    if (typeof seg === 'string') return seg;
    if (seg.firstRecord !== records + 1 || seg.startByte !== end) {
      return `checkpoint ${i} does not continue the one before it (record ${seg.firstRecord} at byte ${seg.startByte}, ` +
        `expected record ${records + 1} at byte ${end})`;
    }
    let span = 0;
    for (const n of seg.lengths) span += FRAME_PREFIX_BYTES + n + FRAME_DIGEST_BYTES;
    if (seg.startByte + span !== seg.endByte) return `checkpoint ${i}'s record lengths do not add up to its byte range`;
    if (seg.endByte > journalSize) {
      return `it covers ${seg.endByte} bytes but the journal has ${journalSize} (the journal was truncated or replaced)`;
    }
    const last = seg.lengths[seg.lengths.length - 1];
    const lastStart = seg.endByte - FRAME_PREFIX_BYTES - last - FRAME_DIGEST_BYTES;
    const problem = frameIdentityProblem(fd, lastStart, last, seg.lastDigest);
    if (problem) {
      return `record ${seg.firstRecord + seg.lengths.length - 1} at byte offset ${lastStart} no longer matches checkpoint ` +
        `${i} (${problem}: the journal was changed or replaced)`;
    }
    records += seg.lengths.length;
    segments.push(seg);
    end = seg.endByte;
  }
  return { segments, payloads: payloads.slice(1), records, coveredEnd: end, indexEnd: scan.validEnd, indexSize: scan.fileSize };
}

/** Writes a complete index atomically (temp + fsync + rename) from its segments' payloads; returns its size. */
export function writeJournalIndex(journalFile: string, head: IndexHead, segmentPayloads: readonly Buffer[]): number {
  return createFramedFile(indexFileOf(journalFile), INDEX_MAGIC, [encodeHead(head), ...segmentPayloads.map(encodeFrame)]);
}

/**
 * Appends one segment to the index (fsynced); `at` is the end of its last intact frame and `expectedSize` its size on
 * disk, as last seen: an index replaced or grown by another process meanwhile is refused (the caller rewrites it).
 * Returns the new size.
 */
export function appendIndexSegment(journalFile: string, at: number, expectedSize: number, segmentPayload: Buffer): number {
  return appendFrame(indexFileOf(journalFile), at, expectedSize, encodeFrame(segmentPayload));
}
