#!/usr/bin/env node
/**
 * Load benchmark of `hiedit serve` (needs the built packages): writes a random GPT-2 checkpoint with a word-level
 * tokenizer and an `ft` editor, starts `bin/hiedit.js serve` as a separate process on a free loopback port, runs N
 * concurrent clients sending generations with edits interleaved, and writes a JSON report (latency p50/p95 per
 * request kind, throughput, what the journal holds).
 *
 *   node packages/editor/scripts/serve-load.js [--clients 8] [--generations 2000] [--edit-every 25] [--edits 80]
 *     [--max-new-tokens 8] [--hidden 128] [--layers 4] [--out bench-out/serve-load.json]
 */
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const { buildWordLevelTokenizer, createTinyCheckpoint, loadModel, writeTokenizerFiles } = require('@hiedit/llm-loader');
const { initBackend } = require('@hiedit/tensor-core');
const { createEditor, defaultEditModules, EditJournal, latencySummary, runServeLoad, saveEditorDir } = require('@hiedit/editor');

const BIN = path.join(__dirname, '..', 'bin', 'hiedit.js');
const PEOPLE = ['Ann', 'Ben', 'Cleo', 'Dan', 'Eve', 'Finn', 'Gus', 'Hana', 'Ida', 'Jon', 'Kim', 'Leo'];
const THINGS = ['harp', 'drums', 'flute', 'cello', 'Oslo', 'Lima', 'Kyiv', 'Quito', 'Dutch', 'Greek', 'Thai', 'Welsh'];
const LINKS = ['plays the', 'lives in', 'speaks'];

function options() {
  const { values } = parseArgs({ options: {
    clients: { type: 'string', default: '8' }, generations: { type: 'string', default: '2000' },
    'edit-every': { type: 'string', default: '25' }, edits: { type: 'string', default: '80' },
    'max-new-tokens': { type: 'string', default: '8' }, hidden: { type: 'string', default: '128' }, layers: { type: 'string', default: '4' },
    out: { type: 'string', default: 'bench-out/serve-load.json' } } });
  const int = (name) => {
    const v = values[name];
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--${name} must be a positive integer, got "${v}"`);
    return Number(v);
  };
  return { clients: int('clients'), generations: int('generations'), editEvery: int('edit-every'), edits: int('edits'),
    maxNewTokens: int('max-new-tokens'), hidden: int('hidden'), layers: int('layers'), out: values.out };
}

async function fixture(dir, o) {
  const modelDir = path.join(dir, 'model');
  const editorDir = path.join(dir, 'editor');
  const words = [...PEOPLE, ...THINGS, ...LINKS.join(' ').split(' ')];
  await createTinyCheckpoint(modelDir, { architecture: 'gpt2', seed: 7, config: { n_embd: o.hidden, n_layer: o.layers, n_head: 4,
    n_positions: 64, vocab_size: 128, bos_token_id: 1, eos_token_id: 2 } });
  writeTokenizerFiles(modelDir, buildWordLevelTokenizer({ words }));
  const model = await loadModel(modelDir);
  const editor = createEditor('ft', model, defaultEditModules(model), {});
  saveEditorDir(editorDir, editor, model);
  editor.dispose();
  model.dispose();
  return { modelDir, editorDir };
}

function serve(f, journal) {
  const child = spawn(process.execPath, [BIN, 'serve', '--model', f.modelDir, '--editor', f.editorDir, '--journal', journal, '--port', '0',
    '--max-queue', '64'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve({ child, base: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`hiedit serve exited (${code}) before listening`)));
  });
}

async function main() {
  const o = options();
  const backend = await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-serve-load-'));
  try {
    const f = await fixture(dir, o);
    const journal = path.join(dir, 'load.hjournal');
    const { child, base } = await serve(f, journal);
    const prompts = PEOPLE.flatMap((p) => LINKS.map((l) => `${p} ${l}`));
    const edits = Array.from({ length: o.edits }, (_, i) => ({ prompt: prompts[(i * 7) % prompts.length], target: THINGS[i % THINGS.length] }));
    let run;
    try {
      run = await runServeLoad({ base, clients: o.clients, generationsPerClient: Math.ceil(o.generations / o.clients), editEvery: o.editEvery,
        prompts, edits, maxNewTokens: o.maxNewTokens });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    }
    const j = EditJournal.open(journal);
    const okEdits = run.answers.filter((a) => a.kind === 'edit' && a.status === 200).map((a) => a.body.id).sort();
    const report = {
      date: new Date().toISOString(), node: process.version, backend: backend.active, cpus: os.cpus().length,
      model: { architecture: 'gpt2', hidden: o.hidden, layers: o.layers, editor: 'ft' },
      plan: { clients: o.clients, generations: run.answers.filter((a) => a.kind === 'generate').length, editEvery: o.editEvery,
        maxNewTokens: o.maxNewTokens },
      seconds: Math.round(run.seconds * 100) / 100,
      requestsPerSecond: Math.round((run.answers.length / run.seconds) * 10) / 10,
      statuses: run.answers.reduce((m, a) => ({ ...m, [a.status]: (m[a.status] ?? 0) + 1 }), {}),
      generate: latencySummary(run.answers, 'generate'),
      edit: latencySummary(run.answers, 'edit'),
      journalHoldsExactlyTheAppliedEdits: JSON.stringify(j.activeEdits().map((r) => r.editId).sort()) === JSON.stringify(okEdits),
    };
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    const tmp = `${o.out}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(report, null, 2) + '\n');
    fs.renameSync(tmp, o.out);
    process.stdout.write(JSON.stringify(report) + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { process.stderr.write(`serve-load: ${e.message}\n`); process.exitCode = 1; });
