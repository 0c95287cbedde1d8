/** The real model library behind the editor's commands: llm-loader's loadModel and tokenizeTuple. */
import { CausalLM, loadModel, tokenizeTuple } from '@hiedit/llm-loader';
import { EditorModel, TupleTokenizer } from '../model';
import { EditorCliApi } from './editorCommands';

/** A tuple tokenizer over a loaded model's own tokenizer; a clear error when the model has none. */
export function modelTupleTokenizer(model: EditorModel): TupleTokenizer {
  const tok = (model as CausalLM).tokenizer;
  if (!tok) {
    throw new Error(`model ${model.dir ?? model.config.modelType} has no tokenizer (tokenizer.json missing from its directory)`);
  }
  return (prompt, answer) => tokenizeTuple(tok, prompt, answer);
}

/** The API the CLI uses: models are loaded with their tokenizer. */
export const llmLoaderApi: EditorCliApi = {
  loadModel: (dir) => loadModel(dir),
  tupleTokenizer: modelTupleTokenizer,
};
