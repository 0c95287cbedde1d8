/**
 * The JSON shapes the server answers with. Kept free of Node imports so the page (page/app.ts, bundled for the
 * browser) types its requests with the same definitions.
 */

/** The greedy answer of the model to a prompt, as long as the target's tokens. */
export interface Answer {
  readonly text: string;
  /** True when the greedy tokens are exactly the target's. */
  readonly isTarget: boolean;
}

/** One shifted module of an edit: the module, its gate score when the editor has a gate, and the shift's size. */
export interface ServedModule {
  readonly module: string;
  readonly score?: number;
  /** Frobenius norm of the applied shift (its strength). */
  readonly norm: number;
}

/** What applying an edit answers. */
export interface ServedEditReport {
  readonly id: string;
  readonly editor: string;
  /** False when the editor found no shift that makes the edit hold (journaled with no shift). */
  readonly applied: boolean;
  readonly modules: readonly ServedModule[];
  /** Sum of the shifts' Frobenius norms: 0 when nothing was applied. */
  readonly strength: number;
  /** Milliseconds of the whole edit (before and after answers included). */
  readonly ms: number;
  /** The prompt's answer before and after the edit. */
  readonly before: Answer;
  readonly after: Answer;
}

/** One edit of the journal as the list shows it. */
export interface ServedJournalEdit {
  readonly id: string;
  readonly time: string;
  readonly editor: string;
  readonly request: { readonly prompt: string; readonly target: string; readonly paraphrases: readonly string[] };
  readonly modules: readonly string[];
  readonly rolledBack: boolean;
  readonly rolledBackAt?: string;
}

/** One edit in detail: its journal entry, the answer its prompt gets now, and its report when this server applied it. */
export interface ServedEditDetail extends ServedJournalEdit {
  readonly now: Answer;
  /** Frobenius norm of the shift per module, as journaled. */
  readonly norms: Readonly<Record<string, number>>;
  /** Absent for edits replayed from the journal at start. */
  readonly report?: ServedEditReport;
}
