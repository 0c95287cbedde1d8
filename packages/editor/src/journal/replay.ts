/** Rebuilding an edited model from its base weights and a journal. */
import { EditableModel } from '@hiedit/tensor-core';
import { EditJournal } from './journal';
import { applyStoredShifts, checkHeaderMatchesModel } from './shifts';

/**
 * Applies the journal's active edits, in their original order, to `model`, which must be the base
 * model the journal was started from (`baseHash` = its `weightsHash()`). If an edit fails to apply,
 * the edits already applied by this call are subtracted again and the error is rethrown.
 * Returns the replayed edit ids.
 */
export function replayJournal(journal: EditJournal, model: EditableModel, baseHash: string): string[] {
  checkHeaderMatchesModel(journal.header, model, baseHash, `journal ${journal.file}`);
  const done: string[] = [];
  try {
    for (const r of journal.activeEdits()) {
      applyStoredShifts(model, journal.readShifts(r.editId), 1, `journal ${journal.file}: edit ${r.editId}`);
      done.push(r.editId);
    }
  } catch (e) {
    for (const id of [...done].reverse()) applyStoredShifts(model, journal.readShifts(id), -1, `undo of ${id}`);
    throw e;
  }
  return done;
}
