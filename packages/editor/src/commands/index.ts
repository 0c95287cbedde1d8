export { createEditorCommands } from './editorCommands';
export type { EditorCliApi } from './editorCommands';
export { llmLoaderApi, modelTupleTokenizer } from './api';
export type { EditorCommand, CommandIO } from './args';
