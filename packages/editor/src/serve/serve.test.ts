import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { currentWeightsDigest, initBackend, runCli } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { writeServeFixture } from '../../test/serveFixture';
import { RunningServer, startServer } from '../../test/serveHarness';
import { editorCommands } from '../cli/commands';
import { EditJournal } from '../journal';
import { RequestError } from './errors';
import { bearerMatches, isLoopbackHost, readTokenFile } from './security';
import { WriteQueue } from './writeQueue';

let dir: string;
let fixture: { modelDir: string; editorDir: string };
beforeAll(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-serve-'));
  fixture = await writeServeFixture(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the API', () => {
  let s: RunningServer;
  const journal = (): string => path.join(dir, 'api.hjournal');
  beforeAll(async () => { s = await startServer(fixture, journal(), { exportDir: path.join(dir, 'exported'), page: '<!doctype html><p>page</p>' }); });
  afterAll(async () => { await s.close(); });

  test('health names the model, the editor and the journal', async () => {
    const r = await s.call('GET', '/api/health');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', model: { modelType: 'gpt2', numLayers: 2 }, editor: { kind: 'ft', modules: ['h.0.mlp.c_proj', 'h.1.mlp.c_proj'] },
      journal: { edits: 0, active: 0 }, export: true, queue: { waiting: 0, capacity: 32 } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('generation is greedy and bounded', async () => {
    const a = await s.call('POST', '/api/generate', { prompt: 'Alice plays the', max_new_tokens: 3 });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ tokens: 3, journalRecords: 0 });
    const b = await s.call('POST', '/api/generate', { prompt: 'Alice plays the', max_new_tokens: 3 });
    expect(b.body.text).toBe(a.body.text);
    expect((await s.call('POST', '/api/generate', { prompt: 'Alice plays the' })).body.tokens).toBe(16);
    for (const [body, field, problem] of [
      [{ prompt: 'Alice', max_new_tokens: 257 }, 'max_new_tokens', 'must be <= 256'],
      [{ prompt: 'Alice', max_new_tokens: 0 }, 'max_new_tokens', 'must be >= 1'],
      [{ prompt: 'Alice', max_new_tokens: '3' }, 'max_new_tokens', 'must be integer'],
      [{ prompt: 'Alice', max_new_tokens: 2.5 }, 'max_new_tokens', 'must be integer'],
      [{ prompt: 'Alice plays the', max_new_tokens: 40 }, 'max_new_tokens', "4 prompt tokens + 40 new tokens exceed the model's 32 positions"],
      [{ max_new_tokens: 3 }, 'prompt', 'is required'],
      [{ prompt: '' }, 'prompt', 'must NOT have fewer than 1 characters'],
      [{ prompt: '   ' }, 'prompt', 'is empty'],
      [{ prompt: 'x'.repeat(2001) }, 'prompt', 'must NOT have more than 2000 characters'],
      [{ prompt: 'Alice', file: '/etc/passwd' }, 'file', 'is not a field of this request'],
      [[1, 2], 'body', 'must be object'],
    ] as const) {
      const r = await s.call('POST', '/api/generate', body);
      expect([r.status, r.body]).toEqual([400, { error: 'bad request', field, problem }]);
    }
  });

  test('an edit reports its modules, strength and the answer before and after; rollback restores the answer', async () => {
    const before = (await s.call('POST', '/api/generate', { prompt: 'Alice plays the', max_new_tokens: 1 })).body.text;
    expect(before).not.toBe('violin');
    const e = await s.call('POST', '/api/edits', { prompt: 'Alice plays the', target: 'violin', paraphrases: ['Alice is good at the'] });
    expect(e.status).toBe(200);
    expect(e.body).toMatchObject({ id: 'e1', editor: 'ft', applied: true, before: { text: before, isTarget: false }, after: { text: 'violin', isTarget: true } });
    expect(e.body.modules.map((m: { module: string }) => m.module)).toEqual(['h.0.mlp.c_proj', 'h.1.mlp.c_proj']);
    expect(e.body.strength).toBeCloseTo(e.body.modules[0].norm + e.body.modules[1].norm, 6);
    expect(e.body.ms).toBeGreaterThan(0);
    const after = await s.call('POST', '/api/generate', { prompt: 'Alice plays the', max_new_tokens: 1 });
    expect(after.body).toMatchObject({ text: 'violin', journalRecords: 1 });
    // The edit is in the journal on disk before the answer.
    expect(EditJournal.open(journal()).activeEdits().map((r) => r.editId)).toEqual(['e1']);

    const list = await s.call('GET', '/api/edits');
    expect(list.body.edits).toEqual([expect.objectContaining({ id: 'e1', editor: 'ft', rolledBack: false, modules: ['h.0.mlp.c_proj', 'h.1.mlp.c_proj'],
      request: { prompt: 'Alice plays the', target: 'violin', paraphrases: ['Alice is good at the'] } })]);
    const one = await s.call('GET', '/api/edits/e1');
    expect(one.body).toMatchObject({ id: 'e1', now: { text: 'violin', isTarget: true }, report: { before: { text: before } } });
    expect(Object.keys(one.body.norms)).toEqual(['h.0.mlp.c_proj', 'h.1.mlp.c_proj']);

    const rb = await s.call('POST', '/api/edits/e1/rollback');
    expect(rb.status).toBe(200);
    expect(rb.body).toMatchObject({ id: 'e1', modules: ['h.0.mlp.c_proj', 'h.1.mlp.c_proj'], after: { text: before, isTarget: false } });
    expect((await s.call('POST', '/api/generate', { prompt: 'Alice plays the', max_new_tokens: 1 })).body.text).toBe(before);
    expect((await s.call('GET', '/api/edits')).body.edits[0]).toMatchObject({ id: 'e1', rolledBack: true, rolledBackAt: expect.any(String) });
    expect(EditJournal.open(journal()).isRolledBack('e1')).toBe(true);

    expect(await s.call('POST', '/api/edits/e1/rollback')).toMatchObject({ status: 409, body: { error: 'conflict', field: 'id', problem: 'edit e1 is already rolled back' } });
    expect(await s.call('POST', '/api/edits/e7/rollback')).toMatchObject({ status: 404, body: { error: 'not found', field: 'id', problem: 'no edit e7 in the journal' } });
    expect(await s.call('GET', '/api/edits/e7')).toMatchObject({ status: 404, body: { field: 'id' } });
    expect(await s.call('GET', '/api/edits/..%2Fetc')).toMatchObject({ status: 400, body: { field: 'id', problem: expect.stringMatching(/must match pattern/) } });
  });

  test('bad edits are refused naming the field, and leave the journal alone', async () => {
    const size = fs.statSync(journal()).size;
    for (const [body, field, problem] of [
      [{ prompt: 'Bob lives in', target: '  ' }, 'target', 'is empty'],
      [{ prompt: 'Bob lives in' }, 'target', 'is required'],
      [{ prompt: 'Bob lives in', target: 'Rome', paraphrases: ['ok', ''] }, 'paraphrases[1]', 'must NOT have fewer than 1 characters'],
      [{ prompt: 'Bob lives in', target: 'Rome', paraphrases: 'Bob is from' }, 'paraphrases', 'must be array'],
      [{ prompt: 'Bob lives in', target: 'Rome', paraphrases: Array(17).fill('Bob is from') }, 'paraphrases', 'must NOT have more than 16 items'],
      [{ prompt: 'Bob lives in', target: 'Rome', journal: 'x.hjournal' }, 'journal', 'is not a field of this request'],
    ] as const) {
      expect(await s.call('POST', '/api/edits', body)).toMatchObject({ status: 400, body: { error: 'bad request', field, problem } });
    }
    expect(fs.statSync(journal()).size).toBe(size);
  });

  test('export saves the current model to the directory named at start', async () => {
    await s.call('POST', '/api/edits', { prompt: 'Bob lives in', target: 'Rome' });
    const r = await s.call('POST', '/api/export', { dtype: 'f32' });
    expect(r).toMatchObject({ status: 200, body: { edits: 1, dtype: 'F32' } });
    const exported = await loadModel(path.join(dir, 'exported'));
    expect(currentWeightsDigest(exported)).toBe((await s.call('GET', '/api/digest')).body.digest);
    exported.dispose();
    expect((await s.call('POST', '/api/export')).status).toBe(200);
    expect(await s.call('POST', '/api/export', { dtype: 'f8' })).toMatchObject({ status: 400, body: { field: 'dtype' } });
    expect(await s.call('POST', '/api/export', { dir: '/tmp/x' })).toMatchObject({ status: 400, body: { field: 'dir', problem: 'is not a field of this request' } });
  });

  test('bodies: JSON only, size limited; unknown routes 404; the page at /', async () => {
    expect(await s.call('POST', '/api/generate', '{"prompt":', { 'content-type': 'application/json' })).toMatchObject({ status: 400, body: { field: 'body' } });
    expect(await s.call('POST', '/api/edits/e2/rollback', 'x', { 'content-type': 'text/plain' })).toMatchObject({ status: 415, body: { field: 'content-type' } });
    expect(await s.call('POST', '/api/generate', 'prompt=a', { 'content-type': 'application/x-www-form-urlencoded' })).toMatchObject({ status: 415 });
    const big = await s.call('POST', '/api/edits', { prompt: 'Bob', target: 'x'.repeat(70 * 1024) });
    expect(big).toMatchObject({ status: 413, body: { field: 'body' } });
    expect(await s.call('GET', '/api/nothing')).toMatchObject({ status: 404, body: { field: 'url' } });
    const page = await s.call('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'.*connect-src 'self'/);
  });

  test('a foreign Host or Origin is refused (DNS rebinding, cross-site requests)', async () => {
    expect(await s.call('GET', '/api/health', undefined, { host: 'evil.example' })).toMatchObject({ status: 403, body: { field: 'host' } });
    expect(await s.call('POST', '/api/edits/e2/rollback', undefined, { origin: 'https://evil.example' })).toMatchObject({ status: 403, body: { field: 'origin' } });
    expect((await s.call('GET', '/api/edits/e2')).body.rolledBack).toBe(false);
    const own = await s.call('GET', '/api/health', undefined, { origin: s.base });
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-origin')).toBeNull();
    expect((await s.call('OPTIONS', '/api/edits', undefined, { origin: s.base, 'access-control-request-method': 'POST' })).status).toBe(404);
  });
});

describe('options', () => {
  test('--token-file: every /api request needs the bearer token; the page does not', async () => {
    const token = 'a-token-of-32-characters-0123456';
    const s = await startServer(fixture, path.join(dir, 'token.hjournal'), { token, page: 'p' });
    try {
      expect(await s.call('GET', '/api/health')).toMatchObject({ status: 401, body: { field: 'authorization' } });
      expect((await s.call('GET', '/api/health', undefined, { authorization: `Bearer ${token}x` })).status).toBe(401);
      expect((await s.call('GET', '/api/health', undefined, { authorization: token })).status).toBe(401);
      expect((await s.call('GET', '/api/health', undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
      // With a token, any Host is served (the server was bound for other machines on purpose).
      expect((await s.call('GET', '/api/health', undefined, { authorization: `Bearer ${token}`, host: 'models.example' })).status).toBe(200);
      expect((await s.call('GET', '/')).status).toBe(200);
      expect(await s.call('POST', '/api/export', {}, { authorization: `Bearer ${token}` }))
        .toMatchObject({ status: 409, body: { field: 'export', problem: 'the server was started without --export-dir' } });
    } finally {
      await s.close();
    }
  });

  test('--cors: that one origin gets CORS headers and preflights', async () => {
    const s = await startServer(fixture, path.join(dir, 'cors.hjournal'), { corsOrigin: 'http://localhost:3000' });
    try {
      const r = await s.call('GET', '/api/health', undefined, { origin: 'http://localhost:3000' });
      expect([r.status, r.headers.get('access-control-allow-origin')]).toEqual([200, 'http://localhost:3000']);
      const pre = await s.call('OPTIONS', '/api/edits', undefined, { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
      expect((await s.call('GET', '/api/health', undefined, { origin: 'http://localhost:4000' })).status).toBe(403);
      expect((await s.call('GET', '/')).status).toBe(404);
    } finally {
      await s.close();
    }
  });

  test('a full queue answers 429; the journal holds exactly the edits answered 200', async () => {
    const file = path.join(dir, 'queue.hjournal');
    const s = await startServer(fixture, file, { maxQueue: 1 });
    try {
      // Hold the writer with a task of our own so the queue's state is known when each edit arrives.
      let release = (): void => undefined;
      const held = s.queue.run(() => new Promise<void>((r) => { release = r; }));
      const first = s.call('POST', '/api/edits', { prompt: 'Alice plays', target: 'chess' });
      while ((await s.call('GET', '/api/health')).body.queue.waiting < 1) await new Promise((r) => setTimeout(r, 5));
      const busy = await s.call('POST', '/api/edits', { prompt: 'Bob plays', target: 'chess' });
      expect(busy).toMatchObject({ status: 429, body: { error: 'busy', field: 'queue', problem: expect.stringMatching(/--max-queue 1/) } });
      expect(busy.headers.get('retry-after')).toBe('1');
      expect((await s.call('POST', '/api/edits/e1/rollback')).status).toBe(429);
      // Generations do not queue: they are answered while the writer is held.
      expect((await s.call('POST', '/api/generate', { prompt: 'Alice plays', max_new_tokens: 1 })).status).toBe(200);
      release();
      await held;
      expect(await first).toMatchObject({ status: 200, body: { id: 'e1' } });
      const ok = [await first];
      expect(EditJournal.open(file).activeEdits().map((r) => r.editId).sort()).toEqual(ok.map((a) => a.body.id).sort());
    } finally {
      await s.close();
    }
  });

  test('a restart replays the journal once and serves the same model', async () => {
    const file = path.join(dir, 'restart.hjournal');
    const a = await startServer(fixture, file);
    await a.call('POST', '/api/edits', { prompt: 'Carol speaks', target: 'German' });
    await a.call('POST', '/api/edits', { prompt: 'Dave plays', target: 'golf' });
    await a.call('POST', '/api/edits/e1/rollback');
    const digest = (await a.call('GET', '/api/digest')).body.digest;
    await a.close();
    const b = await startServer(fixture, file);
    try {
      expect((await b.call('GET', '/api/health')).body.journal).toEqual({ edits: 2, active: 1, replayedAtStart: 1 });
      expect((await b.call('GET', '/api/digest')).body.digest).toBe(digest);
      expect((await b.call('GET', '/api/edits/e2')).body).toMatchObject({ now: { text: 'golf', isTarget: true } });
      expect((await b.call('GET', '/api/edits/e2')).body.report).toBeUndefined();
    } finally {
      await b.close();
    }
  });
});

describe('the parts', () => {
  test('WriteQueue runs tasks one at a time in arrival order and refuses past its capacity', async () => {
    const q = new WriteQueue(2);
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      return name;
    };
    const a = q.run(task('a', 30));
    const b = q.run(task('b', 1));
    const c = q.run(task('c', 1));
    expect(() => q.run(task('d', 1))).toThrow(RequestError);
    const failing = q.length;
    expect(failing).toBe(2);
    expect(await Promise.all([a, b, c])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    await expect(q.run(() => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await q.run(() => 'after')).toBe('after');
    expect(() => new WriteQueue(0)).toThrow(/capacity must be an integer >= 1/);
  });

  test('security helpers', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '192.168.1.2', '::', 'example.com', '128.0.0.1'].some(isLoopbackHost)).toBe(false);
    expect(bearerMatches('Bearer abcdefabcdefabcdef', 'abcdefabcdefabcdef')).toBe(true);
    expect(bearerMatches('Bearer abcdefabcdefabcdeg', 'abcdefabcdefabcdef')).toBe(false);
    expect(bearerMatches(undefined, 'abcdefabcdefabcdef')).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
    const f = path.join(dir, 'tok');
    fs.writeFileSync(f, 'short\n');
    expect(() => readTokenFile(f)).toThrow(/at least 16 characters \(got 5\)/);
    fs.writeFileSync(f, '0123456789abcdef0123\n');
    expect(readTokenFile(f)).toBe('0123456789abcdef0123');
    expect(() => readTokenFile(path.join(dir, 'none'))).toThrow(/--token-file .*none: cannot read it \(ENOENT\)/);
  });

  test('hiedit serve refuses unsafe or malformed options before loading anything (exit 2)', async () => {
    const run = async (...args: string[]): Promise<{ code: number; err: string }> => {
      let err = '';
      const code = await runCli('hiedit', editorCommands, args, { out: () => undefined, err: (t) => { err += t; } });
      return { code, err };
    };
    const base = ['serve', '--model', fixture.modelDir, '--editor', fixture.editorDir, '--journal', path.join(dir, 'never.hjournal')];
    expect(await run(...base, '--host', '0.0.0.0')).toMatchObject({ code: 2, err: expect.stringMatching(/^hiedit serve: --host 0\.0\.0\.0 is reachable from other machines: give --token-file/) });
    expect(await run(...base, '--cors', '*')).toMatchObject({ code: 2, err: expect.stringMatching(/--cors must be one origin/) });
    expect(await run(...base, '--cors', 'http://localhost:3000/path')).toMatchObject({ code: 2 });
    expect(await run(...base, '--max-queue', '0')).toMatchObject({ code: 2, err: expect.stringMatching(/--max-queue must be an integer >= 1, got 0/) });
    expect(await run(...base, '--port', '70000')).toMatchObject({ code: 2 });
    expect(await run('serve', '--model', fixture.modelDir)).toMatchObject({ code: 2, err: expect.stringMatching(/--editor is required/) });
    expect(await run(...base.slice(0, 3), '--editor', dir, '--journal', path.join(dir, 'never.hjournal'))).toMatchObject({ code: 1, err: expect.stringMatching(/no editor\.json there/) });
    expect(fs.existsSync(path.join(dir, 'never.hjournal'))).toBe(false);
  });
});
