/**
 * What the server serves: one loaded model with its journal replayed, one editor, and the operations the HTTP
 * routes call. Everything here is synchronous model work except export; the routes put every write (and export)
 * through the WriteQueue, so a generation, which runs in one synchronous call, always sees the model between
 * two edits.
 */
import * as fs from 'fs';
import { currentWeightsDigest, readHostWeights, type TokenizedTuple } from '@hiedit/tensor-core';
import { LifelongEditor, openJournalFor } from '../editor';
import type { Editor } from '../editors/types';
import { EditJournal, type EditRecordInfo } from '../journal';
import { ReplayCheckpoints, type ReplayCheckpointOptions } from '../journal/replayCheckpoints';
import { EditorModel, EditorTokenizer, modelIdentity, TupleTokenizer } from '../model';
import { EditRequestInput, tokenizeRequest, validateRequest } from '../request';
import { RequestError } from './errors';
import type { Answer, ServedEditDetail, ServedEditReport, ServedJournalEdit } from './wire';

export type { Answer, ServedEditDetail, ServedEditReport, ServedJournalEdit, ServedModule } from './wire';

/** A model the server can run: an editable model with a tokenizer and greedy generation (llm-loader's CausalLM). */
export interface ServableModel extends EditorModel {
  readonly tokenizer?: EditorTokenizer;
  generate(ids: number[], maxNewTokens: number, opts?: { stopAtEos?: boolean }): number[];
}

/** Options of {@link ServeSession.open}. */
export interface ServeSessionOptions {
  readonly model: ServableModel;
  readonly editor: Editor;
  readonly tokenize: TupleTokenizer;
  /** The journal file: created when missing, else replayed onto the model once. */
  readonly journalFile: string;
  /** Where `export` saves the model; export is refused without it. */
  readonly exportDir?: string;
  readonly onWarning?: (message: string) => void;
  /** Weight snapshots along the replay, from which a rollback rebuilds (default: every 256 edits, 256 MiB at most). */
  readonly replayCheckpoints?: ReplayCheckpointOptions;
}

/** Largest `max_new_tokens` a generation may ask for. */
export const MAX_NEW_TOKENS = 256;

/** Finds `field "name"` in a validation message so a refusal can name the field. */
function fieldOf(message: string, fallback: string): string {
  return /field "([^"]+)"/.exec(message)?.[1] ?? fallback;
}

/** The model, editor and journal behind the server. */
export class ServeSession {
  readonly replayed: readonly string[];
  private readonly reports = new Map<string, ServedEditReport>();

  private constructor(
    readonly model: ServableModel,
    readonly editor: LifelongEditor,
    private readonly tokenize: TupleTokenizer,
    readonly exportDir: string | undefined,
    replayed: string[],
    /** Base weights of every module an edit may touch and snapshots along the replay, for rebuilding after a rollback. */
    private readonly checkpoints: ReplayCheckpoints,
  ) {
    this.replayed = replayed;
  }

  /** Opens (or creates) the journal, replays it onto the model once, and wraps model and editor. */
  static open(opts: ServeSessionOptions): ServeSession {
    if (!opts.model.tokenizer) throw new Error(`model ${opts.model.dir ?? opts.model.config.modelType} has no tokenizer (tokenizer.json missing)`);
    // The base weights of the modules edits touch (the editor's, and those of journaled edits by other editors) are
    // kept so a rollback can rebuild them as a replay would, bit for bit (see rollback).
    const touched = new Set(opts.editor.modules);
    if (fs.existsSync(opts.journalFile)) {
      for (const r of EditJournal.open(opts.journalFile, { onWarning: () => undefined }).records) {
        if (r.type === 'edit') for (const m of r.selected) touched.add(m);
      }
    }
    const base = new Map(readHostWeights(opts.model, [...touched]).map((w) => [w.name, w]));
    const checkpoints = new ReplayCheckpoints(opts.model, base, opts.replayCheckpoints);
    const { journal, replayed } = openJournalFor(opts.model, opts.journalFile, {
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}), onApplied: (_id, recordIndex) => checkpoints.afterApply(recordIndex),
    });
    const le = new LifelongEditor({ model: opts.model, editor: opts.editor, tokenize: opts.tokenize, journal });
    return new ServeSession(opts.model, le, opts.tokenize, opts.exportDir, replayed, checkpoints);
  }

  private get journal(): NonNullable<LifelongEditor['journal']> {
    return this.editor.journal!;
  }

  private get tokenizer(): EditorTokenizer {
    return this.model.tokenizer!;
  }

  /** Model, editor and journal facts for the health route. */
  info(): Record<string, unknown> {
    const active = this.journal.activeEdits().length;
    return {
      model: { ...modelIdentity(this.model), baseWeightsHash: this.model.weightsHash() },
      editor: { kind: this.editor.editor.kind, modules: this.editor.editor.modules },
      journal: { edits: this.journal.records.filter((r) => r.type === 'edit').length, active, replayedAtStart: this.replayed.length },
      export: this.exportDir !== undefined,
      maxNewTokens: MAX_NEW_TOKENS,
    };
  }

  /** SHA-256 over every module's current weights (tensor-core's currentWeightsDigest). */
  digest(): string {
    return currentWeightsDigest(this.model);
  }

  /** Greedy continuation of `prompt` (special tokens added as the tokenizer does, like `hiedit generate`). */
  generate(prompt: string, maxNewTokens: number, stopAtEos: boolean): { text: string; ids: number[]; tokens: number; ms: number; journalRecords: number } {
    const t0 = performance.now();
    if (prompt.trim().length === 0) throw new RequestError(400, 'prompt', 'is empty');
    const ids = this.tokenizer.encode(prompt, { addSpecialTokens: true });
    if (ids.length === 0) throw new RequestError(400, 'prompt', 'encodes to no tokens');
    let fresh: number[];
    try {
      fresh = this.model.generate(ids, maxNewTokens, { stopAtEos });
    } catch (e) {
      const m = (e as Error).message;
      if (/exceed the model's/.test(m)) throw new RequestError(400, 'max_new_tokens', m.replace(/^generate: /, ''));
      if (/positions/.test(m)) throw new RequestError(400, 'prompt', m);
      throw e;
    }
    // journalRecords names the model state the text came from: the base model plus the journal's first N records.
    return { text: this.decode(fresh), ids: fresh, tokens: fresh.length, ms: performance.now() - t0,
      journalRecords: this.journal.recordCount };
  }

  /**
   * Text of generated ids. A model's vocabulary is often padded past its tokenizer's, and a random or lightly trained
   * model may pick such an id: it is shown as <id> instead of failing the request.
   */
  private decode(ids: number[]): string {
    try {
      return this.tokenizer.decode(ids, { skipSpecialTokens: true });
    } catch {
      return ids.map((id) => {
        try {
          return this.tokenizer.decode([id], { skipSpecialTokens: true });
        } catch {
          return `<${id}>`;
        }
      }).join(' ');
    }
  }

  /** The greedy answer to the tuple's prompt, as many tokens long as its target. */
  private answer(tuple: TokenizedTuple): Answer {
    const promptLength = tuple.labels.filter((l) => l < 0).length + 1;
    const target = tuple.labels.slice(promptLength - 1) as number[];
    const got = this.model.generate(tuple.ids.slice(0, promptLength) as number[], target.length);
    return { text: this.decode(got).trim(), isTarget: got.every((t, i) => t === target[i]) };
  }

  /**
   * Applies one edit: validated and tokenized first (a bad field is a 400 and nothing is touched), then applied and
   * journaled (fsynced) by the LifelongEditor. Call it from the write queue only.
   */
  edit(input: { prompt: string; target: string; paraphrases?: readonly string[] }): ServedEditReport {
    const t0 = performance.now();
    let req: EditRequestInput;
    let tokenized;
    try {
      req = validateRequest({ prompt: input.prompt, target: input.target, paraphrases: input.paraphrases ?? [] });
    } catch (e) {
      const m = (e as Error).message.replace(/^edit request: /, '');
      throw new RequestError(400, fieldOf(m, 'body'), m.replace(/^field "[^"]+" /, ''));
    }
    try {
      tokenized = tokenizeRequest(req, this.tokenize, this.journal.nextEditId());
    } catch (e) {
      throw new RequestError(400, this.untokenizableField(req), (e as Error).message.replace(/^edit request: /, ''));
    }
    const before = this.answer(tokenized.edit);
    const r = this.editor.editTokenized(req, tokenized);
    this.checkpoints.afterApply(this.journal.recordIndexOf(r.editId));
    const after = this.answer(tokenized.edit);
    const modules = r.selected.map((m) => ({ module: m.module, ...(m.score !== undefined ? { score: m.score } : {}), norm: m.norm }));
    const report: ServedEditReport = {
      id: r.editId, editor: r.editor, applied: modules.length > 0, modules, strength: modules.reduce((s, m) => s + m.norm, 0),
      ms: performance.now() - t0, before, after,
    };
    this.reports.set(r.editId, report);
    return report;
  }

  /** The first field of a request that does not tokenize into a (prompt, target) tuple with an answer token. */
  private untokenizableField(req: EditRequestInput): string {
    const problem = (prompt: string): 'prompt' | 'target' | undefined => {
      try {
        return this.tokenize(prompt, req.target).labels.some((l) => l >= 0) ? undefined : 'target';
      } catch (e) {
        // tokenizeTuple names the part that encodes to nothing: the prompt, or the answer (our target).
        return /answer/.test((e as Error).message) ? 'target' : 'prompt';
      }
    };
    const own = problem(req.prompt);
    if (own) return own;
    const i = (req.paraphrases ?? []).findIndex((p) => problem(p) !== undefined);
    return i >= 0 ? `paraphrases[${i}]` : 'body';
  }

  /**
   * Rolls back one edit: the rollback record is fsynced first, then every module the edit shifted is rebuilt from the
   * last weight snapshot before the edit (or the base weights) and the later active edits in journal order.
   * Subtracting the shift (LifelongEditor.rollback) would leave float rounding behind, so the served model would drift
   * from what a restart (a replay) serves; the rebuild keeps it bitwise the journal's replay. Call it from the write
   * queue only.
   */
  rollback(id: string): { id: string; modules: string[]; ms: number; after: Answer } {
    const t0 = performance.now();
    const rec = this.record(id);
    if (this.journal.isRolledBack(id)) throw new RequestError(409, 'id', `edit ${id} is already rolled back`);
    const modules = [...new Set(this.journal.readShifts(id).map((s) => s.module))];
    const at = this.journal.recordIndexOf(id);
    if (modules.some((m) => !this.checkpoints.tracks(m))) {
      this.editor.rollback(id);
      this.checkpoints.forget(at);
    } else {
      this.journal.appendRollback(id);
      this.checkpoints.rebuild(this.journal, new Set(modules), at);
    }
    return { id, modules, ms: performance.now() - t0, after: this.answerTo(rec) };
  }

  private record(id: string): EditRecordInfo {
    const rec = this.journal.records.find((x) => x.type === 'edit' && x.editId === id);
    if (!rec || rec.type !== 'edit') throw new RequestError(404, 'id', `no edit ${id} in the journal`);
    return rec;
  }

  private answerTo(rec: EditRecordInfo): Answer {
    return this.answer(this.tokenize(rec.request.prompt, rec.request.target));
  }

  /** Every edit of the journal, oldest first. */
  list(): ServedJournalEdit[] {
    const rollbacks = new Map(this.journal.records.filter((r) => r.type === 'rollback').map((r) => [r.editId, r.time]));
    return this.journal.records.filter((r): r is typeof r & EditRecordInfo => r.type === 'edit').map((r) => ({
      id: r.editId, time: r.time, editor: r.editor,
      request: { prompt: r.request.prompt, target: r.request.target, paraphrases: r.request.paraphrases ?? [] },
      modules: [...r.selected], rolledBack: rollbacks.has(r.editId),
      ...(rollbacks.has(r.editId) ? { rolledBackAt: rollbacks.get(r.editId)! } : {}),
    }));
  }

  /**
   * One edit: its journal entry, the answer its prompt gets now, and the report it got when this server applied it
   * (absent for edits replayed from the journal at start).
   */
  show(id: string): ServedEditDetail {
    const rec = this.record(id);
    const entry = this.list().find((e) => e.id === id)!;
    const report = this.reports.get(id);
    return { ...entry, norms: { ...rec.norms }, now: this.answerTo(rec), ...(report ? { report } : {}) };
  }

  /** Saves the current model to the export directory given at start. Call it from the write queue only. */
  async export(dtype: 'F32' | 'F16' | 'BF16'): Promise<{ edits: number; dtype: string; ms: number }> {
    if (this.exportDir === undefined) throw new RequestError(409, 'export', 'the server was started without --export-dir');
    const t0 = performance.now();
    await this.editor.exportModel(this.exportDir, dtype);
    return { edits: this.journal.activeEdits().length, dtype, ms: performance.now() - t0 };
  }

  /** Releases the editor (the caller owns the model). */
  dispose(): void {
    this.editor.dispose();
  }
}
