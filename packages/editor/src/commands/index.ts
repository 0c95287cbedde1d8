import type { CliCommand, CliIO } from '@hiedit/tensor-core';

export { createEditorCommands } from './editorCommands';
export type { EditorCliApi } from './editorCommands';
export { llmLoaderApi, modelTupleTokenizer } from './api';

/** @deprecated The editor's commands are tensor-core CliCommands; use `CliCommand`. */
export type EditorCommand = CliCommand;
/** @deprecated Use tensor-core's `CliIO`. */
export type CommandIO = CliIO;
