/**
 * The append-only edit journal: a header, then one checksummed record per applied edit or rollback.
 * Every append is fsynced before it returns. Reopening verifies every record: a torn last record is
 * ignored with a warning (and cut away by the next append), corruption before the end is refused.
 */
import * as fs from 'fs';
import { decodePayload, encodeFrame, FRAME_DIGEST_BYTES, FRAME_PREFIX_BYTES, JOURNAL_MAGIC } from './format';
import {
  AppendFailure, appendFrame, createFramedFile, FrameLocation, readPayload, readPayloads, scanFrames, withWriteLock,
} from './frames';
import {
  checkStoredShift, decodeHeader, decodeRecordInfo, decodeShifts, EditRecordInfo, encodeEdit, encodeHeader,
  encodeRollback, JournalHeader, JournalRecordInfo, JournalRequest, requestKey, RollbackRecordInfo, StoredShift,
} from './records';

/** Options of `EditJournal.open`. */
export interface JournalOpenOptions {
  /** Receives warnings (torn last record). Default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** A record of the journal with its position in the file. */
export type LocatedRecord = JournalRecordInfo & { readonly recordIndex: number; readonly byteOffset: number };

const defaultWarn = (m: string): void => { process.emitWarning(m, 'HieditJournalWarning'); };

/** An open edit journal. Not safe for two writers at once (a second writer is detected and refused). */
export class EditJournal {
  private readonly recs: LocatedRecord[] = [];
  private readonly frames: FrameLocation[] = [];
  private readonly rolledBack = new Set<string>();
  /** Edit id -> its index in `recs`: lookups and checks must not cost the journal's length per record. */
  private readonly editIndex = new Map<string, number>();
  /** `requestKey` of every edit's request -> the first edit that holds it. */
  private readonly byRequest = new Map<string, string>();
  private maxEditNumber = 0;
  private end: number;
  private size: number;
  /** Set when a failed append left the file in an unknown state: every later append is refused with it. */
  private needsReopen: string | null = null;

  private constructor(
    /** Path of the journal file. */
    readonly file: string,
    /** The header record. */
    readonly header: JournalHeader,
    end: number, size: number,
    /** Warnings raised while opening (e.g. a torn last record). */
    readonly warnings: readonly string[],
  ) {
    this.end = end;
    this.size = size;
  }

  /** Creates a new journal holding only `header`. Refuses to overwrite an existing file. */
  static create(file: string, header: JournalHeader): EditJournal {
    const exists = (): Error => new Error(`journal ${file}: already exists; open it instead of creating it`);
    if (fs.existsSync(file)) throw exists();
    let size: number;
    try {
      // Exclusive: two processes creating the same journal must not both succeed (the later one replacing the first).
      size = createFramedFile(file, JOURNAL_MAGIC, [encodeFrame(encodeHeader(header))], { exclusive: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new Error(`journal ${file}: another process created it while this one was creating it; nothing was ` +
          'written by this process (run again to append to that journal)');
      }
      throw e;
    }
    return new EditJournal(file, header, size, size, []);
  }

  /** Opens and verifies an existing journal. */
  static open(file: string, opts: JournalOpenOptions = {}): EditJournal {
    // Records are decoded as the scan verifies them: each payload is read from disk once.
    const infos: { info: JournalRecordInfo; frame: FrameLocation; where: string }[] = [];
    let header: JournalHeader | undefined;
    const scan = scanFrames(file, JOURNAL_MAGIC, 'journal', (f, payload) => {
      const where = f.index === 0 ? `journal ${file}: record 0` : `journal ${file}: record ${f.index} at byte offset ${f.offset}`;
      const p = decodePayload(payload, where);
      if (f.index === 0) header = decodeHeader(p, where);
      else infos.push({ info: decodeRecordInfo(p, where), frame: f, where });
    });
    const warnings: string[] = [];
    if (scan.tornTail) {
      const t = scan.tornTail;
      warnings.push(`journal ${file}: torn last record at byte offset ${t.offset} (${t.bytes} bytes, ${t.reason}) ` +
        `ignored; it is cut away on the next append`);
    }
    if (header === undefined) {
      throw new Error(`journal ${file}: no intact header record${scan.tornTail ? ' (the header itself is torn)' : ''}`);
    }
    const j = new EditJournal(file, header, scan.validEnd, scan.fileSize, warnings);
    j.frames.push(scan.frames[0]);
    for (const r of infos) j.track(r.info, r.frame, r.where);
    for (const w of warnings) (opts.onWarning ?? defaultWarn)(w);
    return j;
  }

  private track(info: JournalRecordInfo, f: FrameLocation, where: string): void {
    if (info.type === 'edit') {
      if (this.editIndex.has(info.editId)) throw new Error(`${where}: duplicate edit id ${info.editId}`);
      this.editIndex.set(info.editId, this.recs.length);
    } else {
      if (!this.editIndex.has(info.editId)) throw new Error(`${where}: rollback of unknown edit ${info.editId}`);
      if (this.rolledBack.has(info.editId)) throw new Error(`${where}: edit ${info.editId} is rolled back twice`);
      this.rolledBack.add(info.editId);
    }
    if (info.type === 'edit') {
      const n = /^e(\d+)$/.exec(info.editId);
      if (n) this.maxEditNumber = Math.max(this.maxEditNumber, Number(n[1]));
      const key = requestKey(info.request);
      if (!this.byRequest.has(key)) this.byRequest.set(key, info.editId);
    }
    this.recs.push({ ...info, recordIndex: f.index, byteOffset: f.offset });
    this.frames.push(f);
  }

  /** Every edit and rollback record in file order (the header excluded). */
  get records(): readonly LocatedRecord[] {
    return this.recs;
  }

  /** Edit records that are not rolled back, in the order they were applied. */
  activeEdits(): (EditRecordInfo & { recordIndex: number })[] {
    return this.recs.filter((r): r is EditRecordInfo & LocatedRecord => r.type === 'edit' && !this.rolledBack.has(r.editId));
  }

  /** The edit record with this id; throws naming the journal when there is none. */
  edit(editId: string): EditRecordInfo & { recordIndex: number } {
    const i = this.editIndex.get(editId);
    const r = i === undefined ? undefined : this.recs[i];
    if (!r || r.type !== 'edit') {
      throw new Error(`journal ${this.file}: no edit with id ${JSON.stringify(editId)} (${this.editIndex.size} edits recorded)`);
    }
    return r;
  }

  /**
   * The first edit whose request is `request` (same id, prompt, target, paraphrases and locality prompts), with
   * whether it is rolled back; undefined when the journal holds no such request.
   */
  findRequest(request: JournalRequest): { editId: string; rolledBack: boolean } | undefined {
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
    const f = this.frames[this.edit(editId).recordIndex];
    return this.decodeShiftsAt(f, readPayload(this.file, f));
  }

  /**
   * The shifts of each of `editIds`, in that order, read through one open file: replay and export of a long journal
   * read it front to back once instead of opening it per edit.
   */
  *readShiftsOf(editIds: readonly string[]): Generator<{ editId: string; shifts: StoredShift[] }> {
    const frames = editIds.map((id) => this.frames[this.edit(id).recordIndex]);
    let i = 0;
    for (const payload of readPayloads(this.file, frames)) {
      yield { editId: editIds[i], shifts: this.decodeShiftsAt(frames[i], payload) };
      i++;
    }
  }

  private decodeShiftsAt(f: FrameLocation, payload: Buffer): StoredShift[] {
    const where = `journal ${this.file}: record ${f.index} at byte offset ${f.offset}`;
    return decodeShifts(decodePayload(payload, where), where);
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
    this.edit(editId);
    if (this.rolledBack.has(editId)) throw new Error(`journal ${this.file}: edit ${editId} is already rolled back`);
    const info: RollbackRecordInfo = { type: 'rollback', editId, time: new Date().toISOString() };
    this.write(encodeFrame(encodeRollback({ editId: info.editId, time: info.time })), info);
    return info;
  }

  private write(frame: Buffer, info: JournalRecordInfo): void {
    if (this.needsReopen) throw new Error(this.needsReopen);
    const at = this.end;
    let newEnd: number;
    try {
      newEnd = withWriteLock(this.file, () => appendFrame(this.file, at, this.size, frame));
    } catch (e) {
      if (e instanceof AppendFailure) {
        if (e.restored) this.size = at;
        else this.needsReopen = `journal ${this.file}: an earlier append failed and its partial record could not be ` +
          `removed; reopen the journal (EditJournal.open) before appending again`;
      }
      throw e;
    }
    const loc: FrameLocation = {
      index: this.frames.length, offset: at, payloadOffset: at + FRAME_PREFIX_BYTES,
      payloadLength: frame.length - FRAME_PREFIX_BYTES - FRAME_DIGEST_BYTES,
    };
    this.end = newEnd;
    this.size = newEnd;
    this.track(info, loc, `journal ${this.file}`);
  }
}
