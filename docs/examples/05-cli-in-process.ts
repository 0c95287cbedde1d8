/**
 * The `hiedit` loader commands from code: the same commands `npx hiedit` runs, with output captured
 * instead of printed. Useful for scripts that want exactly the CLI's JSON.
 *
 *   node docs/examples/run.js docs/examples/05-cli-in-process.ts [MODEL_DIR]
 */
import * as assert from 'assert';
import { runCli, type CliIO } from '@hiedit/tensor-core';
import { loaderCommands, loadModel } from '@hiedit/llm-loader';
import { cleanup, tinyCheckpoint } from './tiny';

/** Runs one `hiedit` command line; returns its exit code and what it wrote. */
async function hiedit(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (s) => void (out += s), err: (s) => void (err += s) };
  const code = await runCli('hiedit', loaderCommands, argv, io);
  return { code, out, err };
}

export async function main(args: string[] = []): Promise<void> {
  const dir = args[0] ?? (await tinyCheckpoint('gpt2'));
  try {
    const info = JSON.parse((await hiedit(['info', '--model', dir, '--json'])).out);
    console.log(`info: ${info.architecture}, ${info.layers} layers, ${info.parameters} parameters, ${info.dtype}, backend ${info.backend}`);

    const fwd = JSON.parse((await hiedit(['forward', '--model', dir, '--ids', '1,2,3,4', '--repeat', '3', '--json'])).out);
    console.log(`forward: logits ${JSON.stringify(fwd.logits_shape)}, loss ${fwd.loss.toFixed(4)}, median ${fwd.ms_median.toFixed(2)} ms`);

    const param = 'h.0.mlp.c_fc.weight';
    const g = JSON.parse((await hiedit(['grad', '--model', dir, '--ids', '1,2,3,4', '--param', param, '--json'])).out);
    console.log(`grad: ${param} ${JSON.stringify(g.shape)}`);

    const gen = JSON.parse((await hiedit(['generate', '--model', dir, '--ids', '1,2,3', '--max-new-tokens', '4', '--json'])).out);
    console.log(`generate: ${JSON.stringify(gen.ids)}`);

    // The CLI and the library agree exactly.
    const model = await loadModel(dir);
    assert.strictEqual(fwd.loss, model.loss([1, 2, 3, 4]));
    assert.deepStrictEqual(gen.ids, model.generate([1, 2, 3], 4));
    model.dispose();

    const bad = await hiedit(['grad', '--model', dir, '--ids', '1,2']);
    console.log(`a usage error exits ${bad.code}: ${bad.err.split('\n')[0]}`);
    assert.strictEqual(bad.code, 2);
  } finally {
    if (args[0] === undefined) cleanup(dir);
  }
}
