/**
 * Snapshots of module weights along a journal's replay, so undoing one edit bitwise as a replay would (every later
 * edit added again, in order, on top of the weights before it) starts from the nearest snapshot before that edit
 * instead of from the base weights.
 *
 * Why weights and not summed shifts: float addition does not associate, so W0 + (d1 + d2) is not the replay's
 * (W0 + d1) + d2. A snapshot is exactly the replay's intermediate value, and continuing from it gives the replay's
 * weights bit for bit.
 */
import { applyHostShifts, EditableModel, readHostWeights, writeHostWeights, type HostWeight } from '@hiedit/tensor-core';
import { EditJournal } from './journal';

/** Options of {@link ReplayCheckpoints}. */
export interface ReplayCheckpointOptions {
  /** Applied edits between snapshots (default 256); doubled whenever the memory budget would be exceeded. */
  readonly every?: number;
  /** Bytes all snapshots together may take (default 256 MiB); a model whose one snapshot exceeds it gets none. */
  readonly budgetBytes?: number;
}

interface Snapshot {
  /** Record index (frame index) of the last edit the snapshot includes. */
  readonly recordIndex: number;
  readonly weights: Map<string, HostWeight>;
}

/** Weight snapshots of a fixed set of modules, taken as edits are applied in journal order. */
export class ReplayCheckpoints {
  private readonly snapshots: Snapshot[] = [];
  private every: number;
  private readonly maxSnapshots: number;
  private sinceLast = 0;

  /**
   * @param base the base weights of every module tracked (the modules edits may touch); rebuilds start from them
   *   when no snapshot lies before the edit undone.
   */
  constructor(private readonly model: EditableModel, private readonly base: ReadonlyMap<string, HostWeight>,
    opts: ReplayCheckpointOptions = {}) {
    this.every = opts.every ?? 256;
    if (!Number.isInteger(this.every) || this.every < 1) throw new Error(`replay checkpoints: every must be a positive integer, got ${this.every}`);
    const bytes = [...base.values()].reduce((n, w) => n + w.data.byteLength, 0);
    this.maxSnapshots = bytes === 0 ? 0 : Math.floor((opts.budgetBytes ?? 256 << 20) / bytes);
  }

  /** True when `module` is tracked (its base weights were given). */
  tracks(module: string): boolean {
    return this.base.has(module);
  }

  /**
   * Drops the snapshots that include the edit at `recordIndex`: for when that edit was undone some other way (by
   * subtracting its shift), after which those snapshots no longer match the model.
   */
  forget(recordIndex: number): void {
    const kept = this.snapshots.filter((s) => s.recordIndex < recordIndex);
    this.snapshots.length = 0;
    this.snapshots.push(...kept);
  }

  /** Snapshots kept (for tests and health reports). */
  get count(): number {
    return this.snapshots.length;
  }

  /**
   * Call after the edit at `recordIndex` was applied to the model (in replay, or live: the model then equals the
   * replay of the journal up to that record). Every `every`-th call takes a snapshot of the tracked modules.
   */
  afterApply(recordIndex: number): void {
    if (this.maxSnapshots === 0 || ++this.sinceLast < this.every) return;
    this.sinceLast = 0;
    if (this.snapshots.length >= this.maxSnapshots) {
      // Over budget: keep every other snapshot and space later ones twice as far apart.
      const kept = this.snapshots.filter((_, i) => i % 2 === 1);
      this.snapshots.length = 0;
      this.snapshots.push(...kept);
      this.every *= 2;
    }
    this.snapshots.push({ recordIndex, weights: new Map(readHostWeights(this.model, [...this.base.keys()]).map((w) => [w.name, w])) });
  }

  /**
   * Rebuilds `modules` (tracked ones) as the replay of `journal`'s active edits would leave them, after the edit at
   * record `undone` was rolled back in the journal: from the last snapshot before that record (or the base weights),
   * adding the later active edits' shifts on those modules in journal order, and refreshing the later snapshots'
   * copies of those modules on the way. Returns how many edits it read.
   */
  rebuild(journal: EditJournal, modules: ReadonlySet<string>, undone: number): number {
    let from = -1;
    for (let i = 0; i < this.snapshots.length && this.snapshots[i].recordIndex < undone; i++) from = i;
    const start = from >= 0 ? this.snapshots[from] : undefined;
    const later = this.snapshots.slice(from + 1);
    writeHostWeights(this.model, [...modules].map((m) => (start ?? { weights: this.base }).weights.get(m)!));
    const after = start?.recordIndex ?? 0;
    const ids = journal.activeEditIds().filter((id) => journal.recordIndexOf(id) > after);
    const refresh = (s: Snapshot): void => {
      for (const w of readHostWeights(this.model, [...modules])) s.weights.set(w.name, w);
    };
    let k = 0;
    for (const { editId, info, shifts } of journal.readShiftsOf(ids)) {
      while (k < later.length && later[k].recordIndex < info.recordIndex) refresh(later[k++]);
      applyHostShifts(this.model, shifts.filter((s) => modules.has(s.module)), 1, `journal ${journal.file}: edit ${editId}`);
    }
    while (k < later.length) refresh(later[k++]);
    return ids.length;
  }
}
