/**
 * The append-only edit journal: a header, then one checksummed record per applied edit or rollback.
 * Every append is fsynced before it returns. Reopening verifies the records a valid index does not cover (all of
 * them without one, or with `verify: 'full'`): a torn last record is ignored with a warning (and cut away by the next
 * append), corruption before the end is refused. Records the index covers are verified when they are read.
 */
import * as fs from 'fs';
import {
  DecodedPayload, decodePayload, encodeFrame, FRAME_DIGEST_BYTES, FRAME_PREFIX_BYTES, JOURNAL_MAGIC,
} from './format';
import { AppendFailure, appendFrame, createFramedFile, FrameLocation, readCheckedPayloads, scanFrames, withWriteLock } from './frames';
import {
  appendIndexSegment, DEFAULT_INDEX_EVERY, encodeSegment, INDEX_EVERY_BYTES, IndexHead, indexFileOf, LoadedIndex,
  readJournalIndex, writeJournalIndex,
} from './journalIndex';
import { EDIT, editNumber, RecordTable, ROLLBACK } from './recordTable';
import {
  checkStoredShift, decodeHeader, decodeRecordInfo, decodeShifts, EditRecordInfo, encodeEdit, encodeHeader,
  encodeRollback, JournalHeader, JournalRecordInfo, JournalRequest, requestKey, RollbackRecordInfo, StoredShift,
} from './records';

/** Options of `EditJournal.open`. */
export interface JournalOpenOptions {
  /** Receives warnings (torn last record, an index that could not be used). Default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /**
   * `index` (default): records covered by a valid index (`<journal>.index`) are taken from it without reading them
   * (each is verified by its SHA-256 when its payload is read); `full`: every record is read and verified, as without
   * an index, and an index that disagrees with the journal is rebuilt with a warning.
   */
  verify?: 'index' | 'full';
  /** Records per index checkpoint (default `DEFAULT_INDEX_EVERY`); 0: no index is read or written. */
  indexEvery?: number;
}

/** Options of `EditJournal.create`. */
export type JournalCreateOptions = Pick<JournalOpenOptions, 'onWarning' | 'indexEvery'>;

/** How `EditJournal.open` verified the journal. */
export interface JournalOpenStats {
  /** `index`: the records an index covered were not read; `full`: every record was read and verified. */
  readonly mode: 'index' | 'full';
  /** Records (the header excluded) read and verified by this open. */
  readonly scannedRecords: number;
  /** Bytes of those records. */
  readonly scannedBytes: number;
  /** Records taken from the index without reading them. */
  readonly indexedRecords: number;
  /** Why the index was not used: `missing`, `off`, `verify full` or the problem found in it. */
  readonly indexProblem?: string;
  /** True when this open wrote a new index file. */
  readonly indexRebuilt: boolean;
}

/** A record of the journal with its position in the file. */
export type LocatedRecord = JournalRecordInfo & { readonly recordIndex: number; readonly byteOffset: number };

const defaultWarn = (m: string): void => { process.emitWarning(m, 'HieditJournalWarning'); };

/** The checkpoint spacing asked for, refused by name when it is not a whole number of records. */
function indexEveryOf(file: string, opts: { indexEvery?: number }): number {
  const every = opts.indexEvery ?? DEFAULT_INDEX_EVERY;
  if (!Number.isSafeInteger(every) || every < 0) {
    throw new Error(`journal ${file}: indexEvery must be a non-negative integer (0: no index), got ${every}`);
  }
  return every;
}

/** A frame's bytes: prefix, payload, trailer. */
function frameBytes(f: FrameLocation): number {
  return FRAME_PREFIX_BYTES + f.payloadLength + FRAME_DIGEST_BYTES;
}

/** What a scan yields per record: its metadata, where it is, and its trailer (for index checkpoints). */
interface ScannedRecord {
  info: JournalRecordInfo;
  frame: FrameLocation;
  digest: string;
  where: string;
}

/**
 * An open edit journal. Not safe for two writers at once (a second writer is detected and refused).
 *
 * Records covered by the journal's index are known by type, id and place only until they are used: `records`,
 * `activeEdits`, `edit`, `findRequest` and the shift readers read (and verify) their payloads on first use.
 */
export class EditJournal {
  /** Per record (the header excluded): its decoded metadata once read, with its place in the file. */
  private readonly recs: (LocatedRecord | undefined)[] = [];
  /** Per record: what the index (or the scan) says it is and where it lies; edit id -> slot lookups. */
  private readonly table = new RecordTable();
  /** How many of `recs` are not read yet. */
  private unread = 0;
  private readonly rolledBack = new Set<string>();
  /** `requestKey` of every edit's request -> the first edit that holds it; built on first use. */
  private byRequest: Map<string, string> | undefined;
  private maxEditNumber = 0;
  private end: number;
  private size: number;
  /** Set when a failed append left the file in an unknown state: every later append is refused with it. */
  private needsReopen: string | null = null;
  /** Payloads of the index checkpoints covering records 1..`indexed`; `indexFile`: the index's end and size on disk when known. */
  private readonly segments: Buffer[] = [];
  private indexed = 0;
  private indexFile: { end: number; size: number } | undefined;
  /** Trailers (hex) of the records after the last checkpoint. */
  private readonly tailDigests: string[] = [];
  private indexWarned = false;
  private openStats: JournalOpenStats | undefined;

  private constructor(
    /** Path of the journal file. */
    readonly file: string,
    /** The header record. */
    readonly header: JournalHeader,
    private readonly head: IndexHead,
    end: number, size: number,
    /** Warnings raised while opening (e.g. a torn last record). */
    readonly warnings: readonly string[],
    private readonly indexEvery: number,
    private readonly warn: (message: string) => void,
  ) {
    this.end = end;
    this.size = size;
  }

  /** Creates a new journal holding only `header`. Refuses to overwrite an existing file. */
  static create(file: string, header: JournalHeader, opts: JournalCreateOptions = {}): EditJournal {
    const exists = (): Error => new Error(`journal ${file}: already exists; open it instead of creating it`);
    const every = indexEveryOf(file, opts);
    if (fs.existsSync(file)) throw exists();
    const headerFrame = encodeFrame(encodeHeader(header));
    let size: number;
    try {
      // Exclusive: two processes creating the same journal must not both succeed (the later one replacing the first).
      size = createFramedFile(file, JOURNAL_MAGIC, [headerFrame], { exclusive: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new Error(`journal ${file}: another process created it while this one was creating it; nothing was ` +
          'written by this process (run again to append to that journal)');
      }
      throw e;
    }
    // A journal created anew must not inherit the index of an earlier journal at this path.
    fs.rmSync(indexFileOf(file), { force: true });
    const head = { headerDigest: headerFrame.subarray(headerFrame.length - FRAME_DIGEST_BYTES).toString('hex'), headerEnd: size };
    return new EditJournal(file, header, head, size, size, [], every, opts.onWarning ?? defaultWarn);
  }

  /**
   * Opens and verifies an existing journal. With a valid index only the records after its last checkpoint are read
   * (see `JournalOpenOptions.verify`); otherwise every record is, and the index is (re)built.
   */
  static open(file: string, opts: JournalOpenOptions = {}): EditJournal {
    const every = indexEveryOf(file, opts);
    // The header alone first: it names the journal an index must belong to.
    let header: JournalHeader | undefined;
    let head: IndexHead | undefined;
    const first = scanFrames(file, JOURNAL_MAGIC, 'journal', (f, payload, digest) => {
      const where = `journal ${file}: record 0`;
      header = decodeHeader(decodePayload(payload, where), where);
      head = { headerDigest: digest.toString('hex'), headerEnd: f.offset + frameBytes(f) };
    }, { maxFrames: 1 });
    const index = every > 0 && head !== undefined ? loadIndex(file, head) : 'off';
    const useIndex = typeof index !== 'string' && opts.verify !== 'full';
    // Records are decoded as the scan verifies them: each payload is read from disk once.
    const scanned: ScannedRecord[] = [];
    const scan = head === undefined ? first : scanFrames(file, JOURNAL_MAGIC, 'journal', (f, payload, digest) => {
      const where = `journal ${file}: record ${f.index} at byte offset ${f.offset}`;
      scanned.push({ info: decodeRecordInfo(decodePayload(payload, where), where), frame: f, digest: digest.toString('hex'), where });
    }, { start: useIndex ? { offset: (index as LoadedIndex).coveredEnd, index: (index as LoadedIndex).records + 1 }
      : { offset: head.headerEnd, index: 1 } });
    const warnings: string[] = [];
    if (scan.tornTail) {
      const t = scan.tornTail;
      warnings.push(`journal ${file}: torn last record at byte offset ${t.offset} (${t.bytes} bytes, ${t.reason}) ` +
        `ignored; it is cut away on the next append`);
    }
    if (header === undefined || head === undefined) {
      throw new Error(`journal ${file}: no intact header record${scan.tornTail ? ' (the header itself is torn)' : ''}`);
    }
    const j = new EditJournal(file, header, head, scan.validEnd, scan.fileSize, warnings, every, opts.onWarning ?? defaultWarn);
    if (useIndex) j.trackIndexed(index as LoadedIndex);
    for (const r of scanned) j.track(r.info, r.frame, r.where, r.info);
    const problem = typeof index === 'string' ? index : useIndex ? undefined : disagreement(index, scanned);
    if (!useIndex && typeof index !== 'string' && problem === undefined) j.useSegments(index);
    for (const r of scanned) if (r.frame.index > j.indexed) j.tailDigests.push(r.digest);
    const stale = problem !== undefined && problem !== 'missing' && problem !== 'off';
    if (stale) {
      warnings.push(`journal ${file}: its index ${indexFileOf(file)} was not used: ${problem}; every record was ` +
        'verified instead and the index rebuilt');
    }
    for (const w of warnings) j.warn(w);
    const rebuilt = j.checkpoint(stale);
    j.openStats = {
      mode: useIndex ? 'index' : 'full', scannedRecords: scanned.length,
      scannedBytes: scanned.reduce((n, r) => n + frameBytes(r.frame), 0),
      indexedRecords: useIndex ? (index as LoadedIndex).records : 0,
      ...(useIndex ? {} : { indexProblem: problem ?? 'verify full' }),
      indexRebuilt: rebuilt && problem !== undefined,
    };
    return j;
  }

  /**
   * Tracks the records a verified index covers, without reading them: the same checks as `track` (ids never given
   * twice, rollbacks of known edits, once), in typed arrays.
   */
  private trackIndexed(index: LoadedIndex): void {
    let offset = this.head.headerEnd;
    const where = `journal ${this.file} (index ${indexFileOf(this.file)})`;
    this.table.reserve(index.records);
    for (const seg of index.segments) {
      for (let k = 0; k < seg.types.length; k++) {
        const num = seg.nums[k];
        const otherId = num < 0 ? seg.otherIds.get(k) : undefined;
        this.check(seg.types[k], otherId, num, where);
        this.table.push(seg.types[k], otherId, num, offset, seg.lengths[k]);
        offset += FRAME_PREFIX_BYTES + seg.lengths[k] + FRAME_DIGEST_BYTES;
      }
    }
    this.recs.length += index.records;
    this.unread += index.records;
    this.useSegments(index);
  }

  /** Takes the index's checkpoints as this journal's: later checkpoints are appended to that index file. */
  private useSegments(index: LoadedIndex): void {
    this.segments.push(...index.payloads);
    this.indexed = index.records;
    this.indexFile = { end: index.indexEnd, size: index.indexSize };
  }

  /**
   * Cuts the records after the last checkpoint into segments (every `indexEvery` records, or sooner when they reach
   * `INDEX_EVERY_BYTES`) and writes them to the index: appended, or the whole index rewritten when its file is not
   * known to be ours (`rewrite`, an earlier write failed, or the file changed under us). Never throws: an index that
   * cannot be written only makes the next open slower, so that is a warning (once per journal object). Returns true
   * when it wrote.
   */
  private checkpoint(rewrite: boolean): boolean {
    if (this.indexEvery <= 0) return false;
    const fresh: Buffer[] = [];
    let count = 0;
    let bytes = 0;
    for (let i = this.indexed; i < this.table.length; i++) {
      count++;
      bytes += this.table.endOf(i) - this.table.frame(i).offset;
      if (count < this.indexEvery && bytes < INDEX_EVERY_BYTES) continue;
      const from = this.indexed;
      const otherIds = new Map<number, string>();
      for (let k = from; k <= i; k++) if (this.table.numOf(k) < 0) otherIds.set(k - from, this.table.idOf(k));
      fresh.push(encodeSegment({
        firstRecord: from + 1, startByte: this.table.frame(from).offset, endByte: this.table.endOf(i),
        lastDigest: this.tailDigests[count - 1],
        types: Uint8Array.from({ length: count }, (_, k) => this.table.typeCode(from + k)),
        lengths: Uint32Array.from({ length: count }, (_, k) => this.table.payloadLength(from + k)),
        nums: Float64Array.from({ length: count }, (_, k) => this.table.numOf(from + k)),
        otherIds,
      }));
      this.tailDigests.splice(0, count);
      this.indexed = i + 1;
      count = 0;
      bytes = 0;
    }
    this.segments.push(...fresh);
    if (!rewrite && fresh.length === 0) return false;
    try {
      if (!rewrite && this.indexFile !== undefined) {
        try {
          for (const seg of fresh) {
            const end = appendIndexSegment(this.file, this.indexFile.end, this.indexFile.size, seg);
            this.indexFile = { end, size: end };
          }
          return true;
        } catch {
          // Removed, replaced or grown by another process meanwhile: rewritten whole from what this one verified.
        }
      }
      const size = writeJournalIndex(this.file, this.head, this.segments);
      this.indexFile = { end: size, size };
      return true;
    } catch (e) {
      this.indexFile = undefined;
      if (!this.indexWarned) {
        this.indexWarned = true;
        this.warn(`journal ${this.file}: could not write its index ${indexFileOf(this.file)} (${(e as Error).message}); ` +
          'the journal is intact, opening it reads every record until the index is written');
      }
      return false;
    }
  }

  /** Refuses a record that gives an edit id twice, or rolls back an unknown or rolled back edit. */
  private check(type: number, editId: string | undefined, num: number, where: string): void {
    const known = this.table.slotOfEdit(editId, num) >= 0;
    if (type === EDIT) {
      if (known) throw new Error(`${where}: duplicate edit id ${editId ?? `e${num}`}`);
      if (num > this.maxEditNumber) this.maxEditNumber = num;
      return;
    }
    const id = editId ?? `e${num}`;
    if (!known) throw new Error(`${where}: rollback of unknown edit ${id}`);
    if (this.rolledBack.has(id)) throw new Error(`${where}: edit ${id} is rolled back twice`);
    this.rolledBack.add(id);
  }

  private track(kind: { type: 'edit' | 'rollback'; editId: string }, f: FrameLocation, where: string,
    info: JournalRecordInfo | undefined): void {
    const type = kind.type === 'edit' ? EDIT : ROLLBACK;
    const num = editNumber(kind.editId);
    this.check(type, kind.editId, num, where);
    if (this.byRequest && info?.type === 'edit') {
      const key = requestKey(info.request);
      if (!this.byRequest.has(key)) this.byRequest.set(key, info.editId);
    }
    this.table.push(type, kind.editId, num, f.offset, f.payloadLength);
    this.recs.push(info && { ...info, recordIndex: f.index, byteOffset: f.offset });
    if (info === undefined) this.unread++;
  }

  /**
   * Reads, verifies and decodes the payloads of the given records (indexes into `recs`) in the given order through one
   * open file, caching their metadata; yields each decoded payload (the shift readers decode the shifts from it).
   */
  private *readRecords(indexes: readonly number[]): Generator<{ i: number; payload: DecodedPayload; where: string }> {
    const frames = indexes.map((i) => this.table.frame(i));
    let n = 0;
    for (const bytes of readCheckedPayloads(this.file, frames, 'journal')) {
      const i = indexes[n];
      const f = frames[n++];
      const where = `journal ${this.file}: record ${f.index} at byte offset ${f.offset}`;
      const payload = decodePayload(bytes, where);
      if (this.recs[i] === undefined) {
        const info = decodeRecordInfo(payload, where);
        const type = this.table.typeCode(i) === EDIT ? 'edit' : 'rollback';
        if (info.type !== type || info.editId !== this.table.idOf(i)) {
          throw new Error(`${where}: the journal holds ${info.type} ${info.editId} where its index ` +
            `${indexFileOf(this.file)} says ${type} ${this.table.idOf(i)}; the journal was changed after it was indexed (open ` +
            'it with full verification, which checks every record and rebuilds the index)');
        }
        this.recs[i] = { ...info, recordIndex: f.index, byteOffset: f.offset };
        this.unread--;
      }
      yield { i, payload, where };
    }
  }

  /** Every record's metadata, reading the records an index covered on first use. */
  private all(): LocatedRecord[] {
    if (this.unread === 0) return this.recs as LocatedRecord[];
    const missing: number[] = [];
    for (let i = 0; i < this.recs.length; i++) if (this.recs[i] === undefined) missing.push(i);
    for (const _ of this.readRecords(missing)) { /* caches each record */ }
    return this.recs as LocatedRecord[];
  }

  /** How `open` verified the journal (undefined for a journal made by `create`). */
  get opened(): JournalOpenStats | undefined {
    return this.openStats;
  }

  /** Every edit and rollback record in file order (the header excluded). Reads the records an index covered. */
  get records(): readonly LocatedRecord[] {
    return this.all();
  }

  /** How many records the journal holds (the header excluded), without reading any. */
  get recordCount(): number {
    return this.table.length;
  }

  /** Edit records that are not rolled back, in the order they were applied. Reads the records an index covered. */
  activeEdits(): (EditRecordInfo & { recordIndex: number })[] {
    return this.all().filter((r): r is EditRecordInfo & LocatedRecord => r.type === 'edit' && !this.rolledBack.has(r.editId));
  }

  /** Ids of the edits that are not rolled back, in the order they were applied, without reading any record. */
  activeEditIds(): string[] {
    const ids: string[] = [];
    for (let i = 0; i < this.table.length; i++) {
      if (this.table.typeCode(i) !== EDIT) continue;
      const id = this.table.idOf(i);
      if (!this.rolledBack.has(id)) ids.push(id);
    }
    return ids;
  }

  private indexOfEdit(editId: string): number {
    const i = this.table.slotOfEdit(editId);
    if (i < 0) {
      throw new Error(`journal ${this.file}: no edit with id ${JSON.stringify(editId)} (${this.table.edits} edits recorded)`);
    }
    return i;
  }

  /** The record index (0 is the header) of the edit with this id, without reading it. */
  recordIndexOf(editId: string): number {
    return this.indexOfEdit(editId) + 1;
  }

  /** The edit record with this id; throws naming the journal when there is none. */
  edit(editId: string): EditRecordInfo & { recordIndex: number } {
    const i = this.indexOfEdit(editId);
    if (this.recs[i] === undefined) for (const _ of this.readRecords([i])) { /* caches it */ }
    return this.recs[i] as EditRecordInfo & LocatedRecord;
  }

  /**
   * The first edit whose request is `request` (same id, prompt, target, paraphrases and locality prompts), with
   * whether it is rolled back; undefined when the journal holds no such request.
   */
  findRequest(request: JournalRequest): { editId: string; rolledBack: boolean } | undefined {
    if (this.byRequest === undefined) {
      const byRequest = new Map<string, string>();
      for (const r of this.all()) {
        if (r.type !== 'edit') continue;
        const key = requestKey(r.request);
        if (!byRequest.has(key)) byRequest.set(key, r.editId);
      }
      this.byRequest = byRequest;
    }
    const editId = this.byRequest.get(requestKey(request));
    return editId === undefined ? undefined : { editId, rolledBack: this.rolledBack.has(editId) };
  }

  /** True when `editId` has been rolled back. */
  isRolledBack(editId: string): boolean {
    return this.rolledBack.has(editId);
  }

  /** The id the next appended edit will get: one past the highest `eN` ever recorded, so no id is given twice. */
  nextEditId(): string {
    return `e${this.maxEditNumber + 1}`;
  }

  /** Reads the exact applied shifts of an edit from disk. */
  readShifts(editId: string): StoredShift[] {
    for (const { shifts } of this.readShiftsOf([editId])) return shifts;
    throw new Error(`journal ${this.file}: edit ${editId} could not be read`);
  }

  /**
   * The record and shifts of each of `editIds`, in that order, read through one open file (replay and export of a
   * long journal read it front to back once instead of opening it per edit), each payload verified by its SHA-256.
   */
  *readShiftsOf(editIds: readonly string[]): Generator<{ editId: string; info: EditRecordInfo & LocatedRecord; shifts: StoredShift[] }> {
    const indexes = editIds.map((id) => this.indexOfEdit(id));
    let n = 0;
    for (const { i, payload, where } of this.readRecords(indexes)) {
      yield { editId: editIds[n++], info: this.recs[i] as EditRecordInfo & LocatedRecord, shifts: decodeShifts(payload, where) };
    }
  }

  /**
   * Appends an edit record and fsyncs. The id is assigned here; shifts must name modules of the header
   * with their recorded shapes.
   */
  appendEdit(info: Omit<EditRecordInfo, 'type' | 'editId' | 'time'>, shifts: readonly StoredShift[]): EditRecordInfo {
    for (const s of shifts) {
      const m = this.header.modules.find((x) => x.name === s.module);
      if (!m) throw new Error(`journal ${this.file}: shift names module ${s.module}, which the base model lacks`);
      if (m.dIn !== s.dIn || m.dOut !== s.dOut) {
        throw new Error(`journal ${this.file}: shift of ${s.module} is ${s.dIn}x${s.dOut}, the module is ${m.dIn}x${m.dOut}`);
      }
      checkStoredShift(s, `journal ${this.file}`);
    }
    const full = { editId: this.nextEditId(), time: new Date().toISOString(), ...info };
    this.write(encodeFrame(encodeEdit(full, shifts)), { type: 'edit', ...full });
    return { type: 'edit', ...full };
  }

  /** Appends a rollback record for `editId` and fsyncs; refuses unknown or already rolled back ids. */
  appendRollback(editId: string): RollbackRecordInfo {
    // Reads (and so verifies) the edit's record: one record, and a damaged edit is reported, not silently dropped.
    this.edit(editId);
    if (this.rolledBack.has(editId)) throw new Error(`journal ${this.file}: edit ${editId} is already rolled back`);
    const info: RollbackRecordInfo = { type: 'rollback', editId, time: new Date().toISOString() };
    this.write(encodeFrame(encodeRollback({ editId: info.editId, time: info.time })), info);
    return info;
  }

  private write(frame: Buffer, info: JournalRecordInfo): void {
    if (this.needsReopen) throw new Error(this.needsReopen);
    const at = this.end;
    const loc: FrameLocation = {
      index: this.table.length + 1, offset: at, payloadOffset: at + FRAME_PREFIX_BYTES,
      payloadLength: frame.length - FRAME_PREFIX_BYTES - FRAME_DIGEST_BYTES,
    };
    try {
      withWriteLock(this.file, () => {
        const newEnd = appendFrame(this.file, at, this.size, frame);
        this.end = newEnd;
        this.size = newEnd;
        this.track(info, loc, `journal ${this.file}`, info);
        this.tailDigests.push(frame.subarray(frame.length - FRAME_DIGEST_BYTES).toString('hex'));
        // Under the lock, after the record is durable: a crash here leaves the index behind the journal, which the
        // next open handles by reading the records after the index's last checkpoint.
        this.checkpoint(false);
      }, this.warn);
    } catch (e) {
      if (e instanceof AppendFailure) {
        if (e.restored) this.size = at;
        else this.needsReopen = `journal ${this.file}: an earlier append failed and its partial record could not be ` +
          `removed; reopen the journal (EditJournal.open) before appending again`;
      }
      throw e;
    }
  }
}

/** Reads the index of `file` against the journal on disk (see `readJournalIndex`). */
function loadIndex(file: string, head: IndexHead): LoadedIndex | string {
  const fd = fs.openSync(file, 'r');
  try {
    return readJournalIndex(file, fd, fs.fstatSync(fd).size, head);
  } finally {
    fs.closeSync(fd);
  }
}

/** Where a verified index disagrees with what a full scan read, or undefined when every record it covers matches. */
function disagreement(index: LoadedIndex, scanned: readonly ScannedRecord[]): string | undefined {
  if (index.records > scanned.length) return `it covers ${index.records} records, the journal holds ${scanned.length}`;
  let n = 0;
  for (const seg of index.segments) {
    for (let k = 0; k < seg.types.length; k++, n++) {
      const { info, frame } = scanned[n];
      const id = seg.nums[k] < 0 ? seg.otherIds.get(k) : `e${seg.nums[k]}`;
      if (seg.types[k] !== (info.type === 'edit' ? EDIT : ROLLBACK) || id !== info.editId || seg.lengths[k] !== frame.payloadLength) {
        return `record ${n + 1} differs from the journal's (the journal was changed after it was indexed)`;
      }
    }
  }
  return undefined;
}
