/**
 * The editor's own `hiedit` subcommands: train-editor, edit, rollback, export, serve. main.ts appends them
 * after the loader's commands. The implementations live in ../commands and ../serve (tested there on tiny models);
 * this file binds them to the real model library (llm-loader's loadModel and tokenizeTuple).
 */
import type { CliCommand } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { createEditorCommands } from '../commands/editorCommands';
import { llmLoaderApi } from '../commands/api';
import { serveCommand } from '../serve/command';

export const editorCommands: CliCommand[] = [
  ...createEditorCommands(llmLoaderApi),
  serveCommand({ ...llmLoaderApi, loadModel: (dir) => loadModel(dir) }),
];
