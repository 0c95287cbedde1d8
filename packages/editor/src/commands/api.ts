/** The real model library behind the editor's commands: llm-loader's loadModel and tokenizeTuple. */
import { CausalLM, loadModel, tokenizeTuple } from '@hiedit/llm-loader';
import { EditorModel, TupleTokenizer } from '../model';
import { EditorCliApi } from './editorCommands';
import { TupleTextError } from '../request';

/**
 * A tuple tokenizer over a loaded model's own tokenizer; a clear error when the model has none. Texts that tokenize
 * to the unknown token only are refused.
 */
export function modelTupleTokenizer(model: EditorModel): TupleTokenizer {
  const tok = (model as CausalLM).tokenizer;
  if (!tok) {
    throw new Error(`model ${model.dir ?? model.config.modelType} has no tokenizer (tokenizer.json missing from its directory)`);
  }
  const unk = tok.unkTokenId;
  // A text of unknown tokens only teaches "<unk> -> <unk>": refused, naming which text of the pair it was.
  const known = (text: string, part: 'prompt' | 'answer'): void => {
    if (unk === undefined) return;
    const ids = tok.encode(text);
    if (ids.length > 0 && ids.every((id) => id === unk)) {
      throw new TupleTextError(part, `tokenizes to unknown tokens only (${ids.length} x id ${unk}): the model's ` +
        `tokenizer knows none of ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text)}`);
    }
  };
  return (prompt, answer) => {
    known(prompt, 'prompt');
    known(answer, 'answer');
    return tokenizeTuple(tok, prompt, answer);
  };
}

/** The API the CLI uses: models are loaded with their tokenizer. */
export const llmLoaderApi: EditorCliApi = {
  loadModel: (dir) => loadModel(dir),
  tupleTokenizer: modelTupleTokenizer,
};
