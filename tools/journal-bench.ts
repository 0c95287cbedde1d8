/**
 * Journal cost against journal length: N edits (default 100,000) of a tiny GPT-2 (2 layers, n_embd 32) appended to
 * one journal, then the operations the CLI runs on it, each timed on the full journal:
 *
 * - append: every edit's appendEdit (one fsynced record each, rank-1 shifts of both default edit modules), reported
 *   per block of N/10 edits, so growth with the journal's length shows as later blocks getting slower;
 * - open: EditJournal.open (every record verified);
 * - rollback: what `hiedit rollback` does (open, then one fsynced rollback record), for an edit in the middle;
 * - replay: what `hiedit edit` and `hiedit export --out` do first (open, then every active edit applied to a fresh
 *   base model);
 * - export --pack: open, then every active edit written to a pack.
 *
 * The shifts are seeded random factors (no editor runs: this measures the journal, not an editing method). Prints one
 * JSON object. Numbers for this repository are in docs/editor.md ("Journal cost with its length").
 *
 *   node tools/journal-bench.js [--edits 100000] [--dir DIR] [--out FILE]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, parseFlags, SeededRandom, tf } from '@hiedit/tensor-core';
import { createModel } from '@hiedit/llm-loader';
import { defaultEditModules, EditJournal, exportEditPack, journalHeaderFor, replayJournal, type StoredShift } from '@hiedit/editor';

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = process.hrtime.bigint();
  const value = fn();
  return { value, ms: ms(t0) };
}

export async function main(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, { edits: { kind: 'int', min: 10 }, dir: 'string', out: 'string' });
  const n = flags.edits ?? 100_000;
  await initBackend();
  const model = createModel({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 96, n_positions: 32,
    n_embd: 32, n_layer: 2, n_head: 4, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5,
    tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2 }, 3);
  const dir = flags.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'journal-bench-'));
  const file = path.join(dir, 'bench.hjournal');
  fs.rmSync(file, { force: true });
  try {
    const modules = defaultEditModules(model).map((name) => model.module(name));
    const random = new SeededRandom(7);
    const factor = (len: number): Float32Array => Float32Array.from({ length: len }, () => (random.next() - 0.5) * 1e-4);
    const journal = EditJournal.create(file, journalHeaderFor(model));
    const block = Math.max(1, Math.floor(n / 10));
    const blocks: { edits: number; msPerEdit: number }[] = [];
    let t0 = process.hrtime.bigint();
    for (let i = 1; i <= n; i++) {
      const shifts: StoredShift[] = modules.map((m) => ({ module: m.name, kind: 'lowRank', dIn: m.dIn, dOut: m.dOut, rank: 1,
        left: factor(m.dIn), right: factor(m.dOut) }));
      journal.appendEdit({ editor: 'bench', request: { id: `r${i}`, prompt: `Alice plays the ${i}`, target: 'violin' },
        selected: shifts.map((s) => s.module), scores: {}, norms: {} }, shifts);
      if (i % block === 0) {
        blocks.push({ edits: i, msPerEdit: ms(t0) / block });
        process.stderr.write(`appended ${i}/${n} (${blocks[blocks.length - 1].msPerEdit.toFixed(3)} ms per edit)\n`);
        t0 = process.hrtime.bigint();
      }
    }
    const bytes = fs.statSync(file).size;
    const open = timed(() => EditJournal.open(file));
    const rollback = timed(() => EditJournal.open(file).appendRollback(`e${Math.ceil(n / 2)}`));
    const replay = timed(() => {
      const j = EditJournal.open(file);
      return replayJournal(j, model, model.weightsHash()).length;
    });
    const pack = path.join(dir, 'bench.hpack');
    const exportPack = timed(() => exportEditPack(EditJournal.open(file), pack));
    const result = {
      edits: n, journalBytes: bytes, packBytes: fs.statSync(pack).size, backend: tf.getBackend(),
      appendMsPerEdit: { first: blocks[0].msPerEdit, last: blocks[blocks.length - 1].msPerEdit, blocks },
      openMs: open.ms, rollbackMs: rollback.ms, replayMs: replay.ms, replayedEdits: replay.value,
      exportPackMs: exportPack.ms, packedEdits: exportPack.value,
    };
    const text = JSON.stringify(result, null, 2) + '\n';
    if (flags.out) fs.writeFileSync(flags.out, text);
    process.stdout.write(text);
    return 0;
  } finally {
    model.dispose();
    if (!flags.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
