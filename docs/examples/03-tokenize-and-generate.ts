/**
 * Tokenizers and generation. A model directory with tokenizer.json gets its tokenizer loaded with the
 * model. Here the tiny checkpoint gets a word-level tokenizer written by our own code (real models ship
 * theirs); then a (prompt, answer) pair becomes a teacher-forcing tuple, and greedy generation (with a
 * KV cache) continues a prompt.
 *
 *   node docs/examples/run.js docs/examples/03-tokenize-and-generate.ts [MODEL_DIR]
 */
import * as assert from 'assert';
import { tf, IGNORE_INDEX } from '@hiedit/tensor-core';
import { buildWordLevelTokenizer, loadModel, tokenizeTuple, writeTokenizerFiles } from '@hiedit/llm-loader';
import { cleanup, tinyCheckpoint } from './tiny';

export async function main(args: string[] = []): Promise<void> {
  const dir = args[0] ?? (await tinyCheckpoint('llama'));
  if (args[0] === undefined) {
    // 4 special tokens (<pad> <bos> <eos> <unk>) + 92 words = the tiny model's 96 ids.
    const words = ['the', 'capital', 'of', 'France', 'is', 'Paris', 'Rome', 'Italy'];
    for (let i = words.length; i < 92; i++) words.push(`word${i}`);
    writeTokenizerFiles(dir, buildWordLevelTokenizer({ words }));
  }
  const model = await loadModel(dir); // loads tokenizer.json when the directory has one
  try {
    const tok = model.tokenizer;
    if (!tok) throw new Error(`${dir} has no tokenizer.json`);
    const prompt = 'the capital of France is';
    console.log(`encode: ${JSON.stringify(tok.encode(prompt))}`);
    console.log(`with special tokens: ${JSON.stringify(tok.encode(prompt, { addSpecialTokens: true }))}`);

    // Spec §2: ids = tok(prompt) + tok(" " + answer) minus its last token; labels mark the answer.
    const tuple = tokenizeTuple(tok, prompt, 'Paris');
    console.log(`tuple ids ${JSON.stringify(tuple.ids)}\n      labels ${JSON.stringify(tuple.labels)}`);
    const answerAt = tuple.labels.findIndex((l) => l !== IGNORE_INDEX);
    assert.strictEqual(tuple.labels[answerAt], tok.encode(' Paris')[0]);

    const before = tf.memory().numTensors;
    const fresh = model.generate(tok.encode(prompt, { addSpecialTokens: true }), 5);
    console.log(`greedy continuation: ${JSON.stringify(tok.decode(fresh))} ${JSON.stringify(fresh)}`);
    assert.strictEqual(fresh.length, 5);
    assert.strictEqual(tf.memory().numTensors, before, 'no tensor leaked');
    // The loss of the tuple under the current weights (a tf.Scalar: dispose it).
    const loss = model.lossUnderShifts([tuple]);
    console.log(`loss of "Paris" after the prompt: ${loss.dataSync()[0].toFixed(4)}`);
    loss.dispose();
  } finally {
    model.dispose();
    if (args[0] === undefined) cleanup(dir);
  }
}
