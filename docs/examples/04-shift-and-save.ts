/**
 * Editing weights and saving the result. A shift is added to one module's weight in (dIn, dOut)
 * orientation, whatever the checkpoint's layout; the model is saved as a Hugging Face directory (F32
 * keeps the values bit for bit, BF16 rounds them) and loads again; subtracting the shift undoes it.
 *
 *   node docs/examples/run.js docs/examples/04-shift-and-save.ts [MODEL_DIR]
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bf16BitsToFloat32, float32ToBf16Bits, randomNormal, SeededRandom, tf } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { cleanup, tinyCheckpoint } from './tiny';

export async function main(args: string[] = []): Promise<void> {
  const dir = args[0] ?? (await tinyCheckpoint('gpt2'));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-saved-'));
  const model = await loadModel(dir);
  try {
    const m = model.modules.find((d) => d.name.endsWith('mlp.c_fc') || d.name.endsWith('mlp.up_proj')) ?? model.modules[0];
    const ids = [3, 14, 15, 9, 26];
    const lossBefore = model.loss(ids);

    // A seeded rank-1 shift u v^T in (dIn, dOut).
    const rng = new SeededRandom(42);
    const delta = tf.tidy(() => tf.matMul(randomNormal([m.dIn, 1], rng, 0.5), randomNormal([1, m.dOut], rng, 0.5)) as tf.Tensor2D);
    model.addShift(m.name, delta);
    const lossShifted = model.loss(ids);
    console.log(`${m.name} (${m.dIn}x${m.dOut}): loss ${lossBefore.toFixed(4)} -> ${lossShifted.toFixed(4)} after the shift`);
    assert.notStrictEqual(lossShifted, lossBefore);

    const shifted = model.readWeight(m.name);
    const expected = Float32Array.from(shifted.dataSync());
    shifted.dispose();

    await model.save(path.join(out, 'f32'), { dtype: 'F32' });
    await model.save(path.join(out, 'bf16'), { dtype: 'BF16' });
    console.log(`saved: ${fs.readdirSync(path.join(out, 'f32')).join(', ')}`);

    for (const [sub, round] of [['f32', (x: Float32Array) => x], ['bf16', (x: Float32Array) => bf16BitsToFloat32(float32ToBf16Bits(x))]] as const) {
      const again = await loadModel(path.join(out, sub));
      const w = again.readWeight(m.name);
      const got = w.dataSync();
      w.dispose();
      const want = round(expected);
      assert.ok(got.every((v, i) => Object.is(v, want[i])), `${sub}: reloaded weight differs`);
      console.log(`${sub}: reloaded as ${again.sourceDtype}, ${m.name} equals the ${sub === 'f32' ? 'saved values bit for bit' : 'BF16-rounded values'}`);
      again.dispose();
    }

    model.addShift(m.name, delta, -1); // undo
    console.log(`after undoing the shift: loss ${model.loss(ids).toFixed(4)}`);
    assert.ok(Math.abs(model.loss(ids) - lossBefore) < 1e-5);
    delta.dispose();
  } finally {
    model.dispose();
    fs.rmSync(out, { recursive: true, force: true });
    if (args[0] === undefined) cleanup(dir);
  }
}
