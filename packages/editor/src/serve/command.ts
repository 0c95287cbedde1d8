/**
 * `hiedit serve`: loads the model and editor once, replays the journal once, and serves the JSON API and the page
 * until SIGINT or SIGTERM.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CliUsageError, defineCommand, requireFlag, type CliCommand } from '@hiedit/tensor-core';
import type { EditorCliApi } from '../commands/editorCommands';
import { EDITOR_JSON, loadEditorDir } from '../editorDir';
import { editorFactory } from '../editors/registry';
import { buildServeApp, DEFAULT_MAX_QUEUE } from './app';
import { readBuiltPage } from './page';
import { isLoopbackHost, readTokenFile } from './security';
import { ServableModel, ServeSession } from './session';

/** What serve needs from the model library: the editor commands' API, with models that generate. */
export interface ServeCliApi extends EditorCliApi {
  loadModel(dir: string): Promise<ServableModel & { dispose(): void }>;
}

/** Port used when --port is not given. */
export const DEFAULT_PORT = 8080;

/** An origin as browsers send it (`http://host[:port]`), or a usage error naming --cors. */
function checkOrigin(value: string): string {
  let origin: string | undefined;
  try {
    origin = new URL(value).origin;
  } catch { /* reported below */ }
  if (origin !== value || !/^https?:/.test(value)) {
    throw new CliUsageError(`--cors must be one origin such as http://localhost:3000 (scheme, host, optional port), got "${value}"`);
  }
  return value;
}

/** Resolves when the process is asked to stop. */
function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

/** The `serve` command over a model library API. */
export function serveCommand(api: ServeCliApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'serve',
    summary: 'Serve a model that takes corrections: a JSON API (generate, edit, journal, rollback, export) and a page at /.',
    synopsis: 'serve --model DIR --editor EDITOR_DIR --journal FILE [--host 127.0.0.1] [--port N] [--export-dir DIR] ' +
      '[--token-file FILE] [--max-queue N] [--cors ORIGIN]',
    description: 'Loads the model and the editor once and replays the journal once, then serves until SIGINT or SIGTERM. ' +
      'Edits and rollbacks run one at a time in arrival order; each applied edit is fsynced in the journal before its ' +
      'answer, so a restart after a crash serves exactly the journaled model. See docs/serve.md for the API.',
    flagHelp: [
      '--model DIR          the base model directory (with tokenizer.json); the journal is replayed onto it',
      '--editor EDITOR_DIR  a trained editor directory (train-editor --out)',
      '--journal FILE       the edit journal: created, or replayed and appended to',
      '--host HOST          address to listen on (default 127.0.0.1); anything but loopback needs --token-file',
      `--port N             port (default ${DEFAULT_PORT}; 0 picks a free one, printed at start)`,
      '--export-dir DIR     where POST /api/export saves the edited model (export is refused without it)',
      '--token-file FILE    a file holding a bearer token (16+ characters) every /api request must send',
      `--max-queue N        edits and rollbacks that may wait before the server answers 429 (default ${DEFAULT_MAX_QUEUE})`,
      '--cors ORIGIN        let pages of this one origin call the API (no CORS headers without it)',
    ],
    flags: { model: 'string', editor: 'string', journal: 'string', host: 'string', port: { kind: 'int', max: 65535 },
      'export-dir': 'string', 'token-file': 'string', 'max-queue': { kind: 'int', min: 1 }, cors: 'string' },
    async action(flags, io) {
      const modelDir = requireFlag(flags.model, 'model');
      const editorDir = requireFlag(flags.editor, 'editor');
      const journalFile = requireFlag(flags.journal, 'journal');
      const host = flags.host ?? '127.0.0.1';
      const tokenFile = flags['token-file'];
      if (!isLoopbackHost(host) && tokenFile === undefined) {
        throw new CliUsageError(`--host ${host} is reachable from other machines: give --token-file FILE so every request must carry its token`);
      }
      const cors = flags.cors === undefined ? undefined : checkOrigin(flags.cors);
      const token = tokenFile === undefined ? undefined : readTokenFile(tokenFile);
      if (!fs.existsSync(path.join(editorDir, EDITOR_JSON))) {
        throw new Error(`--editor ${editorDir}: no ${EDITOR_JSON} there (train one with hiedit train-editor)`);
      }
      const exportDir = flags['export-dir'] === undefined ? undefined : path.resolve(flags['export-dir']);
      const page = readBuiltPage();
      if (page === undefined) io.err('warning: the page is not built (npm run build in packages/editor); / answers 404\n');

      const model = await api.loadModel(modelDir);
      let session: ServeSession | undefined;
      try {
        const tokenize = api.tupleTokenizer(model);
        const loaded = loadEditorDir(editorDir, model);
        const t = loaded.descriptor.trained;
        if (editorFactory(loaded.descriptor.kind).trainable && (!t || !t.finished)) {
          io.err(`warning: editor ${editorDir} is ${t ? `not fully trained (paused after ${t.steps} steps)` : 'untrained'}\n`);
        }
        try {
          session = ServeSession.open({ model, editor: loaded.editor, tokenize, journalFile, ...(exportDir ? { exportDir } : {}),
            onWarning: (w) => io.err(`warning: ${w}\n`) });
        } catch (e) {
          loaded.editor.dispose();
          throw e;
        }
        if (session.replayed.length) io.err(`replayed ${session.replayed.length} edit(s) from ${journalFile}\n`);
        const { app } = buildServeApp(session, { ...(token ? { token } : {}), ...(cors ? { corsOrigin: cors } : {}),
          ...(flags['max-queue'] !== undefined ? { maxQueue: flags['max-queue'] } : {}), ...(page !== undefined ? { page } : {}),
          extraHosts: [host] });
        const stopped = untilStopped();
        await app.listen({ host, port: flags.port ?? DEFAULT_PORT });
        const a = app.server.address();
        const port = a && typeof a === 'object' ? a.port : flags.port;
        const shown = host.includes(':') ? `[${host}]` : host;
        io.out(`hiedit serve: listening on http://${shown}:${port}/\n`);
        const signal = await stopped;
        io.err(`${signal}: stopping (waiting for the running edit)\n`);
        await app.close();
        return 0;
      } finally {
        session?.dispose();
        model.dispose();
      }
    },
  });
}
