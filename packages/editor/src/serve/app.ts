/**
 * The HTTP API of `hiedit serve` on fastify: routes over a ServeSession, every body checked against its JSON schema,
 * every write through one WriteQueue, and every refusal as `{ error, field, problem }`.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ErrorBody, RequestError } from './errors';
import { editBody, EditBody, editParams, EditParams, exportBody, ExportBody, generateBody, GenerateBody } from './schemas';
import { bearerMatches, hostName, isLoopbackHost } from './security';
import type { ServeSession } from './session';
import { WriteQueue } from './writeQueue';

/** Options of {@link buildServeApp}. */
export interface ServeAppOptions {
  /** Bearer token every /api request must carry; without it only loopback Host headers are served. */
  readonly token?: string;
  /** Edits, rollbacks and exports that may wait behind the running one (default 32). */
  readonly maxQueue?: number;
  /** The one origin allowed to call the API from a browser (CORS); none by default. */
  readonly corsOrigin?: string;
  /** Largest request body in bytes (default 64 KiB). */
  readonly bodyLimit?: number;
  /** The page served at `/` (see page.ts); without it `/` answers 404. */
  readonly page?: string;
  /** Host names accepted in the Host header besides the loopback names (the --host given). */
  readonly extraHosts?: readonly string[];
}

/** Default body size limit: an edit with its paraphrases is a few kilobytes. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** Default queue capacity. */
export const DEFAULT_MAX_QUEUE = 32;

const DTYPES = { f32: 'F32', f16: 'F16', bf16: 'BF16' } as const;

// Inline script and style only, no requests but to this server, nothing from elsewhere.
const PAGE_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function send(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).type('application/json').send(body);
}

/** `/paraphrases/0` -> `paraphrases[0]`. */
function fieldPath(instancePath: string): string {
  return instancePath.split('/').filter(Boolean).map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : `${i ? '.' : ''}${p}`)).join('');
}

/** The field and problem of the first schema violation of a request. */
function describeValidation(error: FastifyError): { field: string; problem: string } {
  const v = error.validation![0] as { keyword: string; instancePath: string; message?: string; params: Record<string, unknown> };
  const at = fieldPath(v.instancePath);
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  if (v.keyword === 'required') return { field: [at, String(v.params.missingProperty)].filter(Boolean).join('.'), problem: 'is required' };
  if (v.keyword === 'additionalProperties') {
    return { field: [at, String(v.params.additionalProperty)].filter(Boolean).join('.'), problem: 'is not a field of this request' };
  }
  const allowed = v.keyword === 'enum' ? ` (${(v.params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')})` : '';
  return { field: at || context, problem: `${v.message ?? 'is invalid'}${allowed}` };
}

function errorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof RequestError) {
    if (error.status === 429) reply.header('retry-after', '1');
    const label = ({ 404: 'not found', 409: 'conflict', 429: 'busy' } as Record<number, string>)[error.status] ?? 'bad request';
    return send(reply, error.status, { error: label, field: error.field, problem: error.problem });
  }
  if (error.validation) return send(reply, 400, { error: 'bad request', ...describeValidation(error) });
  const status = error.statusCode ?? 500;
  if (status === 413) return send(reply, 413, { error: 'bad request', field: 'body', problem: `is larger than the limit (${error.message})` });
  if (status === 415) return send(reply, 415, { error: 'bad request', field: 'content-type', problem: 'must be application/json' });
  if (status >= 400 && status < 500) return send(reply, status, { error: 'bad request', field: 'body', problem: error.message });
  return send(reply, 500, { error: 'internal error', field: 'server', problem: error.message });
}

/** A fastify app serving `session`; the caller listens (and closes). */
export function buildServeApp(session: ServeSession, opts: ServeAppOptions = {}): { app: FastifyInstance; queue: WriteQueue } {
  const queue = new WriteQueue(opts.maxQueue ?? DEFAULT_MAX_QUEUE);
  const app = Fastify({
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Strict: a "5" is not an integer and an unknown field is an error, not silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: true } },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => send(reply, 404, { error: 'not found', field: 'url', problem: `no route ${request.method} ${request.url.split('?')[0]}` }));

  // Only JSON bodies: a page elsewhere can send text/plain or form bodies without asking (no CORS preflight).
  app.removeContentTypeParser('text/plain');
  const hosts = new Set((opts.extraHosts ?? []).map((h) => h.toLowerCase()));
  app.addHook('onRequest', async (request, reply) => {
    const cors = opts.corsOrigin;
    const origin = request.headers.origin;
    if (origin !== undefined) {
      // Browsers name the page's origin; a page of another site may still fire a bodiless POST (a rollback) without
      // a preflight, so anything but this server's own page or the --cors origin is refused before any route runs.
      if (origin === cors) reply.header('access-control-allow-origin', cors).header('vary', 'Origin');
      else if (origin !== `http://${request.headers.host}` && origin !== `https://${request.headers.host}`) {
        return send(reply, 403, { error: 'forbidden', field: 'origin', problem: `${JSON.stringify(origin)} is not this server's page${cors ? ' nor the --cors origin' : ''}` });
      }
    }
    if (opts.token === undefined) {
      // Loopback only: a page on another site that rebinds its name to 127.0.0.1 still sends its own Host.
      const h = hostName(request.headers.host);
      if (!isLoopbackHost(h) && !hosts.has(h.toLowerCase())) {
        return send(reply, 403, { error: 'forbidden', field: 'host', problem: `${JSON.stringify(h)} is not this server's loopback name` });
      }
    } else if (request.url.startsWith('/api/') && request.method !== 'OPTIONS' && !bearerMatches(request.headers.authorization, opts.token)) {
      reply.header('www-authenticate', 'Bearer');
      return send(reply, 401, { error: 'unauthorized', field: 'authorization', problem: 'must be "Bearer TOKEN" with the token of --token-file' });
    }
    return undefined;
  });
  if (opts.corsOrigin !== undefined) {
    const origin = opts.corsOrigin;
    app.options('/api/*', async (request, reply) => {
      if (request.headers.origin !== origin) return send(reply, 403, { error: 'forbidden', field: 'origin', problem: 'is not the --cors origin' });
      return reply.code(204).header('access-control-allow-methods', 'GET, POST')
        .header('access-control-allow-headers', 'authorization, content-type').header('access-control-max-age', '600').send();
    });
  }

  app.get('/', async (_request, reply) => {
    if (opts.page === undefined) return send(reply, 404, { error: 'not found', field: 'url', problem: 'the page is not built (run the package build)' });
    return reply.type('text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).header('x-content-type-options', 'nosniff').send(opts.page);
  });

  app.get('/api/health', async () => ({ status: 'ok', ...session.info(), queue: { waiting: queue.length, busy: queue.busy, capacity: queue.capacity } }));
  app.get('/api/digest', async () => ({ digest: session.digest() }));

  app.post<{ Body: GenerateBody }>('/api/generate', { schema: { body: generateBody } }, async (request) => {
    const b = request.body;
    return session.generate(b.prompt, b.max_new_tokens, b.stop_at_eos);
  });

  app.get('/api/edits', async () => ({ edits: session.list() }));
  app.post<{ Body: EditBody }>('/api/edits', { schema: { body: editBody } }, async (request) => {
    const b = request.body;
    return queue.run(() => session.edit(b));
  });
  app.get<{ Params: EditParams }>('/api/edits/:id', { schema: { params: editParams } }, async (request) => session.show(request.params.id));
  app.post<{ Params: EditParams }>('/api/edits/:id/rollback', { schema: { params: editParams } },
    async (request) => queue.run(() => session.rollback(request.params.id)));

  app.post<{ Body: ExportBody }>('/api/export', {
    schema: { body: exportBody },
    // A bare POST (no body) asks for the defaults.
    preValidation: async (request) => { if (request.body === undefined) request.body = { dtype: 'f32' }; },
  },
    async (request) => queue.run(() => session.export(DTYPES[request.body.dtype])));

  return { app, queue };
}
