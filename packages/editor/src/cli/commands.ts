/**
 * The editor's own `hiedit` subcommands: train-editor, edit, rollback, export. main.ts appends them
 * after the loader's commands. The implementations live in ../commands (tested there on tiny models);
 * this file binds them to the real model library (llm-loader's loadModel and tokenizeTuple).
 */
import type { CliCommand } from '@hiedit/tensor-core';
import { createEditorCommands } from '../commands/editorCommands';
import { llmLoaderApi } from '../commands/api';

export const editorCommands: CliCommand[] = createEditorCommands(llmLoaderApi);
