/**
 * Test fixture for `hiedit serve`: a tiny GPT-2 checkpoint with a word-level tokenizer.json on disk and an `ft`
 * editor directory for it (ft needs no training, so the fixture is quick and its edits hold on the tiny model).
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildWordLevelTokenizer, createTinyCheckpoint, loadModel, writeTokenizerFiles } from '@hiedit/llm-loader';
import { createEditor } from '../src/editors/create';
import { saveEditorDir } from '../src/editorDir';
import { defaultEditModules } from '../src/model';
import { WORDS } from './tiny';

/** Writes `dir/model` and `dir/editor`; returns their paths. */
export async function writeServeFixture(dir: string, seed = 31): Promise<{ modelDir: string; editorDir: string }> {
  const modelDir = path.join(dir, 'model');
  const editorDir = path.join(dir, 'editor');
  await createTinyCheckpoint(modelDir, { architecture: 'gpt2', seed, config: { bos_token_id: 1, eos_token_id: 2 } });
  writeTokenizerFiles(modelDir, buildWordLevelTokenizer({ words: WORDS }));
  const model = await loadModel(modelDir);
  try {
    const editor = createEditor('ft', model, defaultEditModules(model), {});
    saveEditorDir(editorDir, editor, model);
    editor.dispose();
  } finally {
    model.dispose();
  }
  fs.mkdirSync(path.join(dir, 'exports'), { recursive: true });
  return { modelDir, editorDir };
}
