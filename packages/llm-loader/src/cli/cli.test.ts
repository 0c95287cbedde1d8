import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendReport, initBackend, runCli, tf, type CliIO } from '@hiedit/tensor-core';
import { CausalLM } from '../causal-lm';
import { createTinyCheckpoint, loadModel } from '../load';
import { loadTokenizer } from '../tokenizer';
import { buildWordLevelTokenizer, writeTokenizerFiles } from '../tokenizer-files';
import { loaderCommands } from './index';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function hiedit(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const code = await runCli('hiedit', loaderCommands, argv, io);
  return { code, out, err };
}

async function json(...argv: string[]): Promise<Record<string, unknown>> {
  const r = await hiedit(...argv, '--json');
  if (r.code !== 0) throw new Error(`hiedit ${argv.join(' ')} exited ${r.code}: ${r.err}`);
  expect(r.err).toBe('');
  return JSON.parse(r.out);
}

let tmp: string;
let gpt2Dir: string;
let llamaDir: string;
const IDS = [5, 17, 3, 88, 42, 42, 0, 60];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-cli-'));
  gpt2Dir = path.join(tmp, 'gpt2');
  llamaDir = path.join(tmp, 'llama');
  await initBackend(); // the factory runs tfjs ops
  await createTinyCheckpoint(gpt2Dir, { architecture: 'gpt2', seed: 11 });
  await createTinyCheckpoint(llamaDir, { architecture: 'llama', seed: 12, dtype: 'BF16' });
  // A word-level tokenizer filling the tiny llama's 96 ids: <pad> <bos> <eos> <unk> w4 ... w95.
  const words = Array.from({ length: 92 }, (_, i) => `w${i + 4}`);
  writeTokenizerFiles(llamaDir, buildWordLevelTokenizer({ words }));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('hiedit CLI numbers equal the library API', () => {
  let gpt2: CausalLM;
  let llama: CausalLM;
  beforeAll(async () => {
    gpt2 = await loadModel(gpt2Dir);
    llama = await loadModel(llamaDir);
  });
  afterAll(() => {
    gpt2.dispose();
    llama.dispose();
  });

  it('info', async () => {
    for (const [dir, m] of [[gpt2Dir, gpt2], [llamaDir, llama]] as const) {
      const info = await json('info', '--model', dir);
      expect(info).toMatchObject({
        architecture: m.config.architecture,
        model_type: m.config.modelType,
        layers: m.config.numLayers,
        parameters: m.parameterCount(),
        dtype: m.sourceDtype,
        backend: backendReport().active,
        vocab_size: m.config.vocabSize,
        editable_modules: m.modules.length,
      });
    }
    expect((await json('info', '--model', llamaDir)).dtype).toBe('BF16');
    expect((await json('info', '--model', llamaDir)).tokenizer).toBe(true);
    const text = await hiedit('info', '--model', gpt2Dir);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/architecture: gpt2/);
    expect(text.out).toMatch(new RegExp(`parameters: +${gpt2.parameterCount().toLocaleString('en-US')}`));
  });

  it('forward, with and without --repeat', async () => {
    for (const [dir, m] of [[gpt2Dir, gpt2], [llamaDir, llama]] as const) {
      const r = await json('forward', '--model', dir, '--ids', IDS.join(','));
      const lib = m.logits(IDS);
      expect(r.logits_shape).toEqual([IDS.length, m.config.vocabSize]);
      expect(r.logits).toEqual(Array.from(lib.data));
      expect(r.loss).toBe(m.loss(IDS));
      expect(r.ms_median).toBeUndefined();
    }
    const timed = await json('forward', '--model', gpt2Dir, '--ids', '1,2,3', '--repeat', '3');
    expect(typeof timed.ms_median).toBe('number');
    expect(timed.ms_median as number).toBeGreaterThan(0);
    const one = await json('forward', '--model', gpt2Dir, '--ids', '7');
    expect(one.loss).toBeNull();
    expect(one.logits_shape).toEqual([1, 96]);
  });

  it('grad, in the checkpoint layout, with and without --repeat', async () => {
    const cases: [string, CausalLM, string][] = [
      [gpt2Dir, gpt2, 'h.1.mlp.c_fc.weight'],
      [gpt2Dir, gpt2, 'wte.weight'],
      [llamaDir, llama, 'model.layers.0.mlp.up_proj.weight'],
      [llamaDir, llama, 'model.norm.weight'],
    ];
    for (const [dir, m, param] of cases) {
      const r = await json('grad', '--model', dir, '--ids', IDS.join(','), '--param', param);
      const lib = m.grad(param, IDS);
      expect(r.shape).toEqual(lib.shape);
      expect(r.grad).toEqual(Array.from(lib.grad));
      expect(r.loss).toBe(lib.loss);
    }
    const timed = await json('grad', '--model', gpt2Dir, '--ids', '1,2,3', '--param', 'ln_f.bias', '--repeat', '2');
    expect(timed.ms_median as number).toBeGreaterThan(0);
    const text = await hiedit('grad', '--model', gpt2Dir, '--ids', '1,2,3', '--param', 'ln_f.bias');
    expect(text.out).toMatch(/param: ln_f\.bias \[32\]\nloss: .*\ngrad L2 norm: /);
  });

  it('generate from ids and from a prompt', async () => {
    const r = await json('generate', '--model', gpt2Dir, '--ids', '1,2,3', '--max-new-tokens', '6');
    expect(r).toEqual({ ids: gpt2.generate([1, 2, 3], 6), text: null });
    const tok = llama.tokenizer!;
    const prompt = 'w10 w11 w12';
    const p = await json('generate', '--model', llamaDir, '--prompt', prompt, '--max-new-tokens', '5');
    const expected = llama.generate(tok.encode(prompt, { addSpecialTokens: true }), 5);
    expect(p).toEqual({ ids: expected, text: tok.decode(expected) });
    const human = await hiedit('generate', '--model', llamaDir, '--prompt', prompt, '--max-new-tokens', '5');
    expect(human.out).toBe(`${tok.decode(expected)}\n`);
  });

  it('tokenize from a model directory or a tokenizer file', async () => {
    const tok = await loadTokenizer(llamaDir);
    const text = 'w4 w5 nope w95';
    expect(await json('tokenize', '--model', llamaDir, '--text', text)).toEqual({ ids: tok.encode(text) });
    expect(await json('tokenize', '--tokenizer', path.join(llamaDir, 'tokenizer.json'), '--text', text, '--special')).toEqual({
      ids: [tok.bosTokenId, ...tok.encode(text)],
    });
    const human = await hiedit('tokenize', '--model', llamaDir, '--text', 'w4 w5');
    expect(human.out).toBe('2 tokens\n4\t"w4"\n5\t"w5"\n');
  });

  it('tokenize --file: one result per text, in order, from a text file or JSON Lines', async () => {
    const tok = await loadTokenizer(llamaDir);
    const texts = ['w4 w5', 'w6 "quoted" w7', 'w8'];
    const lines = path.join(tmp, 'texts.txt');
    fs.writeFileSync(lines, texts.join('\r\n') + '\r\n');
    const jsonl = path.join(tmp, 'texts.jsonl');
    fs.writeFileSync(jsonl, [JSON.stringify(texts[0]), '', JSON.stringify({ text: texts[1], id: 'b' }), JSON.stringify(texts[2])].join('\n'));
    const expected = (lineNumbers: number[]) => texts.map((t, i) => ({ line: lineNumbers[i], ids: tok.encode(t, { addSpecialTokens: true }) }));
    for (const [file, lineNumbers] of [[lines, [1, 2, 3]], [jsonl, [1, 3, 4]]] as const) {
      const r = await hiedit('tokenize', '--model', llamaDir, '--file', file, '--special', '--json');
      expect([r.code, r.err]).toEqual([0, '']);
      expect(r.out.endsWith('\n')).toBe(true);
      expect(r.out.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual(expected([...lineNumbers]));
    }
    // --format overrides the extension: the JSON lines read as plain text keep their quotes
    const asText = await hiedit('tokenize', '--model', llamaDir, '--file', jsonl, '--format', 'text', '--json');
    expect(asText.out.trimEnd().split('\n').map((l) => JSON.parse(l).line)).toEqual([1, 2, 3, 4]);
    const human = await hiedit('tokenize', '--model', llamaDir, '--file', lines);
    expect(human.out).toBe('line 1: 2 tokens\n4\t"w4"\n5\t"w5"\nline 2: ' + human.out.split('line 2: ')[1]);
    expect(human.out).toMatch(/\nline 3: 1 tokens\n8\t"w8"\n$/);
  });

  it('tokenize --file names the file and line of a bad line, and prints nothing', async () => {
    const bad = path.join(tmp, 'bad.jsonl');
    fs.writeFileSync(bad, '"w4"\n{"txt": "w5"}\n"w6"\n');
    let r = await hiedit('tokenize', '--model', llamaDir, '--file', bad, '--json');
    expect([r.code, r.out]).toEqual([1, '']);
    expect(r.err).toBe(`hiedit tokenize: ${bad}:2: expected a JSON string or an object with a "text" string, got {"txt": "w5"}\n`);
    fs.writeFileSync(bad, '"w4"\n"w5"\n"w6\n');
    r = await hiedit('tokenize', '--model', llamaDir, '--file', bad);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^hiedit tokenize: ${bad.replace(/[.\\/]/g, '\\$&')}:3: not valid JSON`));
    const empty = path.join(tmp, 'empty.txt');
    fs.writeFileSync(empty, '');
    expect((await hiedit('tokenize', '--model', llamaDir, '--file', empty)).err).toMatch(/--file .*empty\.txt holds no text/);
    expect((await hiedit('tokenize', '--model', llamaDir, '--file', path.join(tmp, 'missing.txt'))).err).toMatch(/--file .*missing\.txt: ENOENT/);
  });

  it('doctor reports the backend selection and the GPU path', async () => {
    const report = await json('doctor');
    expect(report).toEqual({ ...JSON.parse(JSON.stringify(backendReport())), gpu: expect.objectContaining({ status: 'absent' }) });
    expect((report.gpu as { summary: string }).summary).toMatch(/^@tensorflow\/tfjs-node-gpu is not installed: no GPU path/);
    const human = await hiedit('doctor');
    expect(human.out).toContain(`active backend: ${backendReport().active}`);
    expect(human.out).toMatch(/^gpu: absent: @tensorflow\/tfjs-node-gpu is not installed.*\n  tfjs-node-gpu 4\.22 needs CUDA 11\.2/m);
    for (const c of backendReport().candidates) expect(human.out).toContain(c.name);
    // One backend per process: asking for another one afterwards is a clear failure, not a silent switch.
    const other = backendReport().active === 'cpu' ? 'wasm' : 'cpu';
    const r = await hiedit('info', '--model', gpt2Dir, '--backend', other);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^hiedit info: .*cannot switch to ${other}`));
  });

  it('leaves no tensors behind', async () => {
    await json('forward', '--model', gpt2Dir, '--ids', '1,2,3'); // warm-up: backend kernels, caches
    const before = tf.memory().numTensors;
    await json('forward', '--model', llamaDir, '--ids', '1,2,3', '--repeat', '2');
    await json('grad', '--model', llamaDir, '--ids', '1,2,3', '--param', 'lm_head.weight');
    await json('generate', '--model', gpt2Dir, '--ids', '1,2,3', '--max-new-tokens', '3');
    await json('info', '--model', gpt2Dir);
    await hiedit('forward', '--model', gpt2Dir, '--ids', '1,2,999');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('hiedit CLI errors', () => {
  it.each([
    [['info'], 2, /^hiedit info: --model is required\n\nUsage: hiedit info --model DIR/],
    [['info', '--model', '/nonexistent/model'], 1, /^hiedit info: .*nonexistent.*config\.json/],
    [['forward', '--model', 'X'], 2, /^hiedit forward: --ids is required/],
    [['forward', '--model', 'X', '--ids', '1', '--repeat', '0'], 2, /--repeat must be an integer >= 1, got 0/],
    [['forward', '--model', 'X', '--ids', '1', 'extra'], 2, /unexpected argument "extra"/],
    [['forward', '--model', 'X', '--ids', '1,x'], 2, /--ids expects comma-separated integers/],
    [['generate', '--model', 'X', '--ids', '1', '--max-new-tokens', '1.5'], 2, /--max-new-tokens must be a non-negative integer/],
    [['generate', '--model', 'X', '--ids', '1', '--max-new-tokens', '0x10'], 2, /^hiedit generate: --max-new-tokens must be a non-negative integer, got "0x10"/],
    [['generate', '--model', 'X', '--ids', '1', '--max-new-tokens', '1e3'], 2, /^hiedit generate: --max-new-tokens must be a non-negative integer, got "1e3"/],
    [['generate', '--model', 'X', '--ids', '1', '--max-new-tokens', '-2'], 2, /^hiedit generate: --max-new-tokens must be a non-negative integer, got -2/],
    [['forward', '--model', 'X', '--ids', '1', '--repeat', '0x3'], 2, /^hiedit forward: --repeat must be an integer >= 1, got "0x3"/],
    [['tokenize', '--model', 'X', '--text', 'a', '--file', 'f.txt'], 2, /give --text or --file, not both/],
    [['tokenize', '--model', 'X', '--text', 'a', '--format', 'jsonl'], 2, /--format applies to --file/],
    [['tokenize', '--model', 'X', '--file', 'f.txt', '--format', 'csv'], 2, /--format must be text or jsonl, got "csv"/],
    [['grad', '--model', 'X', '--ids', '1,2'], 2, /^hiedit grad: --param is required/],
    [['generate', '--model', 'X', '--ids', '1', '--prompt', 'a', '--max-new-tokens', '1'], 2, /exactly one of --prompt and --ids/],
    [['generate', '--model', 'X', '--ids', '1'], 2, /--max-new-tokens is required/],
    [['tokenize', '--text', 'a'], 2, /exactly one of --model and --tokenizer/],
    [['tokenize', '--model', 'X'], 2, /--text is required/],
    [['doctor', '--backend', 'gpu9000'], 2, /--backend must be one of tensorflow-gpu, tensorflow, wasm, cpu/],
  ])('%j exits %i', async (argv, code, message) => {
    const r = await hiedit(...(argv as string[]));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it('names the problem for bad ids, unknown tensors and missing tokenizers', async () => {
    let r = await hiedit('forward', '--model', gpt2Dir, '--ids', '1,2,96');
    expect([r.code, r.err]).toEqual([1, 'hiedit forward: --ids: id 96 is outside the vocabulary (size 96)\n']);
    r = await hiedit('grad', '--model', gpt2Dir, '--ids', '1,2', '--param', 'h.0.mlp.c_fc.weights');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^hiedit grad: --param: the model has no tensor "h\.0\.mlp\.c_fc\.weights"; similar: h\.0\.mlp\.c_fc\.weight/);
    r = await hiedit('generate', '--model', gpt2Dir, '--prompt', 'hi', '--max-new-tokens', '2');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--prompt needs a tokenizer, but .*tokenizer\.json is missing; use --ids/);
    r = await hiedit('tokenize', '--model', gpt2Dir, '--text', 'hi');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^hiedit tokenize: .*tokenizer\.json not found/);
    r = await hiedit('grad', '--model', gpt2Dir, '--ids', '1', '--param', 'ln_f.bias');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/need at least 2 tokens/);
  });

  it('lists every loader command in --help and shows each usage', async () => {
    const r = await hiedit('--help');
    expect(r.code).toBe(0);
    for (const name of ['info', 'forward', 'grad', 'tokenize', 'generate', 'doctor']) {
      expect(r.out).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      const h = await hiedit(name, '--help');
      expect(h.code).toBe(0);
      expect(h.out).toMatch(new RegExp(`^Usage: hiedit ${name}`));
    }
  });
});

describe('hiedit on the Gemma-2 and Qwen3 fixtures (test/fixtures)', () => {
  const FIXTURES = path.resolve(__dirname, '../../test/fixtures');
  it.each(['gemma2_tiny', 'qwen3_tiny'])('%s: generate --ids gives the reference greedy tokens (KV cache)', async (name) => {
    const dir = path.join(FIXTURES, name);
    const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
    const gen = await json('generate', '--model', dir, '--ids', ref.greedy.prompt.join(','), '--max-new-tokens', '8');
    expect(gen.ids).toEqual(ref.greedy.generated);
  });
  it('info shows windows, soft-caps, score scale and norms', async () => {
    const gemma = await json('info', '--model', path.join(FIXTURES, 'gemma2_tiny'));
    expect(gemma).toMatchObject({
      architecture: 'gemma2', model_type: 'gemma2', head_dim: 32, sliding_windows: [4096, null, 4096], attn_softcap: 50,
      final_softcap: 30, score_scale: 1 / Math.sqrt(24), norms: 'RMSNorm before and after each sublayer, weights used as (1 + w)', qk_norm: false,
    });
    const qwen = await json('info', '--model', path.join(FIXTURES, 'qwen3_tiny'));
    expect(qwen).toMatchObject({ architecture: 'llama', model_type: 'qwen3', sliding_windows: null, attn_softcap: null, final_softcap: null, qk_norm: true });
    const text = await hiedit('info', '--model', path.join(FIXTURES, 'gemma2_tiny'));
    expect(text.out).toMatch(/attention: +sliding window 4096 on layers 0,2, full on the others; score scale 0\.204124; scores soft-capped at 50; logits soft-capped at 30/);
    expect((await hiedit('info', '--model', path.join(FIXTURES, 'qwen3_tiny'))).out).toMatch(/norms: +RMSNorm before each sublayer, plus q_norm \/ k_norm per head/);
  });
});

const REFERENCE = path.resolve(__dirname, '../../../../../shared/reference');

describe('hiedit CLI against ../shared/reference', () => {
  const present = fs.existsSync(REFERENCE);
  if (!present) {
    it('skipped', () => {
      console.log(`skipping reference checks: ${REFERENCE} does not exist (fresh clone without ../shared)`);
    });
    return;
  }
  for (const name of ['gpt2_tiny', 'llama_tiny', 'gemma2_tiny', 'qwen3_tiny']) {
    it(`${name}: forward, grad and generate within tolerance`, async () => {
      const dir = path.join(REFERENCE, name);
      const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
      const ids: number[] = ref.input_ids;
      const f = await json('forward', '--model', dir, '--ids', ids.join(','));
      expect(f.logits_shape).toEqual(ref.logits_shape);
      const logits = f.logits as number[];
      let maxAbs = 0;
      logits.forEach((v, i) => (maxAbs = Math.max(maxAbs, Math.abs(v - ref.logits[i]))));
      expect(maxAbs).toBeLessThan(1e-4);
      const V = ref.logits_shape[1];
      const argmax = ref.argmax_per_position.map((_: number, t: number) => {
        let best = 0;
        for (let v = 1; v < V; v++) if (logits[t * V + v] > logits[t * V + best]) best = v;
        return best;
      });
      expect(argmax).toEqual(ref.argmax_per_position);
      expect(Math.abs((f.loss as number) - ref.loss)).toBeLessThan(1e-4);
      for (const [param, g] of Object.entries(ref.grads as Record<string, { shape: number[]; values: number[] }>)) {
        const r = await json('grad', '--model', dir, '--ids', ids.join(','), '--param', param);
        expect(r.shape).toEqual(g.shape);
        const got = r.grad as number[];
        let num = 0;
        let den = 0;
        g.values.forEach((v, i) => {
          num += (got[i] - v) * (got[i] - v);
          den += v * v;
        });
        expect({ param, relL2: Math.sqrt(num / den) < 1e-4 }).toEqual({ param, relL2: true });
      }
      const gen = await json('generate', '--model', dir, '--ids', ref.greedy.prompt.join(','), '--max-new-tokens', '8');
      expect(gen.ids).toEqual(ref.greedy.generated);
    });
  }
});
