/**
 * The journal's sidecar index (`<journal>.index`): checkpoints of what a full scan of the journal learns, so opening a
 * long journal reads only the records written after the last checkpoint (see docs/editor.md, "Journal index").
 *
 * Same framing as the journal (magic `HIEDITX1`): a head frame naming the journal it belongs to (the digest and end of
 * the journal's header record), then one frame per checkpoint segment listing, for each record it covers, the record's
 * type, edit id and payload length, plus the byte range the segment covers and the SHA-256 trailer of its last
 * record. Segments are appended (one fsynced frame per checkpoint, so appending costs the same at any length); a full
 * rebuild is written to a temp file and renamed.
 *
 * The index is a cache, verified and never trusted: `readJournalIndex` checks it against the journal (header record,
 * every segment's last record, continuity of offsets) and reports why it cannot be used; the journal then scans
 * everything and rebuilds it.
 */
import * as fs from 'fs';
import { decodePayload, encodeFrame, encodePayload, FRAME_DIGEST_BYTES, FRAME_PREFIX_BYTES } from './format';
import { appendFrame, createFramedFile, frameIdentityProblem, scanFrames } from './frames';

/** Magic of a journal index (format version 1). */
export const INDEX_MAGIC = 'HIEDITX1';

/** Records after the last checkpoint that trigger the next one (the most an open has to verify record by record). */
export const DEFAULT_INDEX_EVERY = 512;

/** Bytes after the last checkpoint that trigger the next one, whatever the record count (large dense shifts). */
export const INDEX_EVERY_BYTES = 8 << 20;

/** What the index keeps of one journal record. */
export interface IndexedRecord {
  readonly type: 'edit' | 'rollback';
  readonly editId: string;
  readonly payloadLength: number;
}

/** One checkpoint: consecutive journal records from `startByte` to `endByte`. */
export interface IndexSegment {
  /** Frame index (1-based: frame 0 is the header) of the first record of the segment. */
  readonly firstRecord: number;
  readonly startByte: number;
  readonly endByte: number;
  /** Hex SHA-256 trailer of the segment's last record, as stored in the journal. */
  readonly lastDigest: string;
  readonly records: readonly IndexedRecord[];
}

/** The journal an index belongs to: its header record's trailer and end offset. */
export interface IndexHead {
  readonly headerDigest: string;
  readonly headerEnd: number;
}

/** A verified index: every record it covers, where coverage ends, and where the next segment is appended. */
export interface LoadedIndex {
  readonly segments: IndexSegment[];
  /** The records of every segment, in journal order. */
  readonly records: IndexedRecord[];
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

/** Encodes one segment frame; records are `[t, editId, payloadLength]` with t = "e" or "r" to keep it compact. */
export function encodeSegment(s: IndexSegment): Buffer {
  return encodeFrame(encodePayload({
    type: 'segment', firstRecord: s.firstRecord, startByte: s.startByte, endByte: s.endByte, lastDigest: s.lastDigest,
    records: s.records.map((r) => [r.type === 'edit' ? 'e' : 'r', r.editId, r.payloadLength]),
  }, []));
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function decodeSegment(json: Record<string, unknown>): IndexSegment | string {
  const { firstRecord, startByte, endByte, lastDigest, records } = json;
  if (json.type !== 'segment' || !isCount(firstRecord) || !isCount(startByte) || !isCount(endByte) ||
    typeof lastDigest !== 'string' || !Array.isArray(records) || records.length === 0) {
    return 'a checkpoint segment is malformed';
  }
  const out: IndexedRecord[] = [];
  for (const r of records as unknown[]) {
    if (!Array.isArray(r) || (r[0] !== 'e' && r[0] !== 'r') || typeof r[1] !== 'string' || !isCount(r[2])) {
      return 'a checkpoint segment holds a malformed record entry';
    }
    out.push({ type: r[0] === 'e' ? 'edit' : 'rollback', editId: r[1], payloadLength: r[2] });
  }
  return { firstRecord, startByte, endByte, lastDigest, records: out };
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
  const records: IndexedRecord[] = [];
  const segments: IndexSegment[] = [];
  let end = head.headerEnd;
  for (let i = 1; i < payloads.length; i++) {
    let seg: IndexSegment | string;
    try {
      seg = decodeSegment(decodePayload(payloads[i], at(i)).json);
    } catch (e) {
      seg = (e as Error).message;
    }
    if (typeof seg === 'string') return seg;
    if (seg.firstRecord !== records.length + 1 || seg.startByte !== end) {
      return `checkpoint ${i} does not continue the one before it (record ${seg.firstRecord} at byte ${seg.startByte}, ` +
        `expected record ${records.length + 1} at byte ${end})`;
    }
    const span = seg.records.reduce((n, r) => n + FRAME_PREFIX_BYTES + r.payloadLength + FRAME_DIGEST_BYTES, 0);
    if (seg.startByte + span !== seg.endByte) return `checkpoint ${i}'s record lengths do not add up to its byte range`;
    if (seg.endByte > journalSize) {
      return `it covers ${seg.endByte} bytes but the journal has ${journalSize} (the journal was truncated or replaced)`;
    }
    const last = seg.records[seg.records.length - 1];
    const lastStart = seg.endByte - FRAME_PREFIX_BYTES - last.payloadLength - FRAME_DIGEST_BYTES;
    const problem = frameIdentityProblem(fd, lastStart, last.payloadLength, seg.lastDigest);
    if (problem) {
      return `record ${seg.firstRecord + seg.records.length - 1} at byte offset ${lastStart} no longer matches checkpoint ` +
        `${i} (${problem}: the journal was changed or replaced)`;
    }
    for (const r of seg.records) records.push(r);
    segments.push(seg);
    end = seg.endByte;
  }
  return { segments, records, coveredEnd: end, indexEnd: scan.validEnd, indexSize: scan.fileSize };
}

/** Writes a complete index atomically (temp + fsync + rename); returns its size. */
export function writeJournalIndex(journalFile: string, head: IndexHead, segments: readonly IndexSegment[]): number {
  return createFramedFile(indexFileOf(journalFile), INDEX_MAGIC, [encodeHead(head), ...segments.map(encodeSegment)]);
}

/**
 * Appends one segment to the index (fsynced); `at` is the end of its last intact frame and `expectedSize` its size on
 * disk, as last seen: an index replaced or grown by another process meanwhile is refused (the caller rewrites it).
 * Returns the new size.
 */
export function appendIndexSegment(journalFile: string, at: number, expectedSize: number, segment: IndexSegment): number {
  return appendFrame(indexFileOf(journalFile), at, expectedSize, encodeSegment(segment));
}
