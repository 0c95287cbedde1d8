/**
 * Gradients: of the loss with respect to one checkpoint tensor (in the checkpoint's own layout), and a
 * trace that returns each module's keys (inputs) and value gradients (d loss / d outputs), which is
 * what the HiEdit policies consume. For a linear layer y = x W the weight gradient is keys^T valueGrads,
 * so the two agree.
 *
 *   node docs/examples/run.js docs/examples/02-grad-and-trace.ts [MODEL_DIR]
 */
import * as assert from 'assert';
import { tf, IGNORE_INDEX } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { cleanup, tinyCheckpoint } from './tiny';

export async function main(args: string[] = []): Promise<void> {
  const dir = args[0] ?? (await tinyCheckpoint('llama'));
  const model = await loadModel(dir);
  try {
    const ids = [1, 40, 41, 42, 43, 44];
    const module = model.modules.find((m) => m.name.endsWith('mlp.up_proj')) ?? model.modules[0];
    const param = `${module.name}.weight`;

    const g = model.grad(param, ids); // stored layout: Llama nn.Linear is (out, in) = (dOut, dIn)
    console.log(`d loss / d ${param}: shape [${g.shape}], loss ${g.loss.toFixed(4)}`);

    // The same loss as a teacher-forcing tuple: position i predicts ids[i + 1]; the last predicts nothing.
    const tuple = { ids, labels: [...ids.slice(1), IGNORE_INDEX] };
    const before = tf.memory().numTensors;
    const trace = model.trace(tuple, [module.name], 'all');
    const { keys, valueGrads } = trace.features.get(module.name)!;
    console.log(`trace: keys [${keys.shape}], value gradients [${valueGrads.shape}], loss ${trace.loss.toFixed(4)}`);
    const fromTrace = tf.tidy(() => tf.matMul(keys, valueGrads, true, false)); // (dIn, dOut)
    const w = fromTrace.dataSync();
    const [dIn, dOut] = fromTrace.shape;
    // Compare with the stored-layout gradient: nn.Linear (Llama family) stores (dOut, dIn), GPT-2's
    // Conv1D stores (dIn, dOut).
    const transposed = model.config.architecture === 'llama';
    let maxDiff = 0;
    for (let i = 0; i < dIn; i++) {
      for (let o = 0; o < dOut; o++) {
        const stored = transposed ? g.grad[o * dIn + i] : g.grad[i * dOut + o];
        maxDiff = Math.max(maxDiff, Math.abs(stored - w[i * dOut + o]));
      }
    }
    console.log(`max |grad - keys^T valueGrads| = ${maxDiff.toExponential(2)}`);
    assert.ok(Math.abs(trace.loss - g.loss) < 1e-5);
    assert.ok(maxDiff < 1e-5);
    // The trace hands over its tensors: dispose them.
    fromTrace.dispose();
    for (const f of trace.features.values()) {
      f.keys.dispose();
      f.valueGrads.dispose();
    }
    assert.strictEqual(tf.memory().numTensors, before, 'no tensor leaked');
  } finally {
    model.dispose();
    if (args[0] === undefined) cleanup(dir);
  }
}
