/** Rebuilding an edited model from its base weights and a journal. */
import { EditableModel, tf } from '@hiedit/tensor-core';
import { EditJournal } from './journal';
import { applyStoredShifts, checkHeaderMatchesModel } from './shifts';

/** Host copy of one module's weight, taken before the replay first touches it. */
interface ModuleSnapshot {
  readonly shape: [number, number];
  readonly data: Float32Array;
}

function snapshotModule(model: EditableModel, name: string): ModuleSnapshot {
  const w = model.readWeight(name);
  try {
    return { shape: [w.shape[0], w.shape[1]], data: Float32Array.from(w.dataSync() as Float32Array) };
  } finally {
    w.dispose();
  }
}

/**
 * Applies the journal's active edits, in their original order, to `model`, which must be the base
 * model the journal was started from (`baseHash` = its `weightsHash()`). If an edit fails to apply,
 * every module the replay touched is written back from a copy taken before its first edit (bitwise the
 * weights it had; subtracting the edits again would leave float rounding behind) and the error is rethrown.
 * Returns the replayed edit ids.
 */
export function replayJournal(journal: EditJournal, model: EditableModel, baseHash: string): string[] {
  checkHeaderMatchesModel(journal.header, model, baseHash, `journal ${journal.file}`);
  const done: string[] = [];
  const before = new Map<string, ModuleSnapshot>();
  try {
    for (const r of journal.activeEdits()) {
      const shifts = journal.readShifts(r.editId);
      for (const s of shifts) if (!before.has(s.module)) before.set(s.module, snapshotModule(model, s.module));
      applyStoredShifts(model, shifts, 1, `journal ${journal.file}: edit ${r.editId}`);
      done.push(r.editId);
    }
  } catch (e) {
    for (const [name, snap] of before) {
      const t = tf.tensor2d(snap.data, snap.shape);
      try {
        model.writeWeight(name, t);
      } finally {
        t.dispose();
      }
    }
    throw e;
  }
  return done;
}
