/**
 * The editor's CLI commands: train-editor, edit, rollback, export. They receive the model loader
 * and tokenizer as an API object (the real one is wired in src/cli/commands.ts), so they can be tested
 * on in-memory tiny models.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Editor, EditorTrainOptions, TrainProgress } from '../editors/types';
import '../editors/builtin';
import { createEditor } from '../editors/create';
import { TRAIN_STATE_SUBDIR } from '../methods/policy/editor';
import { editorFactory, editorKinds } from '../editors/registry';
import { EDITOR_JSON, loadEditorDir, readEditorDescriptor, saveEditorDir } from '../editorDir';
import { EditReport, LifelongEditor, openJournalFor } from '../editor';
import { applyEditPack, EditJournal, exportEditPack } from '../journal';
import { checkModuleNames, defaultEditModules, EditorModel, TupleTokenizer } from '../model';
import { EditRequestInput } from '../request';
import { readEditRequests, REQUEST_FORMATS, RequestFormat } from '../data/records';
import { command, CommandIO, EditorCommand, Flags, need, optional, UsageError } from './args';

/** What the commands need from the model library. */
export interface EditorCliApi {
  /** Loads a model directory with its tokenizer. */
  loadModel(dir: string): Promise<EditorModel & { dispose(): void }>;
  /** The spec §2 tuple tokenizer of a loaded model (throws when the model has no tokenizer). */
  tupleTokenizer(model: EditorModel): TupleTokenizer;
}

const TRAINABLE = ['hiedit', 'hiedit-reference', 'rledit', 'mend'];

function json(io: CommandIO, value: unknown): void {
  io.out(JSON.stringify(value) + '\n');
}

function parseFormat(flags: Flags, fallback: RequestFormat): RequestFormat {
  const f = optional(flags, 'format') ?? fallback;
  if (!REQUEST_FORMATS.includes(f as RequestFormat)) {
    throw new UsageError(`--format must be one of ${REQUEST_FORMATS.join(', ')}, got "${f}"`);
  }
  return f as RequestFormat;
}

function parseSettings(flags: Flags): Record<string, unknown> {
  const s = optional(flags, 'settings');
  if (s === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(s.startsWith('@') ? fs.readFileSync(s.slice(1), 'utf8') : s);
  } catch (e) {
    throw new UsageError(`--settings must be JSON or @FILE holding JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError('--settings must be a JSON object');
  return v as Record<string, unknown>;
}

function progressPrinter(io: CommandIO, every: number): (e: TrainProgress) => void {
  return (e) => {
    if (e.phase === 'train' && e.step % every !== 0 && e.step !== e.total) return;
    const loss = e.loss !== undefined ? ` loss ${e.loss.toFixed(4)}` : '';
    io.err(`[${e.phase}] epoch ${e.epoch} ${e.step}/${e.total}${loss}${e.message ? ` ${e.message}` : ''}\n`);
  };
}

function trainEditor(api: EditorCliApi): EditorCommand {
  return command({
    name: 'train-editor',
    summary: 'Meta-train an editor (hiedit, hiedit-reference, rledit, mend) on a stream of edit requests.',
    usage: 'train-editor --model DIR --data FILE --format counterfact|zsre|world|requests ' +
      '--editor hiedit|hiedit-reference|rledit|mend --out EDITOR_DIR [--resume] [--validation FILE] [--seed N] ' +
      '[--limit N] [--max-steps N] [--skip-invalid] [--modules a,b,...] [--settings JSON|@FILE] [--json]',
    flags: { model: 'string', data: 'string', format: 'string', editor: 'string', out: 'string', resume: 'bool',
      'skip-invalid': 'bool',
      validation: 'string', seed: 'int', limit: 'int', 'max-steps': 'int', modules: 'string', settings: 'string',
      json: 'bool' },
    async action(flags, io) {
      const kind = need(flags, 'editor');
      if (!TRAINABLE.includes(kind)) throw new UsageError(`--editor must be one of ${TRAINABLE.join(', ')} (got "${kind}")`);
      const out = need(flags, 'out');
      const format = parseFormat(flags, 'counterfact');
      const read = (file: string): EditRequestInput[] => readEditRequests(file, format, {
        skipInvalid: flags['skip-invalid'] === true, onSkip: (i, m) => io.err(`skipped record ${i}: ${m}\n`) });
      let stream = read(need(flags, 'data'));
      if (typeof flags.limit === 'number') stream = stream.slice(0, flags.limit);
      const validation = optional(flags, 'validation') ? read(optional(flags, 'validation')!) : undefined;
      const resume = flags.resume === true;
      const model = await api.loadModel(need(flags, 'model'));
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
          const modules = optional(flags, 'modules')?.split(',').map((s) => s.trim()) ?? defaultEditModules(model);
          checkModuleNames(model, modules, '--modules');
          const editor = createEditor(kind, model, modules, parseSettings(flags));
          le = new LifelongEditor({ model, editor, tokenize });
        }
        const seed = typeof flags.seed === 'number' ? flags.seed : 0;
        // editor.json first (policy untrained), so an interrupted run can be resumed from its checkpoint.
        if (!resume) saveEditorDir(out, le.editor, model, { steps: 0, epochs: 0, seed, finished: false });
        const options: EditorTrainOptions & { validationRequests?: readonly EditRequestInput[] } = {
          seed, checkpointDir: path.join(out, TRAIN_STATE_SUBDIR), resume,
          ...(typeof flags['max-steps'] === 'number' ? { stopAfter: flags['max-steps'] } : {}),
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

function edit(api: EditorCliApi): EditorCommand {
  return command({
    name: 'edit',
    summary: 'Apply edit requests to a model, journaling every applied shift.',
    usage: 'edit --model DIR --editor EDITOR_DIR|ft --journal FILE (--prompt TEXT --target TEXT | --requests FILE ' +
      '[--format requests|counterfact|zsre|world] [--skip-invalid]) [--modules a,b,...] [--settings JSON|@FILE] [--json]',
    flags: { model: 'string', editor: 'string', journal: 'string', prompt: 'string', target: 'string', 'skip-invalid': 'bool',
      requests: 'string', format: 'string', modules: 'string', settings: 'string', json: 'bool' },
    async action(flags, io) {
      const editorArg = need(flags, 'editor');
      const journalFile = need(flags, 'journal');
      let requests: EditRequestInput[];
      const file = optional(flags, 'requests');
      if (file !== undefined) {
        if (flags.prompt !== undefined || flags.target !== undefined) throw new UsageError('give --requests or --prompt/--target, not both');
        requests = readEditRequests(file, parseFormat(flags, 'requests'), {
          skipInvalid: flags['skip-invalid'] === true, onSkip: (i, m) => io.err(`skipped record ${i}: ${m}\n`) });
      } else {
        if (flags.prompt === undefined || flags.target === undefined) throw new UsageError('--prompt and --target (or --requests FILE) are required');
        requests = [{ prompt: String(flags.prompt), target: String(flags.target) }];
      }
      const model = await api.loadModel(need(flags, 'model'));
      let le: LifelongEditor | undefined;
      let editor: Editor | undefined;
      try {
        const tokenize = api.tupleTokenizer(model);
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
          const modules = optional(flags, 'modules')?.split(',').map((s) => s.trim()) ?? defaultEditModules(model);
          checkModuleNames(model, modules, '--modules');
          editor = createEditor(editorArg, model, modules, parseSettings(flags));
        } else {
          throw new Error(`--editor ${editorArg}: no ${EDITOR_JSON} there (train one with train-editor, or use an ` +
            `editor without training: ${editorKinds().filter((k) => !editorFactory(k).trainable).join(', ')})`);
        }
        const { journal, replayed } = openJournalFor(model, journalFile, { onWarning: (w) => io.err(`warning: ${w}\n`) });
        if (replayed.length) io.err(`replayed ${replayed.length} earlier edit(s) from ${journalFile}\n`);
        le = new LifelongEditor({ model, editor, tokenize, journal });
        const reports: EditReport[] = [];
        for (const [i, r] of requests.entries()) {
          const rep = le.edit(r);
          reports.push(rep);
          if (!flags.json) io.out(formatReport(rep));
          else if (requests.length > 1) io.err(`edit ${i + 1}/${requests.length}: ${rep.editId}\n`);
        }
        if (flags.json) json(io, { journal: journalFile, edits: reports });
        return 0;
      } finally {
        if (le) le.dispose();
        else editor?.dispose();
        model.dispose();
      }
    },
  });
}

function rollback(): EditorCommand {
  return command({
    name: 'rollback',
    summary: 'Roll back one edit of a journal (appends a rollback record; the other edits stay).',
    usage: 'rollback --journal FILE --edit ID [--json]',
    flags: { journal: 'string', edit: 'string', json: 'bool' },
    async action(flags, io) {
      const file = need(flags, 'journal');
      if (!fs.existsSync(file)) throw new Error(`journal ${file} does not exist`);
      const journal = EditJournal.open(file, { onWarning: (w) => io.err(`warning: ${w}\n`) });
      const r = journal.appendRollback(need(flags, 'edit'));
      const active = journal.activeEdits().length;
      if (flags.json) json(io, { journal: file, rolledBack: r.editId, time: r.time, activeEdits: active });
      else io.out(`rolled back ${r.editId} in ${file} (${active} edit(s) remain active); ` +
        `the next edit/export replays the journal without it\n`);
      return 0;
    },
  });
}

function parseDtype(flags: Flags): 'F32' | 'F16' | 'BF16' {
  const d = (optional(flags, 'dtype') ?? 'f32').toLowerCase();
  const map: Record<string, 'F32' | 'F16' | 'BF16'> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
  if (!map[d]) throw new UsageError(`--dtype must be bf16, f16 or f32, got "${d}"`);
  return map[d];
}

function exportCmd(api: EditorCliApi): EditorCommand {
  return command({
    name: 'export',
    summary: 'Save the base model with a journal\'s (or an edit pack\'s) edits merged, or write an edit pack.',
    usage: 'export --model DIR (--journal FILE | --from-pack FILE) (--out DIR [--dtype bf16|f16|f32] | --pack FILE) [--json]',
    flags: { model: 'string', journal: 'string', 'from-pack': 'string', out: 'string', dtype: 'string', pack: 'string',
      json: 'bool' },
    async action(flags, io) {
      const file = optional(flags, 'journal');
      const fromPack = optional(flags, 'from-pack');
      if ((file === undefined) === (fromPack === undefined)) throw new UsageError('give exactly one of --journal FILE and --from-pack FILE');
      const out = optional(flags, 'out');
      const pack = optional(flags, 'pack');
      if (!out && !pack) throw new UsageError('--out DIR or --pack FILE is required');
      if (pack && fromPack) throw new UsageError('--pack writes a pack from a journal; it cannot be combined with --from-pack');
      const dtype = parseDtype(flags);
      const source = (file ?? fromPack)!;
      if (!fs.existsSync(source)) throw new Error(`${file ? 'journal' : 'edit pack'} ${source} does not exist`);
      const journal = file ? EditJournal.open(file, { onWarning: (w) => io.err(`warning: ${w}\n`) }) : undefined;
      if (journal && pack) {
        const n = exportEditPack(journal, pack);
        if (!out) {
          if (flags.json) json(io, { journal: file, pack, edits: n });
          else io.out(`wrote ${n} edit(s) to ${pack}\n`);
          return 0;
        }
      }
      const model = await api.loadModel(need(flags, 'model'));
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
export function createEditorCommands(api: EditorCliApi): EditorCommand[] {
  return [trainEditor(api), edit(api), rollback(), exportCmd(api)];
}
