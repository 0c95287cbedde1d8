/** `info`, `forward`, `grad` and `generate`: commands that load a model directory. */
import * as fs from 'fs';
import * as path from 'path';
import { BACKEND_NAMES, CliUsageError, defineCommand, medianMs, requireFlag, type BackendName, type CliCommand } from '@hiedit/tensor-core';
import type { CliModel, LoaderApi } from './api';
import { printResult, type Timing } from './command';

/** --backend NAME: picks the backend before anything loads (same as HIEDIT_BACKEND). */
export async function selectBackend(api: LoaderApi, backend: string | undefined): Promise<void> {
  if (backend === undefined) return;
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    throw new CliUsageError(`--backend must be one of ${BACKEND_NAMES.join(', ')}, got "${backend}"`);
  }
  await api.initBackend({ backend: backend as BackendName });
}

async function withModel<T>(
  api: LoaderApi,
  flags: { model?: string; backend?: string },
  opts: { tokenizer?: boolean },
  fn: (model: CliModel, dir: string) => Promise<T> | T,
): Promise<T> {
  const dir = path.resolve(requireFlag(flags.model, 'model'));
  await selectBackend(api, flags.backend);
  const model = await api.loadModel(dir, opts);
  try {
    return await fn(model, dir);
  } finally {
    model.dispose();
  }
}

/** The id list checked against the model's vocabulary (the model itself checks the length). */
function checkIds(model: CliModel, ids: number[], flag = 'ids'): number[] {
  const { vocabSize } = model.config;
  const bad = ids.find((id) => id < 0 || id >= vocabSize);
  if (bad !== undefined) throw new Error(`--${flag}: id ${bad} is outside the vocabulary (size ${vocabSize})`);
  return ids;
}

/** The names sharing the longest prefix with `name` (at most 3): a hint for a mistyped tensor name. */
function closestNames(name: string, names: readonly string[]): string[] {
  const common = (a: string, b: string): number => {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return i;
  };
  return [...names].sort((a, b) => common(name, b) - common(name, a)).slice(0, 3);
}

/** Kept exported from here for existing importers; the timing helper is tensor-core's. */
export { medianMs };

/** The timing asked for by --repeat (none without it). */
function timeIf(repeat: number | undefined, fn: () => void): Timing | undefined {
  return repeat === undefined ? undefined : { repeat, ms: medianMs(repeat, fn) };
}

function l2(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(7) : String(x);
}

function preview(x: ArrayLike<number>, n = 8): string {
  const head = Array.from({ length: Math.min(n, x.length) }, (_, i) => fmt(x[i]));
  return `[${head.join(', ')}${x.length > n ? `, ... (${x.length} values)` : ''}]`;
}

const MODEL_HELP = '--model DIR       Hugging Face model directory (config.json + model.safetensors)';
const JSON_HELP = '--json            machine-readable output (one JSON object)';
const BACKEND_HELP = `--backend NAME    force a backend: ${BACKEND_NAMES.join(', ')} (default: HIEDIT_BACKEND or the first available)`;
const REPEAT_HELP = '--repeat N        also time N runs after one warm-up; reports ms_median';

function info(api: LoaderApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'info',
    summary: 'Describe a model directory: architecture, layers, parameter count, dtype, backend.',
    synopsis: 'info --model DIR [--json] [--backend NAME]',
    flagHelp: [MODEL_HELP, JSON_HELP, BACKEND_HELP],
    flags: { model: 'string', json: 'boolean', backend: 'string' },
    action: (flags, io) =>
      withModel(api, flags, { tokenizer: false }, (model, dir) => {
        const c = model.config;
        const data = {
          architecture: c.architecture,
          model_type: c.modelType,
          layers: c.numLayers,
          hidden_size: c.hiddenSize,
          heads: c.numHeads,
          kv_heads: c.numKvHeads,
          head_dim: c.headDim,
          intermediate_size: c.intermediateSize,
          vocab_size: c.vocabSize,
          max_positions: c.maxPositions,
          tied_embeddings: c.tieWordEmbeddings,
          ...attentionInfo(c),
          parameters: model.parameterCount(),
          editable_modules: model.modules.length,
          dtype: model.sourceDtype,
          backend: api.backendReport().active,
          tokenizer: fs.existsSync(path.join(dir, 'tokenizer.json')),
        };
        printResult(io, flags.json, data, () => [
          `model:        ${dir}`,
          `architecture: ${data.architecture} (model_type ${data.model_type})`,
          `layers:       ${data.layers}, hidden ${data.hidden_size}, heads ${data.heads} (kv ${data.kv_heads}, head_dim ${data.head_dim}), mlp ${data.intermediate_size}`,
          `vocabulary:   ${data.vocab_size}, positions ${data.max_positions}, tied embeddings ${data.tied_embeddings ? 'yes' : 'no'}`,
          `attention:    ${attentionLine(data)}`,
          `norms:        ${data.norms}${data.qk_norm ? ', plus q_norm / k_norm per head' : ''}`,
          `parameters:   ${data.parameters.toLocaleString('en-US')} (${data.editable_modules} editable linear modules)`,
          `dtype:        ${data.dtype}`,
          `backend:      ${data.backend}`,
          `tokenizer:    ${data.tokenizer ? 'tokenizer.json' : 'none'}`,
        ]);
        return 0;
      }),
  });
}

/** What `info` reports about attention and norms: windows per layer, soft-caps, the score scale, the norm style. */
function attentionInfo(c: CliModel['config']): {
  sliding_windows: readonly (number | null)[] | null; attn_softcap: number | null; final_softcap: number | null;
  score_scale: number; norms: string; qk_norm: boolean;
} {
  const gpt2 = c.architecture === 'gpt2';
  let norms = gpt2 ? 'LayerNorm before each sublayer' : 'RMSNorm before each sublayer';
  if (c.sandwichNorms) norms = 'RMSNorm before and after each sublayer';
  if (c.normUnitOffset) norms += ', weights used as (1 + w)';
  let scale = c.attentionScale ?? 1 / Math.sqrt(c.headDim);
  if (gpt2 && !c.scaleAttnWeights) scale = 1;
  return {
    sliding_windows: c.layerWindows ?? null,
    attn_softcap: c.attnSoftcap ?? null,
    final_softcap: c.finalSoftcap ?? null,
    score_scale: scale,
    norms,
    qk_norm: c.qkNorm ?? false,
  };
}

function attentionLine(d: ReturnType<typeof attentionInfo>): string {
  const windows = d.sliding_windows;
  const parts = [windows
    ? `sliding window ${[...new Set(windows.filter((w) => w !== null))].join('/')} on layers ${windows.flatMap((w, i) => (w === null ? [] : [i])).join(',')}, full on the others`
    : 'full causal on every layer'];
  parts.push(`score scale ${Number(d.score_scale.toPrecision(6))}`);
  if (d.attn_softcap !== null) parts.push(`scores soft-capped at ${d.attn_softcap}`);
  if (d.final_softcap !== null) parts.push(`logits soft-capped at ${d.final_softcap}`);
  return parts.join('; ');
}

function forward(api: LoaderApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'forward',
    summary: 'Run the model on token ids: logits and the mean next-token loss.',
    synopsis: 'forward --model DIR --ids 1,2,3 [--repeat N] [--json] [--backend NAME]',
    flagHelp: [MODEL_HELP, '--ids 1,2,3       token ids', REPEAT_HELP, JSON_HELP, BACKEND_HELP],
    flags: { model: 'string', ids: 'int-list', repeat: { kind: 'int', min: 1 }, json: 'boolean', backend: 'string' },
    action: async (flags, io) => {
      const idsFlag = requireFlag(flags.ids, 'ids');
      return withModel(api, flags, { tokenizer: false }, (model) => {
        const ids = checkIds(model, idsFlag);
        const { shape, data } = model.logits(ids);
        // One token has no next token to predict: the loss is undefined, reported as null.
        const loss = ids.length >= 2 ? model.loss(ids) : null;
        const timing = timeIf(flags.repeat, () => void model.logits(ids));
        printResult(io, flags.json, { logits_shape: shape, logits: Array.from(data), loss }, () => {
          const argmax: number[] = [];
          for (let t = 0; t < shape[0]; t++) {
            let best = 0;
            for (let v = 1; v < shape[1]; v++) if (data[t * shape[1] + v] > data[t * shape[1] + best]) best = v;
            argmax.push(best);
          }
          return [
            `logits: [${shape.join(', ')}] ${preview(data)}`,
            `argmax per position: ${argmax.join(' ')}`,
            `loss (mean next-token cross-entropy): ${loss === null ? 'n/a (one token)' : fmt(loss)}`,
          ];
        }, timing);
        return 0;
      });
    },
  });
}

function grad(api: LoaderApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'grad',
    summary: 'Gradient of the mean next-token loss with respect to one checkpoint tensor.',
    synopsis: 'grad --model DIR --ids 1,2,3 --param NAME [--repeat N] [--json] [--backend NAME]',
    flagHelp: [
      MODEL_HELP,
      '--ids 1,2,3       token ids (at least 2)',
      '--param NAME      checkpoint tensor name, e.g. h.0.mlp.c_fc.weight or model.layers.0.mlp.up_proj.weight',
      REPEAT_HELP,
      JSON_HELP,
      BACKEND_HELP,
    ],
    flags: { model: 'string', ids: 'int-list', param: 'string', repeat: { kind: 'int', min: 1 }, json: 'boolean', backend: 'string' },
    action: async (flags, io) => {
      const idsFlag = requireFlag(flags.ids, 'ids');
      const param = requireFlag(flags.param, 'param');
      return withModel(api, flags, { tokenizer: false }, (model) => {
        const ids = checkIds(model, idsFlag);
        const names = model.parameterNames();
        // Some GPT-2 files prefix tensor names with `transformer.`; the model accepts both spellings.
        if (!names.includes(param) && !names.includes(param.replace(/^transformer\./, ''))) {
          throw new Error(`--param: the model has no tensor "${param}"; similar: ${closestNames(param, names).join(', ')}`);
        }
        const g = model.grad(param, ids);
        const timing = timeIf(flags.repeat, () => void model.grad(param, ids));
        printResult(io, flags.json, { shape: g.shape, grad: Array.from(g.grad), loss: g.loss }, () => [
          `param: ${param} [${g.shape.join(', ')}]`,
          `loss: ${fmt(g.loss)}`,
          `grad L2 norm: ${fmt(l2(g.grad))}`,
          `grad: ${preview(g.grad)}`,
        ], timing);
        return 0;
      });
    },
  });
}

function generate(api: LoaderApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'generate',
    summary: 'Greedy generation (KV cache) from a text prompt or from token ids.',
    synopsis: 'generate --model DIR (--prompt TEXT | --ids 1,2,3) --max-new-tokens N [--stop-at-eos] [--json] [--backend NAME]',
    flagHelp: [
      MODEL_HELP,
      '--prompt TEXT     prompt text (needs DIR/tokenizer.json; special tokens such as BOS are added as the tokenizer does)',
      '--ids 1,2,3       prompt token ids, used as given',
      '--max-new-tokens N  number of tokens to generate',
      '--stop-at-eos     stop after the end-of-sequence token',
      JSON_HELP,
      BACKEND_HELP,
    ],
    flags: {
      model: 'string', prompt: 'string', ids: 'int-list', 'max-new-tokens': 'int', 'stop-at-eos': 'boolean',
      json: 'boolean', backend: 'string',
    },
    action: async (flags, io) => {
      const prompt = flags.prompt;
      if ((prompt === undefined) === (flags.ids === undefined)) throw new CliUsageError('give exactly one of --prompt and --ids');
      const maxNew = requireFlag(flags['max-new-tokens'], 'max-new-tokens');
      return withModel(api, flags, {}, (model, dir) => {
        const tok = model.tokenizer;
        let ids: number[];
        if (prompt !== undefined) {
          if (!tok) throw new Error(`--prompt needs a tokenizer, but ${path.join(dir, 'tokenizer.json')} is missing; use --ids`);
          // The prompt starts a sequence, so it gets the specials (BOS) the tokenizer adds.
          ids = tok.encode(prompt, { addSpecialTokens: true });
          if (ids.length === 0) throw new Error('--prompt encodes to no tokens');
        } else {
          ids = checkIds(model, flags.ids as number[]);
        }
        const fresh = model.generate(ids, maxNew, { stopAtEos: flags['stop-at-eos'] === true });
        const text = tok ? tok.decode(fresh) : null;
        printResult(io, flags.json, { ids: fresh, text }, () => [text ?? fresh.join(' ')]);
        return 0;
      });
    },
  });
}

/** The commands that load a model, bound to `api`. */
export function modelCommands(api: LoaderApi): CliCommand[] {
  return [info(api), forward(api), grad(api), generate(api)];
}
