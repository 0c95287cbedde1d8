/**
 * A bounded load test on loopback: 8 concurrent clients, 240 generations with edits interleaved. Every request is
 * answered, the journal holds exactly the edits answered 200, and every generation equals the one an offline model
 * gives in the state the answer names (base + the journal's first `journalRecords` records): no generation saw an
 * edit half applied.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { writeServeFixture } from '../../test/serveFixture';
import { startServer } from '../../test/serveHarness';
import { applyStoredShifts, EditJournal } from '../journal';
import { latencySummary, runServeLoad } from './loadDriver';

const PROMPTS = ['Alice plays the', 'Bob lives in', 'Carol speaks', 'Dave plays', 'Erin works in', 'Frank lives in'];
const NAMES = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy'];
const ANSWERS = ['violin', 'Rome', 'German', 'golf', 'Berlin', 'chess', 'Paris', 'piano'];

let dir: string;
beforeAll(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-serve-load-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('8 clients, 240 generations with 24 edits interleaved: all answered, journal exact, generations between edits', async () => {
  const fixture = await writeServeFixture(dir);
  const journalFile = path.join(dir, 'load.hjournal');
  const s = await startServer(fixture, journalFile);
  const edits = Array.from({ length: 24 }, (_, i) => ({ prompt: `${NAMES[i % NAMES.length]} ${i % 2 ? 'lives in' : 'plays the'}`, target: ANSWERS[i % ANSWERS.length] }));
  let run;
  try {
    run = await runServeLoad({ base: s.base, clients: 8, generationsPerClient: 30, editEvery: 5, prompts: PROMPTS, edits, maxNewTokens: 4 });
  } finally {
    await s.close();
  }
  const { answers } = run;
  expect(answers.filter((a) => a.kind === 'generate')).toHaveLength(240);
  expect(answers.filter((a) => a.kind === 'edit')).toHaveLength(24);
  expect(answers.filter((a) => a.status !== 200).map((a) => a.body)).toEqual([]);

  const journal = EditJournal.open(journalFile);
  const applied = answers.filter((a) => a.kind === 'edit').map((a) => ({ id: a.body.id as string, prompt: a.sent.prompt, target: a.sent.target }));
  expect(journal.records.map((r) => r.type)).toEqual(Array(24).fill('edit'));
  expect(journal.records.map((r) => r.type === 'edit' && { id: r.editId, prompt: r.request.prompt, target: r.request.target }).sort((a, b) =>
    String(a && a.id).localeCompare(String(b && b.id)))).toEqual([...applied].sort((a, b) => a.id.localeCompare(b.id)));

  // Offline: every model state 0..24 and each prompt's greedy ids in it.
  const model = await loadModel(fixture.modelDir);
  const expected: string[][] = [];
  try {
    for (let k = 0; k <= journal.records.length; k++) {
      if (k > 0) applyStoredShifts(model, journal.readShifts(journal.records[k - 1].editId), 1);
      expected.push(PROMPTS.map((p) => JSON.stringify(model.generate(model.tokenizer!.encode(p, { addSpecialTokens: true }), 4))));
    }
  } finally {
    model.dispose();
  }
  const states = new Set<number>();
  for (const a of answers.filter((x) => x.kind === 'generate')) {
    const k = a.body.journalRecords as number;
    states.add(k);
    expect(JSON.stringify(a.body.ids)).toBe(expected[k][PROMPTS.indexOf(a.sent.prompt as string)]);
  }
  // The generations were spread over the edits, not all before or after them.
  expect(states.size).toBeGreaterThan(5);
  const g = latencySummary(answers, 'generate');
  const e = latencySummary(answers, 'edit');
  process.stderr.write(`serve load (tiny model): ${run.seconds.toFixed(1)} s; generate p50 ${g.p50} ms p95 ${g.p95} ms; edit p50 ${e.p50} ms p95 ${e.p95} ms\n`);
}, 240000);
