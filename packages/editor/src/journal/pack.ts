/**
 * Edit packs: the shifts of a set of edits (low-rank factors where low-rank, never a model copy),
 * portable to the same base model elsewhere. Same framing as the journal, magic `HIEDITP1`:
 * a header record, then one edit record per edit.
 */
import * as fs from 'fs';
import { EditableModel } from '@hiedit/tensor-core';
import { decodePayload, encodeFrame, PACK_MAGIC } from './format';
import { createFramedFile, readPayload, scanFrames } from './frames';
import { EditJournal } from './journal';
import {
  decodeHeader, decodeRecordInfo, decodeShifts, EditRecordInfo, encodeEdit, encodeHeader, JournalHeader, StoredShift,
} from './records';
import { applyStoredShifts, checkHeaderMatchesModel } from './shifts';

/** One edit inside a pack. */
export interface PackedEdit {
  readonly info: Omit<EditRecordInfo, 'type'>;
  readonly shifts: readonly StoredShift[];
}

/** A decoded pack. */
export interface EditPack {
  readonly header: JournalHeader;
  readonly edits: readonly PackedEdit[];
}

/**
 * Where writing `file` goes: a symbolic link is written through (its target is replaced atomically and the link
 * stays), as a shell redirect would; a link to nothing is refused rather than replaced by a file.
 */
function writeTarget(file: string): string {
  let link: boolean;
  try {
    link = fs.lstatSync(file).isSymbolicLink();
  } catch {
    return file;
  }
  if (!link) return file;
  try {
    return fs.realpathSync(file);
  } catch {
    throw new Error(`edit pack ${file}: is a symbolic link to ${fs.readlinkSync(file)}, which does not exist; ` +
      'refused (write the pack to a file, or create the link target first)');
  }
}

/** The frames of a pack, encoded one edit at a time. */
function* packFrames(header: JournalHeader, edits: Iterable<PackedEdit>): Generator<Buffer> {
  yield encodeFrame(encodeHeader(header));
  for (const e of edits) yield encodeFrame(encodeEdit(e.info, e.shifts));
}

/** Writes a pack atomically; a symbolic link is written through, never replaced. */
export function writeEditPack(file: string, pack: EditPack): void {
  createFramedFile(writeTarget(file), PACK_MAGIC, packFrames(pack.header, pack.edits));
}

/**
 * Writes the active (not rolled back) edits of a journal as a pack; returns how many edits it holds. Each edit's
 * shifts are read from the journal as it is written, so a long journal's shifts are never all in memory.
 */
export function exportEditPack(journal: EditJournal, file: string): number {
  const active = journal.activeEditIds();
  function* edits(): Generator<PackedEdit> {
    for (const { info: { recordIndex: _i, byteOffset: _o, type: _t, ...info }, shifts } of journal.readShiftsOf(active)) {
      yield { info, shifts };
    }
  }
  createFramedFile(writeTarget(file), PACK_MAGIC, packFrames({ ...journal.header, createdAt: new Date().toISOString() }, edits()));
  return active.length;
}

/** Reads and verifies a pack. A pack is written atomically, so any damage is refused (no torn tail). */
export function readEditPack(file: string): EditPack {
  const scan = scanFrames(file, PACK_MAGIC, 'edit pack');
  if (scan.tornTail) {
    throw new Error(`edit pack ${file}: damaged at byte offset ${scan.tornTail.offset} (${scan.tornTail.reason}); refused`);
  }
  if (scan.frames.length === 0) throw new Error(`edit pack ${file}: no header record`);
  const at = (i: number): string => `edit pack ${file}: record ${i} at byte offset ${scan.frames[i].offset}`;
  const header = decodeHeader(decodePayload(readPayload(file, scan.frames[0]), at(0)), at(0));
  const edits = scan.frames.slice(1).map((f) => {
    const p = decodePayload(readPayload(file, f), at(f.index));
    const info = decodeRecordInfo(p, at(f.index));
    if (info.type !== 'edit') throw new Error(`${at(f.index)}: a pack holds only edit records, found ${info.type}`);
    const { type: _t, ...rest } = info;
    return { info: rest, shifts: decodeShifts(p, at(f.index)) };
  });
  return { header, edits };
}

/**
 * Applies every edit of a pack to `model` (whose base weights hash is `baseHash`), all-or-nothing.
 * Refuses a pack made for another base model. Returns the applied edits' ids.
 */
export function applyEditPack(model: EditableModel, baseHash: string, file: string): string[] {
  const pack = readEditPack(file);
  checkHeaderMatchesModel(pack.header, model, baseHash, `edit pack ${file}`);
  applyStoredShifts(model, pack.edits.flatMap((e) => e.shifts), 1, `edit pack ${file}`);
  return pack.edits.map((e) => e.info.editId);
}
