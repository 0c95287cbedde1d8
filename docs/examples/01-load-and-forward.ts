/**
 * Load a Hugging Face model directory, look at it, and run it: logits of one sequence, the mean
 * next-token loss, and a right-padded batch with an attention mask.
 *
 *   node docs/examples/run.js docs/examples/01-load-and-forward.ts [MODEL_DIR]
 */
import * as assert from 'assert';
import { tf } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { cleanup, tinyCheckpoint } from './tiny';

export async function main(args: string[] = []): Promise<void> {
  const dir = args[0] ?? (await tinyCheckpoint('llama'));
  const model = await loadModel(dir); // also picks the tfjs backend (see `hiedit doctor`)
  try {
    const c = model.config;
    console.log(`${c.modelType}: ${c.numLayers} layers, hidden ${c.hiddenSize}, vocab ${c.vocabSize}`);
    console.log(`${model.parameterCount()} parameters stored as ${model.sourceDtype}`);
    console.log(`first editable modules: ${model.modules.slice(0, 3).map((m) => `${m.name} (${m.dIn}x${m.dOut})`).join(', ')}`);

    const before = tf.memory().numTensors;
    const ids = [1, 15, 27, 3, 9];
    const { shape, data } = model.logits(ids); // host Float32Array, row-major (T, V)
    console.log(`logits shape [${shape}], loss ${model.loss(ids).toFixed(4)}`);

    // A batch: rows must have equal length, so the short one is right-padded and masked.
    const batch = model.forward([ids, [1, 15, 27, 0, 0]], [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
    const rows = batch.arraySync();
    batch.dispose(); // forward returns a tensor: the caller disposes it
    // Right padding never changes the real tokens' logits: positions 0..2 agree with the unpadded run.
    for (let t = 0; t < 3; t++) {
      for (let v = 0; v < shape[1]; v++) assert.ok(Math.abs(rows[1][t][v] - data[t * shape[1] + v]) < 1e-4);
    }
    assert.strictEqual(tf.memory().numTensors, before, 'no tensor leaked');
    console.log('padded batch matches the single-sequence logits; no tensors leaked');
  } finally {
    model.dispose();
    if (args[0] === undefined) cleanup(dir);
  }
}
