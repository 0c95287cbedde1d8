/** Rebuilding an edited model from its base weights and a journal. */
import { EditableModel, readHostWeights, writeHostWeights, type HostWeight } from '@hiedit/tensor-core';
import { EditJournal } from './journal';
import { applyStoredShifts, checkHeaderMatchesModel } from './shifts';

/**
 * Applies the journal's active edits, in their original order, to `model`, which must be the base
 * model the journal was started from (`baseHash` = its `weightsHash()`). If an edit fails to apply,
 * every module the replay touched is written back from a copy taken before its first edit (bitwise the
 * weights it had; subtracting the edits again would leave float rounding behind) and the error is rethrown.
 * Returns the replayed edit ids. `onApplied` is called after each edit is applied, with its record index (for
 * `ReplayCheckpoints`).
 */
export function replayJournal(journal: EditJournal, model: EditableModel, baseHash: string,
  onApplied?: (editId: string, recordIndex: number) => void): string[] {
  checkHeaderMatchesModel(journal.header, model, baseHash, `journal ${journal.file}`);
  const done: string[] = [];
  const before = new Map<string, HostWeight>();
  try {
    for (const { editId, info, shifts } of journal.readShiftsOf(journal.activeEditIds())) {
      for (const s of shifts) if (!before.has(s.module)) before.set(s.module, readHostWeights(model, [s.module])[0]);
      applyStoredShifts(model, shifts, 1, `journal ${journal.file}: edit ${editId}`);
      done.push(editId);
      onApplied?.(editId, info.recordIndex);
    }
  } catch (e) {
    writeHostWeights(model, [...before.values()]);
    throw e;
  }
  return done;
}
