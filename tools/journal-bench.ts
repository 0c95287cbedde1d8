/**
 * Journal cost against journal length, with and without the journal index. One journal of a tiny GPT-2 (2 layers,
 * n_embd 32) grows through the given sizes (default 1,000, 10,000 and 100,000 edits); at each size the operations
 * the CLI runs are timed on the full journal:
 *
 * - append: appendEdit (one fsynced record each, rank-1 shifts of both default edit modules, index checkpoints
 *   included), in ms per edit over the edits appended since the previous size;
 * - open: EditJournal.open with the index (only the records after its last checkpoint are read) and without
 *   (`indexEvery: 0`, every record verified: the behaviour before the index);
 * - sha256: one SHA-256 over the whole file, what verifying a hash of the journal's prefix on every open would cost;
 * - rollback of the first, middle and last edit: what `hiedit rollback` does (open, then one fsynced rollback record),
 *   with and without the index, each on a fresh copy of the journal (and its index);
 * - replay (with the index): open, then every active edit applied to a fresh base model (`edit`, `export --out`);
 * - export --pack, with and without the index: open, then every active edit written to a pack.
 *
 * The shifts are seeded random factors (no editor runs: this measures the journal, not an editing method). Prints one
 * JSON object. Numbers for this repository are in docs/editor.md ("Journal cost with its length").
 *
 *   node tools/journal-bench.js [--sizes 1000,10000,100000] [--dir DIR] [--out FILE]
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, parseFlags, SeededRandom, tf } from '@hiedit/tensor-core';
import { createModel } from '@hiedit/llm-loader';
import {
  defaultEditModules, EditJournal, exportEditPack, indexFileOf, journalHeaderFor, replayJournal, type StoredShift,
} from '@hiedit/editor';

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = process.hrtime.bigint();
  const value = fn();
  return { value, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

/** SHA-256 of a file read in 4 MiB pieces. */
function hashFile(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Runs `fn` on a fresh copy of the journal and its index (so rollbacks do not pile up in the journal that grows). */
function onCopy<T>(file: string, fn: (copy: string) => T): T {
  const copy = `${file}.copy`;
  fs.copyFileSync(file, copy);
  if (fs.existsSync(indexFileOf(file))) fs.copyFileSync(indexFileOf(file), indexFileOf(copy));
  try {
    return fn(copy);
  } finally {
    fs.rmSync(copy, { force: true });
    fs.rmSync(indexFileOf(copy), { force: true });
  }
}

const NO_INDEX = { indexEvery: 0 } as const;

export async function main(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, { sizes: 'string', dir: 'string', out: 'string' });
  const sizes = (flags.sizes ?? '1000,10000,100000').split(',').map((s) => {
    if (!/^\d+$/.test(s) || Number(s) < 10) throw new Error(`--sizes: "${s}" is not a whole number of at least 10`);
    return Number(s);
  });
  if (sizes.some((s, i) => i > 0 && s <= sizes[i - 1])) throw new Error('--sizes must be increasing');
  await initBackend();
  const tinyGpt2 = (): ReturnType<typeof createModel> => createModel({ architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2', vocab_size: 96, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 4, n_inner: null,
    activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2 }, 3);
  const model = tinyGpt2();
  const dir = flags.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'journal-bench-'));
  const file = path.join(dir, 'bench.hjournal');
  const pack = path.join(dir, 'bench.hpack');
  for (const f of [file, indexFileOf(file)]) fs.rmSync(f, { force: true });
  try {
    const modules = defaultEditModules(model).map((name) => model.module(name));
    const random = new SeededRandom(7);
    const factor = (len: number): Float32Array => Float32Array.from({ length: len }, () => (random.next() - 0.5) * 1e-4);
    const journal = EditJournal.create(file, journalHeaderFor(model));
    const results: Record<string, unknown>[] = [];
    let done = 0;
    for (const n of sizes) {
      const append = timed(() => {
        for (let i = done + 1; i <= n; i++) {
          const shifts: StoredShift[] = modules.map((m) => ({ module: m.name, kind: 'lowRank', dIn: m.dIn, dOut: m.dOut, rank: 1,
            left: factor(m.dIn), right: factor(m.dOut) }));
          journal.appendEdit({ editor: 'bench', request: { id: `r${i}`, prompt: `Alice plays the ${i}`, target: 'violin' },
            selected: shifts.map((s) => s.module), scores: {}, norms: {} }, shifts);
        }
      });
      const appended = n - done;
      done = n;
      process.stderr.write(`${n} edits: appended ${appended} (${(append.ms / appended).toFixed(3)} ms per edit)\n`);
      const openIndexed = timed(() => EditJournal.open(file));
      const openFull = timed(() => EditJournal.open(file, NO_INDEX));
      const sha = timed(() => hashFile(file));
      const rollback: Record<string, { indexMs: number; noIndexMs: number }> = {};
      for (const [name, id] of [['first', 'e1'], ['middle', `e${Math.ceil(n / 2)}`], ['last', `e${n}`]]) {
        rollback[name] = {
          indexMs: onCopy(file, (copy) => timed(() => EditJournal.open(copy).appendRollback(id)).ms),
          noIndexMs: onCopy(file, (copy) => timed(() => EditJournal.open(copy, NO_INDEX).appendRollback(id)).ms),
        };
      }
      const fresh = tinyGpt2();
      const replay = timed(() => replayJournal(EditJournal.open(file), fresh, model.weightsHash()).length);
      fresh.dispose();
      const exportIndexed = timed(() => exportEditPack(EditJournal.open(file), pack));
      const exportFull = timed(() => exportEditPack(EditJournal.open(file, NO_INDEX), pack));
      const r = {
        edits: n, journalBytes: fs.statSync(file).size, indexBytes: fs.existsSync(indexFileOf(file)) ? fs.statSync(indexFileOf(file)).size : 0,
        packBytes: fs.statSync(pack).size,
        appendMsPerEdit: append.ms / appended,
        open: { indexMs: openIndexed.ms, noIndexMs: openFull.ms, recordsReadWithIndex: openIndexed.value.opened!.scannedRecords },
        sha256WholeFileMs: sha.ms,
        rollback,
        replayMs: replay.ms, replayedEdits: replay.value,
        exportPack: { indexMs: exportIndexed.ms, noIndexMs: exportFull.ms, edits: exportIndexed.value },
      };
      process.stderr.write(`${JSON.stringify(r)}\n`);
      results.push(r);
    }
    const text = JSON.stringify({ backend: tf.getBackend(), results }, null, 2) + '\n';
    if (flags.out) fs.writeFileSync(flags.out, text);
    process.stdout.write(text);
    return 0;
  } finally {
    model.dispose();
    if (!flags.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
