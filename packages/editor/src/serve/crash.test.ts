/**
 * kill -9 during a stream of edits: `hiedit serve` runs as a child process (the built bin), clients stream edits
 * and a rollback, the child is killed with SIGKILL at a point that varies per round, and the restarted server must
 * serve exactly the journal's replay (weights digest equal bit for bit to an offline replay), with every
 * acknowledged edit in the journal.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { currentWeightsDigest, initBackend } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { ensureBuilt } from '../../test/built';
import { writeServeFixture } from '../../test/serveFixture';
import { request } from '../../test/serveHarness';
import { LifelongEditor } from '../editor';
import { EditJournal } from '../journal';

const BIN = path.resolve(__dirname, '../../bin/hiedit.js');
const NAMES = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy'];
const ANSWERS = ['violin', 'Rome', 'German', 'golf', 'Berlin', 'chess', 'Paris', 'piano'];

let dir: string;
let fixture: { modelDir: string; editorDir: string };
beforeAll(async () => {
  ensureBuilt();
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-serve-crash-'));
  fixture = await writeServeFixture(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Starts `hiedit serve` on a free port; resolves with the child and its base URL once it listens. */
function serve(journal: string): Promise<{ child: ChildProcess; base: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--model', fixture.modelDir, '--editor', fixture.editorDir, '--journal', journal,
    '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve({ child, base: m[1], stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`hiedit serve exited (${code}) before listening:\n${err}`)));
  });
}

async function offlineDigest(journal: string): Promise<string> {
  const model = await loadModel(fixture.modelDir);
  try {
    LifelongEditor.replay(EditJournal.open(journal, { onWarning: () => undefined }), model);
    return currentWeightsDigest(model);
  } finally {
    model.dispose();
  }
}

test('after kill -9 at varying moments of an edit stream, a restart serves exactly the journaled model', async () => {
  const journal = path.join(dir, 'crash.hjournal');
  const acked = new Set<string>();
  let sentEdits = 0;
  let n = 0;
  // Rounds kill after a different number of acknowledged edits and a different delay, so the kill lands before,
  // during or after an edit's journal append.
  for (const [acksBeforeKill, delayMs] of [[2, 0], [4, 37], [3, 81], [5, 13]]) {
    const { child, base } = await serve(journal);
    const exited = new Promise((r) => child.on('exit', r));
    let killed = false;
    let roundAcks = 0;
    const client = async (): Promise<void> => {
      while (!killed) {
        const i = n++;
        const body = { prompt: `${NAMES[i % NAMES.length]} ${i % 2 ? 'lives in' : 'plays the'}`, target: ANSWERS[i % ANSWERS.length] };
        sentEdits++;
        try {
          const r = await request(base, 'POST', '/api/edits', body);
          expect(r.status).toBe(200);
          acked.add(r.body.id);
          // An acknowledged edit is on disk: the file holds it even if the server dies this instant.
          expect(EditJournal.open(journal, { onWarning: () => undefined }).edit(r.body.id).request.target).toBe(body.target);
          if (++roundAcks === acksBeforeKill) setTimeout(() => { killed = true; child.kill('SIGKILL'); }, delayMs);
          if (roundAcks === 2 && i % 3 === 0) await request(base, 'POST', `/api/edits/${r.body.id}/rollback`);
        } catch (e) {
          if (!killed) throw e; // the connection died with the server
        }
      }
    };
    await Promise.all([client(), client()]);
    await exited;

    const j = EditJournal.open(journal, { onWarning: () => undefined });
    const ids = j.records.filter((r) => r.type === 'edit').map((r) => r.editId);
    for (const id of acked) expect(ids).toContain(id);
    expect(ids.length).toBeLessThanOrEqual(sentEdits);

    const restarted = await serve(journal);
    try {
      const served = (await request(restarted.base, 'GET', '/api/digest')).body.digest;
      expect(served).toBe(await offlineDigest(journal));
      expect((await request(restarted.base, 'GET', '/api/health')).body.journal.active).toBe(j.activeEdits().length);
    } finally {
      restarted.child.kill('SIGTERM');
      expect(await new Promise((r) => restarted.child.on('exit', (code) => r(code)))).toBe(0);
    }
  }
  expect(acked.size).toBeGreaterThanOrEqual(14);
}, 300000);
