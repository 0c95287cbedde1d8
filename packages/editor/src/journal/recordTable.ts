/**
 * What a journal knows of each record without reading it: type, edit id, place in the file. Kept in typed arrays, one
 * slot per record, so taking 100,000 records from the journal index allocates a few arrays instead of objects and
 * strings per record (that allocation, not the disk, dominated opening a long indexed journal).
 */
import { FRAME_DIGEST_BYTES, FRAME_PREFIX_BYTES } from './format';
import type { FrameLocation } from './frames';

/** Record type codes of the table and of the index's binary segments. */
export const EDIT = 1;
export const ROLLBACK = 2;

/** The number N of an edit id `eN` written the way `nextEditId` writes it (no sign, no leading zero), else -1. */
export function editNumber(editId: string): number {
  const m = /^e([1-9]\d{0,9})$/.exec(editId);
  const n = m ? Number(m[1]) : -1;
  return n > 0 && n < 2 ** 32 ? n : -1;
}

/** Per-record facts (the header excluded): slot i is record i + 1 of the file. */
export class RecordTable {
  private types = new Uint8Array(64);
  private lengths = new Float64Array(64);
  private offsets = new Float64Array(64);
  /** N of the record's id `eN`, or -1 when the id has another form (then it is in `otherIds`). */
  private nums = new Float64Array(64);
  private readonly otherIds = new Map<number, string>();
  /** Edit number -> slot of that edit, -1 where none; ids of another form are in `byOtherId`. */
  private byNum: Int32Array = new Int32Array(64).fill(-1);
  private readonly byOtherId = new Map<string, number>();
  private n = 0;
  /** Edit records in the table. */
  edits = 0;

  /** Records in the table. */
  get length(): number {
    return this.n;
  }

  /** Appends one record; `num` is `editNumber(editId)`. */
  push(type: number, editId: string | undefined, num: number, offset: number, payloadLength: number): void {
    if (this.n === this.types.length) this.grow();
    const i = this.n++;
    this.types[i] = type;
    this.offsets[i] = offset;
    this.lengths[i] = payloadLength;
    this.nums[i] = num;
    if (num < 0) this.otherIds.set(i, editId!);
    if (type !== EDIT) return;
    this.edits++;
    if (num >= 0 && num < 4 * (this.n + 1024)) {
      while (num >= this.byNum.length) this.byNum = growInt32(this.byNum);
      this.byNum[num] = i;
    } else {
      this.byOtherId.set(this.idOf(i), i);
    }
  }

  /** Makes room for `more` records at once (a bulk load from the index grows the arrays once, not 11 times). */
  reserve(more: number): void {
    while (this.n + more > this.types.length) this.grow();
  }

  private grow(): void {
    const size = this.types.length * 2;
    const types = new Uint8Array(size);
    types.set(this.types);
    this.types = types;
    for (const key of ['lengths', 'offsets', 'nums'] as const) {
      const a = new Float64Array(size);
      a.set(this[key]);
      this[key] = a;
    }
  }

  /** EDIT or ROLLBACK. */
  typeCode(i: number): number {
    return this.types[i];
  }

  /** The record's edit id (for a rollback: the id of the edit it rolls back). */
  idOf(i: number): string {
    const num = this.nums[i];
    return num >= 0 ? `e${num}` : this.otherIds.get(i)!;
  }

  /** The record's edit number (see `editNumber`), -1 for an id of another form. */
  numOf(i: number): number {
    return this.nums[i];
  }

  payloadLength(i: number): number {
    return this.lengths[i];
  }

  /** Where the record lies in the file. */
  frame(i: number): FrameLocation {
    const offset = this.offsets[i];
    return { index: i + 1, offset, payloadOffset: offset + FRAME_PREFIX_BYTES, payloadLength: this.lengths[i] };
  }

  /** Byte offset just past the record. */
  endOf(i: number): number {
    return this.offsets[i] + FRAME_PREFIX_BYTES + this.lengths[i] + FRAME_DIGEST_BYTES;
  }

  /**
   * Slot of the edit record with this id, or -1. `num` = `editNumber(editId)`; with it, `editId` may be left out for
   * an id `eN` (the bulk load from the index makes no strings for those).
   */
  slotOfEdit(editId: string | undefined, num = editNumber(editId!)): number {
    if (num >= 0 && num < this.byNum.length && this.byNum[num] >= 0) return this.byNum[num];
    return this.byOtherId.get(editId ?? `e${num}`) ?? -1;
  }
}

function growInt32(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2).fill(-1);
  b.set(a);
  return b;
}
