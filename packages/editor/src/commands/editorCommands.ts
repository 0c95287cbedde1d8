/**
 * The editor's CLI commands: train-editor, edit, rollback, export. They receive the model loader
 * and tokenizer as an API object (the real one is wired in src/cli/commands.ts), so they can be tested
 * on in-memory tiny models.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Editor, EditorTrainOptions, TrainProgress } from '../editors/types';
import '../methods/builtin';
import { createEditor } from '../editors/create';
import { TRAIN_STATE_SUBDIR } from '../methods/policy/editor';
import { editorFactory, editorKinds } from '../editors/registry';
import { EDITOR_JSON, loadEditorDir, readEditorDescriptor, saveEditorDir } from '../editorDir';
import { EditReport, LifelongEditor, openJournalFor } from '../editor';
import { prepareAll, SkippedRequest } from './prepareRequests';
import { applyEditPack, EditJournal, exportEditPack, JournalOpenOptions, JournalRequest } from '../journal';
import { checkModuleNames, defaultEditModules, EditorModel, TupleTokenizer } from '../model';
import { EditRequestInput } from '../request';
import { readEditRequests, REQUEST_FORMATS, RequestFormat } from '../data/records';
import { FlagPath, refuseFileInModelDir, refuseOutputOnInput } from './samePath';
import { CliUsageError, defineCommand, type CliCommand, type CliIO } from '@hiedit/tensor-core';

/** What the commands need from the model library. */
export interface EditorCliApi {
  /** Loads a model directory with its tokenizer. */
  loadModel(dir: string): Promise<EditorModel & { dispose(): void }>;
  /** The spec §2 tuple tokenizer of a loaded model (throws when the model has no tokenizer). */
  tupleTokenizer(model: EditorModel): TupleTokenizer;
}

const TRAINABLE = ['hiedit', 'hiedit-reference', 'rledit', 'mend'];

function json(io: CliIO, value: unknown): void {
  io.out(JSON.stringify(value) + '\n');
}

/** A required flag's value; an empty one counts as missing, as no command takes an empty path or name. */
function need(value: string | undefined, flag: string): string {
  if (value === undefined || value.length === 0) throw new CliUsageError(`--${flag} is required`);
  return value;
}

function parseFormat(format: string | undefined, fallback: RequestFormat): RequestFormat {
  const f = format ?? fallback;
  if (!REQUEST_FORMATS.includes(f as RequestFormat)) {
    throw new CliUsageError(`--format must be one of ${REQUEST_FORMATS.join(', ')}, got "${f}"`);
  }
  return f as RequestFormat;
}

function parseSettings(s: string | undefined): Record<string, unknown> {
  if (s === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(s.startsWith('@') ? fs.readFileSync(s.slice(1), 'utf8') : s);
  } catch (e) {
    throw new CliUsageError(`--settings must be JSON or @FILE holding JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CliUsageError('--settings must be a JSON object');
  return v as Record<string, unknown>;
}

function progressPrinter(io: CliIO, every: number): (e: TrainProgress) => void {
  return (e) => {
    if (e.phase === 'train' && e.step % every !== 0 && e.step !== e.total) return;
    const loss = e.loss !== undefined ? ` loss ${e.loss.toFixed(4)}` : '';
    io.err(`[${e.phase}] epoch ${e.epoch} ${e.step}/${e.total}${loss}${e.message ? ` ${e.message}` : ''}\n`);
  };
}

const MODEL_HELP = '--model DIR          the base model directory (with tokenizer.json)';
const MODULES_HELP = '--modules a,b,...    edit modules (default: the architecture\'s default edit modules)';
const SETTINGS_HELP = '--settings JSON|@FILE  method settings as JSON, or @FILE holding JSON (see docs/editor.md)';
const SKIP_HELP = '--skip-invalid       skip invalid records (each is reported) instead of stopping';
const JSON_HELP = '--json               the result as one JSON line (--json=false: text)';
const VERIFY_HELP = '--verify-full        read and verify every journal record (default: the records its index covers are ' +
  'verified when read; see docs/editor.md, "Journal index")';

/** How a command opens its journal: warnings to stderr, and every record verified with --verify-full. */
function journalOptions(flags: { 'verify-full'?: boolean }, io: CliIO): JournalOpenOptions {
  return { onWarning: (w) => io.err(`warning: ${w}\n`), ...(flags['verify-full'] ? { verify: 'full' as const } : {}) };
}

function trainEditor(api: EditorCliApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'train-editor',
    summary: 'Meta-train an editor (hiedit, hiedit-reference, rledit, mend) on a stream of edit requests.',
    synopsis: 'train-editor --model DIR --data FILE --format counterfact|zsre|world|requests ' +
      '--editor hiedit|hiedit-reference|rledit|mend --out EDITOR_DIR [--resume] [--validation FILE] [--seed N] ' +
      '[--limit N] [--max-steps N] [--skip-invalid] [--modules a,b,...] [--settings JSON|@FILE] [--json]',
    flagHelp: [
      MODEL_HELP,
      '--data FILE          the training stream of edit requests',
      `--format FMT         record format of --data and --validation: ${REQUEST_FORMATS.join(', ')} (default counterfact)`,
      `--editor KIND        ${TRAINABLE.join(', ')}`,
      '--out EDITOR_DIR     where the editor is written (editor.json, policy, train-state/)',
      '--resume             continue the training saved in --out',
      '--validation FILE    requests for early stopping',
      '--seed N             training seed (default 0)',
      '--limit N            use the first N requests of --data',
      '--max-steps N        pause after N steps (resumable with --resume)',
      SKIP_HELP,
      MODULES_HELP,
      SETTINGS_HELP,
      JSON_HELP,
    ],
    flags: { model: 'string', data: 'string', format: 'string', editor: 'string', out: 'string', resume: 'boolean',
      'skip-invalid': 'boolean',
      validation: 'string', seed: 'int', limit: 'int', 'max-steps': 'int', modules: 'string', settings: 'string',
      json: 'boolean' },
    async action(flags, io) {
      const kind = need(flags.editor, 'editor');
      if (!TRAINABLE.includes(kind)) throw new CliUsageError(`--editor must be one of ${TRAINABLE.join(', ')} (got "${kind}")`);
      const out = need(flags.out, 'out');
      const format = parseFormat(flags.format, 'counterfact');
      const read = (file: string): EditRequestInput[] => readEditRequests(file, format, {
        skipInvalid: flags['skip-invalid'] === true, onSkip: (i, m) => io.err(`skipped record ${i}: ${m}\n`) });
      let stream = read(need(flags.data, 'data'));
      if (flags.limit !== undefined) stream = stream.slice(0, flags.limit);
      const validation = flags.validation ? read(flags.validation) : undefined;
      const resume = flags.resume === true;
      const model = await api.loadModel(need(flags.model, 'model'));
      let le: LifelongEditor | undefined;
      try {
        const tokenize = api.tupleTokenizer(model);
        if (resume) {
          if (!fs.existsSync(path.join(out, EDITOR_JSON))) throw new Error(`--resume: ${out} holds no ${EDITOR_JSON} to resume`);
          const desc = readEditorDescriptor(out);
          if (desc.kind !== kind) throw new Error(`--resume: ${out} holds a ${desc.kind} editor, not ${kind}`);
          le = new LifelongEditor({ model, editor: loadEditorDir(out, model).editor, tokenize });
        } else {
          if (fs.existsSync(path.join(out, EDITOR_JSON))) {
            throw new Error(`${out} already holds an editor; pass --resume to continue its training or choose another --out`);
          }
          const modules = flags.modules?.split(',').map((s) => s.trim()) ?? defaultEditModules(model);
          checkModuleNames(model, modules, '--modules');
          const editor = createEditor(kind, model, modules, parseSettings(flags.settings));
          le = new LifelongEditor({ model, editor, tokenize });
        }
        const seed = flags.seed ?? 0;
        // editor.json first (policy untrained), so an interrupted run can be resumed from its checkpoint.
        if (!resume) saveEditorDir(out, le.editor, model, { steps: 0, epochs: 0, seed, finished: false });
        const options: EditorTrainOptions & { validationRequests?: readonly EditRequestInput[] } = {
          seed, checkpointDir: path.join(out, TRAIN_STATE_SUBDIR), resume,
          ...(flags['max-steps'] !== undefined ? { stopAfter: flags['max-steps'] } : {}),
          ...(validation ? { validationRequests: validation } : {}),
          onProgress: progressPrinter(io, Math.max(1, Math.floor(stream.length / 10))),
        };
        const r = await le.train(stream, options);
        saveEditorDir(out, le.editor, model, { steps: r.steps, epochs: r.epochs, seed, finished: r.finished });
        const summary = { editor: kind, out, requests: stream.length, modules: le.editor.modules, ...r };
        if (flags.json) json(io, summary);
        else io.out(`${r.finished ? 'trained' : 'paused'} ${kind} editor in ${out}: ${r.steps} steps, ` +
          `${r.epochs} epochs, ${r.seconds.toFixed(1)} s${r.finished ? '' : ' (resume with --resume)'}\n`);
        return 0;
      } finally {
        le?.dispose();
        model.dispose();
      }
    },
  });
}

function formatReport(r: EditReport): string {
  const id = `${r.editId}${r.requestId ? ` [${r.requestId}]` : ''}`;
  if (r.selected.length === 0) {
    return `${id}: ${r.editor} found no shift that makes this edit hold (within its calibration range, on any module set ` +
      `it tried); nothing was applied (journaled as an empty edit) in ${r.ms.toFixed(0)} ms\n`;
  }
  const mods = r.selected.map((m) => `${m.module}${m.score !== undefined ? ` (gate ${m.score.toFixed(3)})` : ''} ` +
    `|dW| ${m.norm.toExponential(2)}`).join(', ');
  return `${id}: ${r.editor} shifted ${r.selected.length} module(s) in ` +
    `${r.ms.toFixed(0)} ms: ${mods}\n`;
}

function edit(api: EditorCliApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'edit',
    summary: 'Apply edit requests to a model, journaling every applied shift.',
    synopsis: 'edit --model DIR --editor EDITOR_DIR|ft --journal FILE (--prompt TEXT --target TEXT | --requests FILE ' +
      '[--format requests|counterfact|zsre|world] [--skip-invalid]) [--modules a,b,...] [--settings JSON|@FILE] ' +
      '[--verify-full] [--json]',
    flagHelp: [
      MODEL_HELP + '; the journal is replayed onto it first',
      '--editor EDITOR_DIR|KIND  a trained editor directory, or an editor that needs no training (ft)',
      '--journal FILE       the edit journal: created, or replayed and appended to',
      '--prompt TEXT        one request: the prompt ...',
      '--target TEXT        ... and the answer it should get',
      '--requests FILE      many requests, applied in order',
      `--format FMT         record format of --requests: ${REQUEST_FORMATS.join(', ')} (default requests)`,
      SKIP_HELP,
      '--modules a,b,...    edit modules of an editor without a directory (default: the architecture\'s default)',
      '--settings JSON|@FILE  settings of an editor without a directory, as JSON or @FILE (see docs/editor.md)',
      VERIFY_HELP,
      JSON_HELP,
    ],
    flags: { model: 'string', editor: 'string', journal: 'string', prompt: 'string', target: 'string', 'skip-invalid': 'boolean',
      requests: 'string', format: 'string', modules: 'string', settings: 'string', 'verify-full': 'boolean', json: 'boolean' },
    async action(flags, io) {
      const editorArg = need(flags.editor, 'editor');
      const journalFile = need(flags.journal, 'journal');
      let requests: EditRequestInput[];
      const file = flags.requests;
      const skipInvalid = flags['skip-invalid'] === true;
      if (file !== undefined) {
        if (flags.prompt !== undefined || flags.target !== undefined) throw new CliUsageError('give --requests or --prompt/--target, not both');
        requests = readEditRequests(file, parseFormat(flags.format, 'requests'), {
          skipInvalid, onSkip: (i, m) => io.err(`skipped record ${i}: ${m}\n`) });
      } else {
        if (flags.prompt === undefined || flags.target === undefined) throw new CliUsageError('--prompt and --target (or --requests FILE) are required');
        requests = [{ prompt: flags.prompt, target: flags.target }];
      }
      const model = await api.loadModel(need(flags.model, 'model'));
      let le: LifelongEditor | undefined;
      let editor: Editor | undefined;
      const reports: EditReport[] = [];
      const skipped: SkippedRequest[] = [];
      try {
        const tokenize = api.tupleTokenizer(model);
        // Every request is checked (including against the model's context) before the journal is created or replayed.
        const prepared = prepareAll(model, tokenize, requests, file, skipInvalid, (s) => {
          skipped.push(s);
          io.err(`skipped record ${s.record}: ${s.reason}\n`);
        });
        // Resolve the editor and check everything before the journal is created or replayed.
        if (fs.existsSync(path.join(editorArg, EDITOR_JSON))) {
          const loaded = loadEditorDir(editorArg, model);
          editor = loaded.editor;
          const t = loaded.descriptor.trained;
          if (editorFactory(loaded.descriptor.kind).trainable && (!t || !t.finished)) {
            io.err(`warning: editor ${editorArg} is ${t ? `not fully trained (paused after ${t.steps} steps; ` +
              'finish it with train-editor --resume)' : 'untrained'}\n`);
          }
        }
        else if (editorKinds().includes(editorArg) && !editorFactory(editorArg).trainable) {
          const modules = flags.modules?.split(',').map((s) => s.trim()) ?? defaultEditModules(model);
          checkModuleNames(model, modules, '--modules');
          editor = createEditor(editorArg, model, modules, parseSettings(flags.settings));
        } else {
          throw new Error(`--editor ${editorArg}: no ${EDITOR_JSON} there (train one with train-editor, or use an ` +
            `editor without training: ${editorKinds().filter((k) => !editorFactory(k).trainable).join(', ')})`);
        }
        const { journal, replayed } = openJournalFor(model, journalFile, journalOptions(flags, io));
        if (replayed.length) io.err(`replayed ${replayed.length} earlier edit(s) from ${journalFile}\n`);
        le = new LifelongEditor({ model, editor, tokenize, journal });
        // A requests file run again (after a crash, or by mistake) applies only what the journal does not hold yet.
        const todo = file === undefined ? prepared : prepared.filter((p) => {
          const held = journal.findRequest(p.req as JournalRequest);
          if (!held) return true;
          const s = { record: p.record, ...(p.req.id !== undefined ? { id: p.req.id } : {}), editId: held.editId,
            reason: `already in the journal as ${held.editId}${held.rolledBack ? ' (rolled back; apply it again with ' +
              '--prompt/--target or under a new id)' : ''}` };
          skipped.push(s);
          io.err(`skipped record ${s.record}${p.req.id !== undefined ? ` (id ${p.req.id})` : ''}: ${s.reason}\n`);
          return false;
        });
        for (const [i, p] of todo.entries()) {
          const rep = le.editTokenized(p.req, p.tokenized);
          reports.push(rep);
          if (!flags.json) io.out(formatReport(rep));
          else if (todo.length > 1) io.err(`edit ${i + 1}/${todo.length}: ${rep.editId}\n`);
        }
        if (flags.json) json(io, { journal: journalFile, edits: reports, ...(skipped.length ? { skipped } : {}) });
        return 0;
      } catch (e) {
        // Scripts reading --json learn what was applied before the failure (those edits are journaled).
        if (flags.json) {
          json(io, { journal: journalFile, edits: reports, ...(skipped.length ? { skipped } : {}), error: (e as Error).message });
        }
        throw e;
      } finally {
        if (le) le.dispose();
        else editor?.dispose();
        model.dispose();
      }
    },
  });
}

function rollback(): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'rollback',
    summary: 'Roll back one edit of a journal (appends a rollback record; the other edits stay).',
    synopsis: 'rollback --journal FILE --edit ID [--verify-full] [--json]',
    flagHelp: ['--journal FILE       the edit journal', '--edit ID            the edit to roll back, e.g. e3', VERIFY_HELP, JSON_HELP],
    flags: { journal: 'string', edit: 'string', 'verify-full': 'boolean', json: 'boolean' },
    async action(flags, io) {
      const file = need(flags.journal, 'journal');
      if (!fs.existsSync(file)) throw new Error(`journal ${file} does not exist`);
      const journal = EditJournal.open(file, journalOptions(flags, io));
      const r = journal.appendRollback(need(flags.edit, 'edit'));
      const active = journal.activeEditIds().length;
      if (flags.json) json(io, { journal: file, rolledBack: r.editId, time: r.time, activeEdits: active });
      else io.out(`rolled back ${r.editId} in ${file} (${active} edit(s) remain active); ` +
        `the next edit/export replays the journal without it\n`);
      return 0;
    },
  });
}

function parseDtype(dtype: string | undefined): 'F32' | 'F16' | 'BF16' {
  const d = (dtype ?? 'f32').toLowerCase();
  const map: Record<string, 'F32' | 'F16' | 'BF16'> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
  if (!map[d]) throw new CliUsageError(`--dtype must be bf16, f16 or f32, got "${d}"`);
  return map[d];
}

function exportCmd(api: EditorCliApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'export',
    summary: 'Save the base model with a journal\'s (or an edit pack\'s) edits merged, or write an edit pack.',
    synopsis: 'export --model DIR (--journal FILE | --from-pack FILE) (--out DIR [--dtype bf16|f16|f32] | --pack FILE) ' +
      '[--verify-full] [--json]',
    flagHelp: [
      '--model DIR          the base model directory; the journal or pack is applied to it',
      '--journal FILE       the journal whose active edits are merged',
      '--from-pack FILE     an edit pack (written by --pack) to merge instead of a journal',
      '--out DIR            where the edited model is saved',
      '--dtype bf16|f16|f32  dtype of the saved weights (default f32)',
      '--pack FILE          write the journal\'s active edits as an edit pack (factors only)',
      VERIFY_HELP,
      JSON_HELP,
    ],
    flags: { model: 'string', journal: 'string', 'from-pack': 'string', out: 'string', dtype: 'string', pack: 'string',
      'verify-full': 'boolean', json: 'boolean' },
    async action(flags, io) {
      const file = flags.journal;
      const fromPack = flags['from-pack'];
      if ((file === undefined) === (fromPack === undefined)) throw new CliUsageError('give exactly one of --journal FILE and --from-pack FILE');
      const out = flags.out;
      const pack = flags.pack;
      if (!out && !pack) throw new CliUsageError('--out DIR or --pack FILE is required');
      if (pack && fromPack) throw new CliUsageError('--pack writes a pack from a journal; it cannot be combined with --from-pack');
      const dtype = parseDtype(flags.dtype);
      const source = (file ?? fromPack)!;
      const inputs: FlagPath[] = [
        ...(flags.model ? [{ flag: 'model', path: flags.model }] : []),
        ...(file ? [{ flag: 'journal', path: file }] : []), ...(fromPack ? [{ flag: 'from-pack', path: fromPack }] : []),
      ];
      refuseOutputOnInput([...(out ? [{ flag: 'out', path: out }] : []), ...(pack ? [{ flag: 'pack', path: pack }] : [])], inputs);
      if (pack && flags.model) refuseFileInModelDir({ flag: 'pack', path: pack }, flags.model);
      if (!fs.existsSync(source)) throw new Error(`${file ? 'journal' : 'edit pack'} ${source} does not exist`);
      const journal = file ? EditJournal.open(file, journalOptions(flags, io)) : undefined;
      if (journal && pack) {
        const n = exportEditPack(journal, pack);
        if (!out) {
          if (flags.json) json(io, { journal: file, pack, edits: n });
          else io.out(`wrote ${n} edit(s) to ${pack}\n`);
          return 0;
        }
      }
      const model = await api.loadModel(need(flags.model, 'model'));
      try {
        const ids = journal ? LifelongEditor.replay(journal, model) : applyEditPack(model, model.weightsHash(), fromPack!);
        if (!model.save) throw new Error('this model cannot be saved');
        await model.save(out!, { dtype });
        if (flags.json) json(io, { ...(file ? { journal: file } : { fromPack }), out, dtype, edits: ids, ...(pack ? { pack } : {}) });
        else io.out(`saved the model with ${ids.length} edit(s) merged to ${out} (${dtype})\n`);
        return 0;
      } finally {
        model.dispose();
      }
    },
  });
}

/** The editor's commands over a model library API. */
export function createEditorCommands(api: EditorCliApi): CliCommand[] {
  return [trainEditor(api), edit(api), rollback(), exportCmd(api)];
}
