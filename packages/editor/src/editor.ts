/**
 * The lifelong editor: one model, one editing method, an optional durable journal. Every edit is
 * validated before the model is touched, applied all-or-nothing, journaled (fsynced) and reported.
 */
import * as fs from 'fs';
import { TokenizedEditRequest, WeightSnapshot } from '@hiedit/tensor-core';
import './methods/builtin';
import { createEditor } from './editors/create';
import { disposeProposal, Editor, EditorTrainOptions, EditorTrainResult } from './editors/types';
import {
  beginApply, checkHeaderMatchesModel, EditJournal, JournalOpenOptions, replayJournal, shiftNorm, StoredShift, storeShift,
} from './journal';
import { checkModuleNames, defaultEditModules, EditorModel, journalHeaderFor, TupleTokenizer } from './model';
import { EditRequestInput, tokenizeRequest, validateRequest } from './request';

/** One selected module in an edit report. */
export interface ModuleReport {
  readonly module: string;
  /** Gate score (undefined for methods without a gate). */
  readonly score?: number;
  /** Frobenius norm of the applied shift. */
  readonly norm: number;
}

/** What `edit` returns. */
export interface EditReport {
  /** Journal id of the edit (`e1`, ...), or an in-memory id when there is no journal. */
  readonly editId: string;
  readonly requestId?: string;
  readonly editor: string;
  /**
   * The shifted modules. Empty when the editor applied nothing: a calibrated HiEdit editor skips an edit that no
   * strength within its range makes hold on its prompt (the edit is still journaled, with no shift).
   */
  readonly selected: readonly ModuleReport[];
  /** Gate score of every candidate module (empty without a gate). */
  readonly scores: Readonly<Record<string, number>>;
  /**
   * Module sets a calibrated editor tried (absent for other methods): more than 1 when the edit moved past the gate's
   * first choice.
   */
  readonly tries?: number;
  /** Wall-clock milliseconds of the whole edit (tokenize, trace, policies, apply, journal). */
  readonly ms: number;
}

/** Options of the LifelongEditor constructor. */
export interface LifelongEditorOptions {
  readonly model: EditorModel;
  readonly editor: Editor;
  /** Tokenizes (prompt, answer) pairs; required (use llm-loader's tokenizeTuple with the model's tokenizer). */
  readonly tokenize: TupleTokenizer;
  /**
   * Journal whose active edits the model ALREADY carries (see `openJournalFor`). Without one, edits are
   * kept in memory so rollback still works, but nothing is durable.
   */
  readonly journal?: EditJournal;
}

/**
 * Opens `file` for `model` (a freshly loaded base model): creates the journal when the file does not
 * exist, otherwise verifies it belongs to this base model and replays its active edits onto the model
 * (`onApplied` is called after each, see `replayJournal`).
 */
export function openJournalFor(model: EditorModel, file: string,
  opts: JournalOpenOptions & { onApplied?: (editId: string, recordIndex: number) => void } = {}):
  { journal: EditJournal; replayed: string[] } {
  const { onApplied, ...openOpts } = opts;
  if (!fs.existsSync(file)) return { journal: EditJournal.create(file, journalHeaderFor(model), openOpts), replayed: [] };
  const journal = EditJournal.open(file, openOpts);
  return { journal, replayed: replayJournal(journal, model, model.weightsHash(), onApplied) };
}

/**
 * Validates and tokenizes `request` for `model` (the checks `LifelongEditor.edit` makes before touching the model),
 * so a caller can check a whole batch before the first edit. Throws naming `where` and the field.
 */
export function prepareRequest(model: EditorModel, tokenize: TupleTokenizer, request: EditRequestInput, where = 'edit request'):
  { req: EditRequestInput; tokenized: TokenizedEditRequest } {
  const req = validateRequest(request, where);
  const tokenized = tokenizeRequest(req, tokenize, req.id ?? 'request', where, { maxTokens: model.config.maxPositions });
  return { req, tokenized };
}

/** A lifelong editor over one model. */
export class LifelongEditor {
  readonly model: EditorModel;
  readonly editor: Editor;
  readonly journal: EditJournal | undefined;
  private readonly tokenize: TupleTokenizer;
  private readonly memory = new Map<string, StoredShift[]>();
  private readonly memoryRolledBack = new Set<string>();
  private memoryCount = 0;

  constructor(opts: LifelongEditorOptions) {
    this.model = opts.model;
    this.editor = opts.editor;
    this.tokenize = opts.tokenize;
    this.journal = opts.journal;
    checkModuleNames(this.model, this.editor.modules, `editor ${this.editor.kind}`);
    if (this.journal) {
      checkHeaderMatchesModel(this.journal.header, this.model, this.model.weightsHash(), `journal ${this.journal.file}`);
    }
  }

  /**
   * A new editor of `kind` from the registry (untrained for methods that train), over `modules` or the
   * architecture's default edit modules.
   */
  static create(opts: { model: EditorModel; kind: string; tokenize: TupleTokenizer; modules?: readonly string[];
    settings?: Readonly<Record<string, unknown>>; journal?: EditJournal }): LifelongEditor {
    const modules = opts.modules ?? defaultEditModules(opts.model);
    checkModuleNames(opts.model, modules, `editor ${opts.kind}`);
    const editor = createEditor(opts.kind, opts.model, modules, opts.settings ?? {});
    return new LifelongEditor({ model: opts.model, editor, tokenize: opts.tokenize, journal: opts.journal });
  }

  /**
   * Applies one edit. Validation (empty prompt/target, untokenizable text, longer than the model's context) happens
   * before the model is touched; the shift is applied all-or-nothing and journaled (fsynced) before this returns;
   * if journaling fails the shift is undone.
   */
  edit(request: EditRequestInput): EditReport {
    const t0 = performance.now();
    const { req, tokenized } = prepareRequest(this.model, this.tokenize, request,
      `edit request${request?.id ? ` ${request.id}` : ''}`);
    return this.applyTokenized(req, tokenized, t0);
  }

  /** Applies an already tokenized request (benchmarks tokenize once); `text` is what the journal records. */
  editTokenized(text: EditRequestInput, tokenized: TokenizedEditRequest): EditReport {
    return this.applyTokenized(validateRequest(text), tokenized, performance.now());
  }

  private applyTokenized(req: EditRequestInput, tokenized: TokenizedEditRequest, t0: number): EditReport {
    const proposal = this.editor.propose(this.model, tokenized);
    let stored: StoredShift[];
    const norms: Record<string, number> = {};
    try {
      const candidates = new Set(this.editor.modules);
      stored = [...proposal.shifts.entries()].map(([name, shift]) => {
        if (!candidates.has(name)) throw new Error(`editor ${this.editor.kind} proposed a shift for ${name}, not an edit module`);
        norms[name] = shiftNorm(shift);
        return storeShift(name, shift);
      });
    } finally {
      disposeProposal(proposal);
    }
    const pending = beginApply(this.model, stored, 1, `edit ${req.id ?? ''}`.trim());
    let editId: string;
    try {
      const info = { editor: this.editor.kind, request: req, selected: [...proposal.selected],
        scores: { ...proposal.scores }, norms };
      if (this.journal) {
        editId = this.journal.appendEdit(info, stored).editId;
      } else {
        editId = `m${++this.memoryCount}`;
        this.memory.set(editId, stored);
      }
    } catch (e) {
      pending.undo();
      throw e;
    }
    pending.commit();
    return {
      editId, ...(req.id !== undefined ? { requestId: req.id } : {}), editor: this.editor.kind,
      selected: proposal.selected.map((m) => ({ module: m, ...(m in proposal.scores ? { score: proposal.scores[m] } : {}),
        norm: norms[m] ?? 0 })),
      scores: { ...proposal.scores }, ...(proposal.tries !== undefined ? { tries: proposal.tries } : {}), ms: performance.now() - t0,
    };
  }

  /**
   * Removes exactly the shift of `editId` (the other edits stay): subtracts its recorded factors and,
   * with a journal, appends a rollback record (fsynced) before returning; if that append fails the
   * subtraction is undone, so the model and the journal never disagree.
   */
  rollback(editId: string): { editId: string; modules: string[]; ms: number } {
    const t0 = performance.now();
    let shifts: StoredShift[];
    if (this.journal) {
      this.journal.edit(editId);
      if (this.journal.isRolledBack(editId)) throw new Error(`journal ${this.journal.file}: edit ${editId} is already rolled back`);
      shifts = this.journal.readShifts(editId);
      const pending = beginApply(this.model, shifts, -1, `rollback of ${editId}`);
      try {
        this.journal.appendRollback(editId);
      } catch (e) {
        pending.undo();
        throw e;
      }
      pending.commit();
    } else {
      const s = this.memory.get(editId);
      if (!s) throw new Error(`no edit with id ${JSON.stringify(editId)} in this session`);
      if (this.memoryRolledBack.has(editId)) throw new Error(`edit ${editId} is already rolled back`);
      beginApply(this.model, s, -1, `rollback of ${editId}`).commit();
      this.memoryRolledBack.add(editId);
      shifts = s;
    }
    return { editId, modules: [...new Set(shifts.map((s) => s.module))], ms: performance.now() - t0 };
  }

  /**
   * Rebuilds an edited model: applies the active edits of `journal` to `baseModel` (which must be the
   * base model the journal was started from). Returns the replayed edit ids.
   */
  static replay(journal: EditJournal, baseModel: EditorModel): string[] {
    return replayJournal(journal, baseModel, baseModel.weightsHash());
  }

  /** Saves the edited model as a Hugging Face directory. */
  async exportModel(dir: string, dtype: 'F32' | 'F16' | 'BF16' = 'F32'): Promise<void> {
    if (!this.model.save) throw new Error('exportModel: this model cannot be saved (it has no save method)');
    await this.model.save(dir, { dtype });
  }

  /**
   * Meta-trains the editing method on a stream of requests (validated and tokenized here), delegating
   * to the method (rl-hierarchy's trainer for the policy methods). The edit modules' weights are
   * restored when training stops (finished, paused by `stopAfter`, or failed); the journal is not involved.
   */
  async train(stream: readonly EditRequestInput[], options: EditorTrainOptions & {
    validationRequests?: readonly EditRequestInput[] }): Promise<EditorTrainResult> {
    const tok = (list: readonly EditRequestInput[], label: string): TokenizedEditRequest[] => list.map((r, i) => {
      const where = `${label}[${i}]${r?.id ? ` (id ${r.id})` : ''}`;
      return tokenizeRequest(validateRequest(r, where), this.tokenize, r.id ?? String(i), where,
        { maxTokens: this.model.config.maxPositions });
    });
    const train = tok(stream, 'training stream');
    if (train.length === 0) throw new Error('train: the training stream is empty');
    const validation = options.validationRequests ? tok(options.validationRequests, 'validation stream') : options.validation;
    // Training edits the model along its trajectory; a paused or failed run must not leave those shifts
    // behind (they are in no journal), so the edit modules are restored whatever happens.
    const snapshot = new WeightSnapshot(this.model, this.editor.modules);
    try {
      return await this.editor.train(this.model, train, { ...options, ...(validation ? { validation } : {}) });
    } finally {
      snapshot.restore();
      snapshot.dispose();
    }
  }

  /** Releases the method's tensors (not the model's). */
  dispose(): void {
    this.editor.dispose();
  }
}
