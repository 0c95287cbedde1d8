import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, readHostWeights, tf } from '@hiedit/tensor-core';
import { randomArray, rng, WeightsOnlyModel } from '../../test/weightsModel';
import {
  applyEditPack, applyStoredShifts, currentWeightsDigest, EditJournal, encodeEdit, encodeFrame, encodeHeader, exportEditPack,
  JournalCreateOptions, JournalHeader, JOURNAL_MAGIC, replayJournal, StoredShift,
} from './index';
import { createFramedFile } from './frames';
import { ReplayCheckpoints } from './replayCheckpoints';

// Tests pick the backend the way the CLI does (tensor-core registers several).
beforeAll(async () => { await initBackend(); });

const SHAPES = [{ name: 'h.2.mlp.c_fc', dIn: 12, dOut: 20 }, { name: 'h.3.mlp.c_fc', dIn: 12, dOut: 20 },
  { name: 'h.3.attn.c_proj', dIn: 12, dOut: 12 }];
const BASE_HASH = 'a'.repeat(64);
// The module object itself (the `import * as` namespace has read-only bindings), to inject write errors.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeFs = require('fs') as typeof fs;

function header(): JournalHeader {
  return { formatVersion: 1, createdAt: '2026-01-01T00:00:00.000Z', baseWeightsHash: BASE_HASH,
    model: { modelType: 'test', architecture: 'gpt2' }, modules: SHAPES.map((s, i) => ({ ...s, layer: i })) };
}

/** Edit j: a rank-2 shift on one or two modules, a dense one every 7th edit. */
function makeShifts(j: number): StoredShift[] {
  const next = rng(1000 + j);
  const mods = j % 3 === 0 ? [SHAPES[0], SHAPES[2]] : [SHAPES[j % 2]];
  return mods.map((m) => j % 7 === 0
    ? { module: m.name, kind: 'dense' as const, dIn: m.dIn, dOut: m.dOut, delta: randomArray(m.dIn * m.dOut, next, 0.05) }
    : { module: m.name, kind: 'lowRank' as const, dIn: m.dIn, dOut: m.dOut, rank: 2,
        left: randomArray(m.dIn * 2, next, 0.3), right: randomArray(2 * m.dOut, next, 0.3) });
}

function hostDelta(s: StoredShift): Float32Array {
  if (s.kind === 'dense') return s.delta;
  const out = new Float32Array(s.dIn * s.dOut);
  for (let i = 0; i < s.dIn; i++) for (let o = 0; o < s.dOut; o++) {
    let acc = 0;
    for (let r = 0; r < s.rank; r++) acc += s.left[i * s.rank + r] * s.right[r * s.dOut + o];
    out[i * s.dOut + o] = acc;
  }
  return out;
}

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-journal-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function appendEdits(journal: EditJournal, model: WeightsOnlyModel, from: number, to: number): void {
  for (let j = from; j <= to; j++) {
    const shifts = makeShifts(j);
    applyStoredShifts(model, shifts);
    journal.appendEdit({ editor: 'test', request: { prompt: `p${j}`, target: `t${j}` },
      selected: shifts.map((s) => s.module), scores: {}, norms: {} }, shifts);
  }
}

function journalWithEdits(n: number, opts: JournalCreateOptions = {}): { file: string; model: WeightsOnlyModel; journal: EditJournal } {
  const file = path.join(dir, 'edits.hjournal');
  const model = new WeightsOnlyModel(SHAPES, 7);
  const journal = EditJournal.create(file, header(), opts);
  appendEdits(journal, model, 1, n);
  return { file, model, journal };
}

describe('edit journal', () => {
  test('rollback of edit i out of 50 equals edits 1..50 without i, within float32 summation error', () => {
    const { model, journal, file } = journalWithEdits(50);
    const i = 21; // a dense edit (21 % 7 == 0) on two modules (21 % 3 == 0): the hardest case
    const before = new Map(SHAPES.map((s) => [s.name, Float32Array.from(model.host(s.name))]));
    journal.appendRollback(`e${i}`);
    applyStoredShifts(model, journal.readShifts(`e${i}`), -1);

    const expected = new WeightsOnlyModel(SHAPES, 7);
    // Bound on |sum error|: every element is a chain of at most 51 float32 additions; each rounds by at
    // most 2^-24 times the running magnitude, which is at most M = |W0| + sum_j |dW_j|. Both the rolled
    // back and the reference chain carry that error, hence 2 * 52 * 2^-24 * M (52 covers the rollback).
    const magnitude = new Map(SHAPES.map((s) => [s.name, Float32Array.from(expected.host(s.name), Math.abs)]));
    for (let j = 1; j <= 50; j++) {
      for (const s of makeShifts(j)) {
        const d = hostDelta(s);
        const m = magnitude.get(s.module)!;
        for (let k = 0; k < d.length; k++) m[k] += Math.abs(d[k]);
      }
      if (j !== i) applyStoredShifts(expected, makeShifts(j));
    }
    let worstRatio = 0;
    let removed = 0;
    for (const s of SHAPES) {
      const got = model.host(s.name);
      const want = expected.host(s.name);
      const pre = before.get(s.name)!;
      const m = magnitude.get(s.name)!;
      for (let k = 0; k < got.length; k++) {
        const tol = 2 * 52 * Math.pow(2, -24) * m[k];
        worstRatio = Math.max(worstRatio, Math.abs(got[k] - want[k]) / tol);
        removed = Math.max(removed, Math.abs(pre[k] - want[k]) / tol);
      }
    }
    expect(worstRatio).toBeLessThanOrEqual(1);
    // The check can fail: before the rollback the weights are far outside that tolerance.
    expect(removed).toBeGreaterThan(1000);

    // Reopening sees the rollback: replay gives the "without i" model bitwise (same addition order).
    const replayed = new WeightsOnlyModel(SHAPES, 7);
    const ids = replayJournal(EditJournal.open(file), replayed, BASE_HASH);
    expect(ids).toHaveLength(49);
    expect(ids).not.toContain(`e${i}`);
    expect(currentWeightsDigest(replayed)).toBe(currentWeightsDigest(expected));
    for (const m of [model, expected, replayed]) m.dispose();
  });

  test('replay reproduces the edited model bitwise; an edit pack applies the same shifts elsewhere', () => {
    const { model, journal, file } = journalWithEdits(12);
    const reopened = EditJournal.open(file);
    expect(reopened.records).toHaveLength(12);
    expect(reopened.warnings).toHaveLength(0);
    const fresh = new WeightsOnlyModel(SHAPES, 7);
    const digestBase = currentWeightsDigest(fresh);
    replayJournal(reopened, fresh, BASE_HASH);
    expect(currentWeightsDigest(fresh)).toBe(currentWeightsDigest(model));
    expect(currentWeightsDigest(fresh)).not.toBe(digestBase);

    const packFile = path.join(dir, 'edits.hpack');
    expect(exportEditPack(journal, packFile)).toBe(12);
    // A pack holds factors, never the model: far smaller than the 3 dense weights times 12 edits.
    expect(fs.statSync(packFile).size).toBeLessThan(fs.statSync(file).size + 1024);
    const elsewhere = new WeightsOnlyModel(SHAPES, 7);
    expect(applyEditPack(elsewhere, BASE_HASH, packFile)).toHaveLength(12);
    expect(currentWeightsDigest(elsewhere)).toBe(currentWeightsDigest(model));
    const other = new WeightsOnlyModel(SHAPES, 8);
    const otherDigest = currentWeightsDigest(other);
    expect(() => applyEditPack(other, 'b'.repeat(64), packFile)).toThrow(/another base model/);
    expect(currentWeightsDigest(other)).toBe(otherDigest);
    for (const m of [model, fresh, elsewhere, other]) m.dispose();
  });

  test('a torn last record is ignored with a warning and cut away by the next append', () => {
    const { model, file } = journalWithEdits(5);
    const full = fs.statSync(file).size;
    fs.truncateSync(file, full - 17);
    const warnings: string[] = [];
    const j = EditJournal.open(file, { onWarning: (w) => warnings.push(w) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/torn last record at byte offset \d+/);
    expect(warnings[0]).toContain(file);
    expect(j.records.map((r) => r.type === 'edit' && r.editId)).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(j.nextEditId()).toBe('e5');
    const s = makeShifts(99);
    j.appendEdit({ editor: 'test', request: { prompt: 'p', target: 't' }, selected: [s[0].module], scores: {}, norms: {} }, s);
    const again = EditJournal.open(file, { onWarning: (w) => warnings.push(w) });
    expect(warnings).toHaveLength(1);
    expect(again.records).toHaveLength(5);
    expect(again.readShifts('e5')[0].module).toBe(s[0].module);

    // A zero-filled tail (size grew, data never reached the disk) is a torn write too.
    fs.appendFileSync(file, Buffer.alloc(100));
    const w2: string[] = [];
    expect(EditJournal.open(file, { onWarning: (w) => w2.push(w) }).records).toHaveLength(5);
    expect(w2[0]).toMatch(/zero-filled/);
    model.dispose();
  });

  test('a corrupted record in the middle is refused naming the file, record index and byte offset', () => {
    const { model, journal, file } = journalWithEdits(6);
    const rec = journal.records[2]; // record index 3 (0 is the header)
    const bytes = fs.readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[rec.byteOffset + 40] ^= 0x10;
    fs.writeFileSync(file, flipped);
    expect(() => EditJournal.open(file)).toThrow(
      new RegExp(`journal ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: record 3 at byte offset ${rec.byteOffset} is corrupted`));
    // A damaged length field is caught by its complement, not trusted.
    const badLen = Buffer.from(bytes);
    badLen[rec.byteOffset + 1] ^= 0x01;
    fs.writeFileSync(file, badLen);
    expect(() => EditJournal.open(file)).toThrow(/record 3 at byte offset \d+ is corrupted: its length field/);
    fs.writeFileSync(file, bytes);
    expect(EditJournal.open(file).records).toHaveLength(6);
    fs.writeFileSync(file, Buffer.concat([Buffer.from('NOTAJRNL'), bytes.subarray(8)]));
    expect(() => EditJournal.open(file)).toThrow(/bad magic/);
    model.dispose();
  });

  test('a flipped byte in the last, complete record is corruption, not a torn write: the journal is refused', () => {
    const { model, journal, file } = journalWithEdits(5);
    const last = journal.records[4];
    const bytes = fs.readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[last.byteOffset + 40] ^= 0x01;
    fs.writeFileSync(file, flipped);
    const warnings: string[] = [];
    expect(() => EditJournal.open(file, { onWarning: (w) => warnings.push(w) })).toThrow(new RegExp(
      `record 5 at byte offset ${last.byteOffset} is corrupted: SHA-256 checksum mismatch \\(the record is complete, so this ` +
      `is not a torn write\\); the journal is refused. To keep the records before it, copy the first ${last.byteOffset} bytes`));
    expect(warnings).toEqual([]);
    // A complete record whose checksum never reached the disk (zeros) is still a torn write.
    const zeroDigest = Buffer.from(bytes);
    zeroDigest.fill(0, bytes.length - 32);
    fs.writeFileSync(file, zeroDigest);
    const reopened = EditJournal.open(file, { onWarning: (w) => warnings.push(w) });
    expect(warnings[0]).toMatch(/torn last record .*checksum never reached the disk/);
    // The torn edit was never acknowledged; ids already given are never given again.
    expect(reopened.nextEditId()).toBe('e5');
    model.dispose();
  });

  test('a journal of another base model or other module shapes is refused, the model untouched', () => {
    const { file } = journalWithEdits(2);
    const model = new WeightsOnlyModel(SHAPES, 7);
    const digest = currentWeightsDigest(model);
    expect(() => replayJournal(EditJournal.open(file), model, 'c'.repeat(64))).toThrow(/another base model/);
    const narrow = new WeightsOnlyModel([{ ...SHAPES[0], dOut: 21 }, SHAPES[1], SHAPES[2]], 7);
    expect(() => replayJournal(EditJournal.open(file), narrow, BASE_HASH)).toThrow(/h\.2\.mlp\.c_fc is 12x20 in the header but 12x21/);
    expect(currentWeightsDigest(model)).toBe(digest);
    model.dispose();
    narrow.dispose();
  });

  test('apply is all-or-nothing; rollback ids are checked', () => {
    const { model, journal } = journalWithEdits(1);
    const digest = currentWeightsDigest(model);
    const good = makeShifts(3);
    expect(() => applyStoredShifts(model, [...good, { ...good[0], module: 'h.9.mlp.c_fc' }])).toThrow(/no module named h\.9/);
    expect(currentWeightsDigest(model)).toBe(digest);
    const nan = Float32Array.from((good[0] as { left: Float32Array }).left);
    nan[3] = NaN;
    expect(() => applyStoredShifts(model, [good[1], { ...(good[0] as never as object), left: nan } as StoredShift]))
      .toThrow(/non-finite value at index 3/);
    model.failOnAddShiftCall = 2 + 1; // 1 call so far from journalWithEdits; fail on the second shift
    expect(() => applyStoredShifts(model, good)).toThrow(/injected failure/);
    expect(currentWeightsDigest(model)).toBe(digest);
    expect(() => journal.appendRollback('e7')).toThrow(/no edit with id "e7"/);
    journal.appendRollback('e1');
    expect(() => journal.appendRollback('e1')).toThrow(/already rolled back/);
    expect(() => EditJournal.create(journal.file, header())).toThrow(/already exists/);
    model.dispose();
  });

  test('a second writer is refused; a stale write lock is taken over, a live one is not', () => {
    const { model, file } = journalWithEdits(2);
    const a = EditJournal.open(file);
    const b = EditJournal.open(file);
    const s = makeShifts(5);
    const info = { editor: 'test', request: { prompt: 'p', target: 't' }, selected: [s[0].module], scores: {}, norms: {} };
    a.appendEdit(info, s);
    expect(() => b.appendEdit(info, s)).toThrow(/size changed on disk .* \(another writer\?\); reopen it/);
    expect(EditJournal.open(file).records).toHaveLength(3);
    // A lock held by a live process (our parent) blocks the append; one left by a dead process does not.
    fs.writeFileSync(`${file}.lock`, String(process.ppid));
    expect(() => a.appendRollback('e1')).toThrow(/locked by process \d+/);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    fs.writeFileSync(`${file}.lock`, dead.stdout.toString());
    a.appendRollback('e1');
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    expect(EditJournal.open(file).isRolledBack('e1')).toBe(true);
    model.dispose();
  });

  test('a lock without a pid, or held by a live unrelated process, is refused within about a second, saying what holds it and how to clear it', () => {
    const { model, journal, file } = journalWithEdits(1);
    const lock = `${file}.lock`;
    fs.writeFileSync(lock, ''); // what a full disk left behind: the lock created, its pid never written
    const t0 = Date.now();
    expect(() => journal.appendRollback('e1')).toThrow(new RegExp(`the lock ${lock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ` +
      `since \\S+ holds no process id \\(it is empty\\): .*if no hiedit process is writing this journal, delete .*\\.lock$`));
    expect(Date.now() - t0).toBeLessThan(5000);
    fs.writeFileSync(lock, 'garbage\n');
    expect(() => journal.appendRollback('e1')).toThrow(/holds no process id \(it holds "garbage"\)/);
    // A live process that is not a writer (here: the test runner's parent): named, with its command where known.
    fs.writeFileSync(lock, String(process.ppid));
    expect(() => journal.appendRollback('e1')).toThrow(new RegExp(`locked by process ${process.ppid}( \\(.+\\))? since \\S+ ` +
      `.*another writer is appending\\. If that process is not writing this journal .*delete .*\\.lock$`));
    fs.rmSync(lock);
    journal.appendRollback('e1');
    expect(fs.existsSync(lock)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual(['edits.hjournal']);
    model.dispose();
  });

  test('a failed replay restores every touched module bitwise from its snapshot', () => {
    const { model, journal } = journalWithEdits(6);
    const other = new WeightsOnlyModel(SHAPES, 7);
    // perturb the target first so a subtraction-based undo would show its rounding
    applyStoredShifts(other, makeShifts(40));
    const digest = currentWeightsDigest(other);
    const n = tf.memory().numTensors;
    other.failOnAddShiftCall = 1 + 7; // one call above; edits 1..5 take 6 calls: edit 6 fails on its first shift
    expect(() => replayJournal(journal, other, BASE_HASH)).toThrow(/injected failure/);
    expect(currentWeightsDigest(other)).toBe(digest);
    expect(tf.memory().numTensors).toBe(n);
    other.dispose();
    model.dispose();
  });

  test('a write error in the middle of an append leaves no partial record and the journal usable', () => {
    const { model, file, journal } = journalWithEdits(2);
    const sizeBefore = fs.statSync(file).size;
    const s = makeShifts(5);
    const info = { editor: 'test', request: { prompt: 'p', target: 't' }, selected: [s[0].module], scores: {}, norms: {} };
    const realWrite = fs.writeSync;
    let calls = 0;
    // the first write call stores half the frame, the second fails like a full disk
    const spy = jest.spyOn(nodeFs, 'writeSync').mockImplementation(((fd: number, buf: Buffer, off: number, len: number, pos: number) => {
      // positioned writes are the frame's; the lock file's write goes through
      if (typeof pos !== 'number') return realWrite(fd, buf, off, len);
      calls += 1;
      if (calls === 1) return realWrite(fd, buf, off, Math.max(1, Math.floor(len / 2)), pos);
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    }) as never);
    try {
      expect(() => journal.appendEdit(info, s)).toThrow(/append at byte offset \d+ failed \(ENOSPC.*the partial record was removed/);
    } finally {
      spy.mockRestore();
    }
    expect(calls).toBe(2);
    expect(fs.statSync(file).size).toBe(sizeBefore);
    expect(journal.nextEditId()).toBe('e3');
    journal.appendEdit(info, s);
    const warnings: string[] = [];
    const again = EditJournal.open(file, { onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
    expect(again.records.map((r) => r.editId)).toEqual(['e1', 'e2', 'e3']);
    expect(again.readShifts('e3')[0].module).toBe(s[0].module);
    model.dispose();
  });

  test('when the partial record cannot be cut away the journal refuses further appends until reopened', () => {
    const { model, file, journal } = journalWithEdits(1);
    const s = makeShifts(4);
    const info = { editor: 'test', request: { prompt: 'p', target: 't' }, selected: [s[0].module], scores: {}, norms: {} };
    const realWrite = fs.writeSync;
    const w = jest.spyOn(nodeFs, 'writeSync').mockImplementation(((fd: number, buf: Buffer, off: number, len: number, pos: number) => {
      if (typeof pos !== 'number') return realWrite(fd, buf, off, len);
      realWrite(fd, buf, off, Math.max(1, Math.floor(len / 3)), pos);
      throw new Error('EIO: i/o error');
    }) as never);
    const t = jest.spyOn(nodeFs, 'ftruncateSync').mockImplementation((() => { throw new Error('EIO: truncate'); }) as never);
    try {
      expect(() => journal.appendEdit(info, s)).toThrow(/could not be removed: reopen the journal/);
    } finally {
      w.mockRestore();
      t.mockRestore();
    }
    expect(() => journal.appendEdit(info, s)).toThrow(`journal ${file}: an earlier append failed and its partial record could not be removed; reopen the journal (EditJournal.open) before appending again`);
    const warnings: string[] = [];
    const reopened = EditJournal.open(file, { onWarning: (m) => warnings.push(m) });
    expect(warnings[0]).toMatch(/torn last record/);
    reopened.appendEdit(info, s);
    expect(EditJournal.open(file).records.map((r) => r.editId)).toEqual(['e1', 'e2']);
    model.dispose();
  });

  test('opening, looking up and rolling back cost no more per record in a long journal (no quadratic scans)', () => {
    const shift = makeShifts(1);
    const frames = (n: number): Buffer[] => [encodeFrame(encodeHeader(header())), ...Array.from({ length: n }, (_, i) =>
      encodeFrame(encodeEdit({ editId: `e${i + 1}`, time: 't', editor: 'test', request: { prompt: `p${i}`, target: 't' },
        selected: [shift[0].module], scores: {}, norms: {} }, shift)))];
    // Best of three: the machine is shared, a single timing can be slowed by others.
    const perRecord = (n: number): number => {
      const file = path.join(dir, `long-${n}.hjournal`);
      createFramedFile(file, JOURNAL_MAGIC, frames(n));
      const bytes = fs.readFileSync(file);
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        const j = EditJournal.open(file);
        for (let i = 1; i <= n; i += 7) j.readShifts(`e${i}`);
        j.appendRollback(`e${n}`);
        best = Math.min(best, (performance.now() - t0) / n);
        fs.writeFileSync(file, bytes);
      }
      return best;
    };
    const small = perRecord(1000);
    const large = perRecord(8000);
    // Linear work keeps the cost per record flat; a scan of the journal per record would make it 8 times larger.
    expect(large / small).toBeLessThan(4);
  });

  test('journal operations leave no tensors behind', () => {
    const { model, journal } = journalWithEdits(1);
    const n = tf.memory().numTensors;
    for (let j = 2; j < 10; j++) applyStoredShifts(model, makeShifts(j));
    const other = new WeightsOnlyModel(SHAPES, 7);
    replayJournal(journal, other, BASE_HASH);
    expect(tf.memory().numTensors).toBe(n + SHAPES.length); // only the new model's variables
    other.dispose();
    expect(tf.memory().numTensors).toBe(n);
    model.dispose();
  });
});

describe('journal index', () => {
  const EVERY = 8;
  /** Everything `open` learns, as plain data: what a full scan and an index-assisted open must agree on. */
  const view = (j: EditJournal): unknown => ({ records: j.records, active: j.activeEditIds(), next: j.nextEditId(),
    rolledBack: j.records.filter((r) => r.type === 'rollback').map((r) => j.isRolledBack(r.editId)) });
  const open = (file: string, warnings: string[] = [], verify: 'index' | 'full' = 'index'): EditJournal =>
    EditJournal.open(file, { indexEvery: EVERY, verify, onWarning: (w) => warnings.push(w) });
  /** Bytes `fn` reads through fs.readSync (a pass-through spy: the real reads run). */
  const bytesRead = <T>(fn: () => T): { value: T; bytes: number } => {
    const real = nodeFs.readSync;
    let bytes = 0;
    const spy = jest.spyOn(nodeFs, 'readSync').mockImplementation(((...args: Parameters<typeof fs.readSync>) => {
      const n = (real as (...a: unknown[]) => number)(...args);
      bytes += n;
      return n;
    }) as never);
    try {
      return { value: fn(), bytes };
    } finally {
      spy.mockRestore();
    }
  };

  test('open reads only the records after the last checkpoint, and sees what a full scan sees', () => {
    const { model, journal, file } = journalWithEdits(60, { indexEvery: EVERY });
    journal.appendRollback('e17');
    const index = `${file}.index`;
    expect(fs.existsSync(index)).toBe(true);
    const size = fs.statSync(file).size;
    const warnings: string[] = [];
    const { value: j, bytes } = bytesRead(() => open(file, warnings));
    // 61 records, checkpoints every 8: 56 covered by the index, 5 read.
    expect(j.opened).toEqual({ mode: 'index', scannedRecords: 5, scannedBytes: expect.any(Number), indexedRecords: 56,
      indexRebuilt: false });
    const tail = j.opened!.scannedBytes;
    // Magic and header, the index, 40 bytes per checkpoint and the tail: far less than the journal.
    expect(bytes).toBeLessThanOrEqual(tail + fs.statSync(index).size + 7 * 40 + 2048);
    expect(bytes).toBeLessThan(size / 4);
    expect(warnings).toEqual([]);
    expect(j.activeEditIds()).toHaveLength(59);
    expect(j.isRolledBack('e17')).toBe(true);
    expect(view(j)).toEqual(view(open(file, warnings, 'full')));
    expect(warnings).toEqual([]);
    // Ids are never reused: the next edit after an index-assisted open is e61.
    expect(j.nextEditId()).toBe('e61');
    model.dispose();
  });

  test('replay and rollback through an index-assisted open give the full scan\'s weights bitwise', () => {
    const { model, file } = journalWithEdits(40, { indexEvery: EVERY });
    const indexed = open(file);
    expect(indexed.opened!.mode).toBe('index');
    for (const id of ['e1', 'e21', 'e40']) indexed.appendRollback(id);
    const viaIndex = new WeightsOnlyModel(SHAPES, 7);
    replayJournal(open(file), viaIndex, BASE_HASH);
    const viaFull = new WeightsOnlyModel(SHAPES, 7);
    replayJournal(open(file, [], 'full'), viaFull, BASE_HASH);
    const expected = new WeightsOnlyModel(SHAPES, 7);
    for (let j = 1; j <= 40; j++) if (![1, 21, 40].includes(j)) applyStoredShifts(expected, makeShifts(j));
    expect(currentWeightsDigest(viaIndex)).toBe(currentWeightsDigest(expected));
    expect(currentWeightsDigest(viaFull)).toBe(currentWeightsDigest(expected));
    for (const m of [model, viaIndex, viaFull, expected]) m.dispose();
  });

  test('a missing index is rebuilt without a word; a stale or corrupt one is rebuilt with a warning', () => {
    const { model, file } = journalWithEdits(30, { indexEvery: EVERY });
    const index = `${file}.index`;
    const reference = view(open(file, [], 'full'));
    fs.rmSync(index);
    const warnings: string[] = [];
    const rebuilt = open(file, warnings);
    expect(rebuilt.opened).toMatchObject({ mode: 'full', scannedRecords: 30, indexProblem: 'missing', indexRebuilt: true });
    expect(warnings).toEqual([]);
    expect(open(file).opened).toMatchObject({ mode: 'index', scannedRecords: 6, indexedRecords: 24 });
    const good = fs.readFileSync(index);

    const cases: [string, Buffer, RegExp][] = [
      ['a flipped byte', (() => { const b = Buffer.from(good); b[b.length - 50] ^= 0x04; return b; })(), /unreadable \(journal index .*corrupted/],
      ['garbage', Buffer.from('not an index at all'), /unreadable \(.*bad magic/],
      ['the head only of another journal', (() => {
        const other = path.join(dir, 'other.hjournal');
        const o = EditJournal.create(other, { ...header(), createdAt: '2026-02-02T00:00:00.000Z' }, { indexEvery: EVERY });
        appendEdits(o, new WeightsOnlyModel(SHAPES, 7), 1, 30);
        return fs.readFileSync(`${other}.index`);
      })(), /belongs to another journal/],
    ];
    for (const [what, bytes, why] of cases) {
      fs.writeFileSync(index, bytes);
      const w: string[] = [];
      const j = open(file, w);
      expect([what, j.opened!.mode, j.opened!.indexRebuilt]).toEqual([what, 'full', true]);
      expect(w).toHaveLength(1);
      expect(w[0]).toMatch(why);
      expect(w[0]).toMatch(/was not used: .*; every record was verified instead and the index rebuilt$/);
      expect(view(j)).toEqual(reference);
      expect(open(file).opened!.mode).toBe('index');
    }
    model.dispose();
  });

  test('a journal truncated or rewritten under its index is scanned in full and read correctly', () => {
    const { model, journal, file } = journalWithEdits(30, { indexEvery: EVERY });
    const cut = journal.records[19].byteOffset; // keep e1..e19
    const stale = fs.readFileSync(`${file}.index`);
    fs.truncateSync(file, cut);
    const warnings: string[] = [];
    const j = open(file, warnings);
    expect(warnings[0]).toMatch(/was not used: it covers \d+ bytes but the journal has \d+ \(the journal was truncated/);
    expect(j.records.map((r) => r.editId)).toEqual(Array.from({ length: 19 }, (_, i) => `e${i + 1}`));
    expect(j.nextEditId()).toBe('e20');
    // Other edits appended after the cut: the old index covers as many bytes again, but its checkpoints no longer match.
    const other = new WeightsOnlyModel(SHAPES, 7);
    appendEdits(j, other, 101, 120);
    fs.writeFileSync(`${file}.index`, stale);
    const w2: string[] = [];
    const again = open(file, w2);
    expect(w2[0]).toMatch(/was not used: record \d+ at byte offset \d+ no longer matches checkpoint \d+/);
    expect(again.records).toHaveLength(39);
    expect(again.edit('e39').request.prompt).toBe('p120');
    model.dispose();
    other.dispose();
  });

  test('an index that lags the journal (a crash between the append and the index update) is used, the rest read', () => {
    const { model, journal, file } = journalWithEdits(16, { indexEvery: EVERY });
    const index = `${file}.index`;
    const old = fs.readFileSync(index);
    appendEdits(journal, model, 17, 33);
    // The state a kill leaves: the journal's records fsynced, the index two checkpoints behind, half a frame written.
    fs.writeFileSync(index, Buffer.concat([old, fs.readFileSync(index).subarray(old.length, old.length + 30)]));
    const warnings: string[] = [];
    const j = open(file, warnings);
    expect(warnings).toEqual([]);
    expect(j.opened).toMatchObject({ mode: 'index', indexedRecords: 16, scannedRecords: 17, indexRebuilt: false });
    expect(view(j)).toEqual(view(open(file, [], 'full')));
    // The open catches the index up (cutting the torn frame away); the next one reads only the last record.
    expect(open(file).opened).toMatchObject({ mode: 'index', indexedRecords: 32, scannedRecords: 1 });
    model.dispose();
  });

  test('an index removed or replaced while a writer appends is rewritten whole, and opens cleanly after', () => {
    const { model, file } = journalWithEdits(20, { indexEvery: EVERY });
    const warnings: string[] = [];
    const j = open(file, warnings);
    expect(j.opened!.mode).toBe('index');
    fs.rmSync(`${file}.index`);
    appendEdits(j, model, 21, 30);
    fs.writeFileSync(`${file}.index`, 'replaced by someone else');
    appendEdits(j, model, 31, 45);
    expect(warnings).toEqual([]);
    const again = open(file, warnings);
    expect(warnings).toEqual([]);
    expect(again.opened).toMatchObject({ mode: 'index', indexedRecords: 40, scannedRecords: 5 });
    expect(view(again)).toEqual(view(open(file, [], 'full')));
    model.dispose();
  });

  test('an index that cannot be written costs a warning, never an edit', () => {
    const { model, journal, file } = journalWithEdits(7, { indexEvery: EVERY });
    const warnings: string[] = [];
    const j = EditJournal.open(file, { indexEvery: EVERY, onWarning: (w) => warnings.push(w) });
    const realRename = fs.renameSync;
    const spy = jest.spyOn(nodeFs, 'renameSync').mockImplementation(((from: string, to: string) => {
      if (to.endsWith('.index')) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return realRename(from, to);
    }) as never);
    try {
      appendEdits(j, model, 8, 20);
    } finally {
      spy.mockRestore();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/could not write its index .*ENOSPC.*the journal is intact/);
    expect(fs.existsSync(`${file}.index`)).toBe(false);
    const reopened = open(file);
    expect(reopened.records).toHaveLength(20);
    expect(reopened.opened).toMatchObject({ mode: 'full', indexProblem: 'missing', indexRebuilt: true });
    expect(journal.nextEditId()).toBe('e8');
    expect(() => EditJournal.open(file, { indexEvery: 2.5 })).toThrow(
      `journal ${file}: indexEvery must be a non-negative integer (0: no index), got 2.5`);
    model.dispose();
  });

  test('a changed record the index covers is found when it is read; a full verification finds it on open', () => {
    const { model, journal, file } = journalWithEdits(24, { indexEvery: EVERY });
    const rec = journal.records[4];
    const bytes = fs.readFileSync(file);
    bytes[rec.byteOffset + 60] ^= 0x10;
    fs.writeFileSync(file, bytes);
    const j = open(file);
    expect(j.opened!.mode).toBe('index');
    expect(j.edit('e4').editId).toBe('e4');
    const where = `record 5 at byte offset ${rec.byteOffset} is corrupted: SHA-256 checksum mismatch`;
    expect(() => j.edit('e5')).toThrow(`${where} (found when the record was read`);
    expect(() => replayJournal(open(file), new WeightsOnlyModel(SHAPES, 7), BASE_HASH)).toThrow(where);
    expect(() => open(file, [], 'full')).toThrow(`${where} (${bytes.length - rec.byteOffset -
      (journal.records[5].byteOffset - rec.byteOffset)} bytes of later records follow`);
    model.dispose();
  });

  test('a lock without a pid unchanged for a minute is taken over with a warning (a newer one is refused: test above)', () => {
    const { model, file } = journalWithEdits(1);
    const lock = `${file}.lock`;
    const warnings: string[] = [];
    const j = EditJournal.open(file, { onWarning: (w) => warnings.push(w) });
    fs.writeFileSync(lock, '');
    const old = new Date(Date.now() - 61_000);
    fs.utimesSync(lock, old, old);
    j.appendRollback('e1');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`removed the stale lock .*\\.lock: it held no process id \\(empty\\) and was last ` +
      `changed \\S+, 6\\d s ago \\(left by a crashed writer, a full disk or an older hiedit version`));
    expect(fs.existsSync(lock)).toBe(false);
    expect(EditJournal.open(file).isRolledBack('e1')).toBe(true);
    model.dispose();
  });
});

describe('replay checkpoints', () => {
  /** A fresh base model with the journal replayed onto it, snapshots taken along the way. */
  function replayed(journal: EditJournal, opts: { every: number; budgetBytes?: number }): { model: WeightsOnlyModel; cps: ReplayCheckpoints } {
    const model = new WeightsOnlyModel(SHAPES, 7);
    const base = new Map(readHostWeights(model, SHAPES.map((s) => s.name)).map((w) => [w.name, w]));
    const cps = new ReplayCheckpoints(model, base, opts);
    replayJournal(journal, model, BASE_HASH, (_id, recordIndex) => cps.afterApply(recordIndex));
    return { model, cps };
  }
  const replayDigest = (file: string): string => {
    const m = new WeightsOnlyModel(SHAPES, 7);
    replayJournal(EditJournal.open(file, { verify: 'full' }), m, BASE_HASH);
    const d = currentWeightsDigest(m);
    m.dispose();
    return d;
  };
  const rollback = (journal: EditJournal, cps: ReplayCheckpoints, id: string): number => {
    const modules = new Set(journal.readShifts(id).map((s) => s.module));
    journal.appendRollback(id);
    return cps.rebuild(journal, modules, journal.recordIndexOf(id));
  };

  test('a rollback rebuilt from the nearest snapshot equals a full replay bit for bit, and reads only the later edits', () => {
    const { model: live, journal, file } = journalWithEdits(40);
    const { model, cps } = replayed(journal, { every: 4 });
    expect(cps.count).toBe(10);
    expect(currentWeightsDigest(model)).toBe(currentWeightsDigest(live));
    // The last edit: from the snapshot after e36, e37..e39 read again (not 39 edits from the base).
    expect(rollback(journal, cps, 'e40')).toBe(3);
    expect(currentWeightsDigest(model)).toBe(replayDigest(file));
    for (const id of ['e2', 'e21', 'e39', 'e1', 'e24', 'e36', 'e37']) {
      rollback(journal, cps, id);
      expect([id, currentWeightsDigest(model)]).toEqual([id, replayDigest(file)]);
    }
    // Edits applied live after the rollbacks are snapshotted as they come, and undone the same way.
    for (let j = 41; j <= 50; j++) {
      const shifts = makeShifts(j);
      applyStoredShifts(model, shifts);
      const e = journal.appendEdit({ editor: 'test', request: { prompt: `p${j}`, target: `t${j}` }, selected: shifts.map((s) => s.module),
        scores: {}, norms: {} }, shifts);
      cps.afterApply(journal.recordIndexOf(e.editId));
    }
    expect(rollback(journal, cps, 'e49')).toBeLessThan(4);
    rollback(journal, cps, 'e3');
    expect(currentWeightsDigest(model)).toBe(replayDigest(file));
    for (const m of [live, model]) m.dispose();
  });

  test('snapshots stay within their memory budget (thinned out) and rebuilds stay bitwise', () => {
    const { model: live, journal, file } = journalWithEdits(40);
    const bytes = SHAPES.reduce((n, s) => n + s.dIn * s.dOut * 4, 0);
    const { model, cps } = replayed(journal, { every: 2, budgetBytes: 3 * bytes });
    expect(cps.count).toBeLessThanOrEqual(3);
    expect(cps.count).toBeGreaterThan(0);
    for (const id of ['e33', 'e5', 'e40']) rollback(journal, cps, id);
    expect(currentWeightsDigest(model)).toBe(replayDigest(file));
    expect(new ReplayCheckpoints(model, new Map(readHostWeights(model, [SHAPES[0].name]).map((w) => [w.name, w])),
      { budgetBytes: 10 }).count).toBe(0);
    for (const m of [live, model]) m.dispose();
  });
});
