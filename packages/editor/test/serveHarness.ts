/** Test harness: a ServeSession over the serve fixture, its fastify app listening on an ephemeral loopback port. */
import * as http from 'http';
import * as path from 'path';
import { loadModel } from '@hiedit/llm-loader';
import { modelTupleTokenizer } from '../src/commands/api';
import { loadEditorDir } from '../src/editorDir';
import { buildServeApp, ServeAppOptions } from '../src/serve/app';
import { ServeSession } from '../src/serve/session';
import { WriteQueue } from '../src/serve/writeQueue';

/** An HTTP answer; the body parsed as JSON when it is JSON. */
export interface Answer {
  readonly status: number;
  readonly body: any;
  readonly headers: { get(name: string): string | null };
}

/**
 * One request over node's http client (fetch would not send a Host header of our choosing); the body goes as JSON
 * unless it is a string.
 */
export function request(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const json = body !== undefined && typeof body !== 'string';
  const payload = body === undefined ? undefined : json ? JSON.stringify(body) : (body as string);
  return new Promise((resolve, reject) => {
    const req = http.request(base + url, { method, headers: { ...(json ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON: the page */ }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: { get: (n) => { const v = res.headers[n.toLowerCase()]; return v === undefined ? null : String(v); } } });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A running server and a client for it. */
export interface RunningServer {
  readonly base: string;
  readonly session: ServeSession;
  readonly queue: WriteQueue;
  /** One request; the body is sent as JSON unless it is a string (sent as is). */
  call(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

/** Loads the fixture's model and editor, opens `journalFile` and listens on 127.0.0.1 (a free port). */
export async function startServer(fixture: { modelDir: string; editorDir: string }, journalFile: string,
  opts: ServeAppOptions & { exportDir?: string } = {}): Promise<RunningServer> {
  const model = await loadModel(fixture.modelDir);
  const session = ServeSession.open({ model, editor: loadEditorDir(fixture.editorDir, model).editor, tokenize: modelTupleTokenizer(model),
    journalFile, ...(opts.exportDir ? { exportDir: path.resolve(opts.exportDir) } : {}), onWarning: () => undefined });
  const { app, queue } = buildServeApp(session, opts);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    base, session, queue,
    call: (method, url, body, headers) => request(base, method, url, body, headers),
    async close() {
      await app.close();
      session.dispose();
      model.dispose();
    },
  };
}
