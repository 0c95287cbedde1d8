/**
 * The model shapes the perf suite measures (issue 3): GPT-2 small and a small Llama with grouped-query
 * attention, built as seeded random checkpoints by llm-loader's tiny-checkpoint factory at full size.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { createTinyCheckpoint, type Architecture } from '@hiedit/llm-loader';

/** One benchmarked model shape. */
export interface PerfShape {
  name: 'gpt2' | 'llama';
  architecture: Architecture;
  /** Hugging Face config entries passed to createTinyCheckpoint (override its tiny defaults). */
  config: Record<string, unknown>;
  layers: number;
  hidden: number;
  intermediate: number;
  vocab: number;
  /** Names of the three MLP weights whose gradient forward+backward computes (the last three blocks). */
  gradModules: string[];
  /** Six modules traced (MLP input and output projections of the last three blocks). */
  traceModules: string[];
}

function lastLayers(n: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => n - count + i);
}

/** GPT-2 small: 12 layers, d=768, 12 heads, vocab 50257. */
export const GPT2_SMALL: PerfShape = (() => {
  const layers = lastLayers(12, 3);
  return {
    name: 'gpt2',
    architecture: 'gpt2',
    config: {
      n_layer: 12, n_embd: 768, n_head: 12, vocab_size: 50257, n_positions: 1024, initializer_range: 0.02,
      bos_token_id: 50256, eos_token_id: 50256,
    },
    layers: 12,
    hidden: 768,
    intermediate: 3072,
    vocab: 50257,
    gradModules: layers.map((i) => `h.${i}.mlp.c_proj`),
    traceModules: layers.flatMap((i) => [`h.${i}.mlp.c_fc`, `h.${i}.mlp.c_proj`]),
  };
})();

/** Llama-shaped: 8 layers, d=1024, 16 query / 4 key-value heads, SwiGLU 2816, vocab 32000. */
export const LLAMA_SMALL: PerfShape = (() => {
  const layers = lastLayers(8, 3);
  return {
    name: 'llama',
    architecture: 'llama',
    config: {
      num_hidden_layers: 8, hidden_size: 1024, num_attention_heads: 16, num_key_value_heads: 4, head_dim: 64,
      intermediate_size: 2816, vocab_size: 32000, max_position_embeddings: 2048, initializer_range: 0.02,
      tie_word_embeddings: false,
    },
    layers: 8,
    hidden: 1024,
    intermediate: 2816,
    vocab: 32000,
    gradModules: layers.map((i) => `model.layers.${i}.mlp.down_proj`),
    traceModules: layers.flatMap((i) => [`model.layers.${i}.mlp.up_proj`, `model.layers.${i}.mlp.down_proj`]),
  };
})();

export const PERF_SHAPES: Record<string, PerfShape> = { gpt2: GPT2_SMALL, llama: LLAMA_SMALL };

/** One model shape of the edit workloads (issue 18). */
export interface EditShape {
  name: string;
  architecture: Architecture;
  config: Record<string, unknown>;
  /** Parameters of the model (embeddings counted once when tied). */
  params: number;
  /** The HiEdit editor's candidate modules. */
  editModules: string[];
  /** What the shape stands for, and where it differs from the model it is named after. */
  note: string;
}

function llamaParams(c: { layers: number; hidden: number; heads: number; kvHeads: number; headDim: number; ffn: number; vocab: number; tied: boolean }): number {
  const attn = c.hidden * c.heads * c.headDim * 2 + c.hidden * c.kvHeads * c.headDim * 2;
  const layer = attn + 3 * c.hidden * c.ffn + 2 * c.hidden;
  return c.layers * layer + c.vocab * c.hidden * (c.tied ? 1 : 2) + c.hidden;
}

/** GPT-2 small (124M) with the MLP output projections of blocks 2-11 (10 modules) as candidates. */
export const GPT2_EDIT: EditShape = {
  name: 'gpt2-edit',
  architecture: 'gpt2',
  config: GPT2_SMALL.config,
  params: 124_439_808,
  editModules: Array.from({ length: 10 }, (_, i) => `h.${i + 2}.mlp.c_proj`),
  note: 'GPT-2 small, 124M',
};

/**
 * Llama 3.2 1B's geometry (hidden 2048, 32 query / 8 key-value heads of 64, SwiGLU 8192, vocabulary 128256, tied
 * embeddings) with 8 of its 16 layers: 0.75B parameters, 3.0 GB in F32. All 16 layers (1.24B, 4.94 GB in F32) do not
 * fit the wasm backend's heap, whose maximum is 4 GiB - 64 KiB (tfjs-backend-wasm 4.22, 32-bit addresses). The
 * candidates are the attention output projections (2048x2048) of the 8 layers: with the MLP down projections
 * (8192x2048) as candidates the edit workload and the meta-training step ran out of that heap on top of the 3.0 GB of
 * weights, because the shifts and the gradient pass hold dense (dIn, dOut) copies per candidate (docs/performance.md,
 * "Cost of one edit at scale").
 */
export const LLAMA1B_EDIT: EditShape = (() => {
  const layers = 8;
  return {
    name: 'llama1b-edit',
    architecture: 'llama' as const,
    config: {
      num_hidden_layers: layers, hidden_size: 2048, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64,
      intermediate_size: 8192, vocab_size: 128256, max_position_embeddings: 2048, initializer_range: 0.02,
      tie_word_embeddings: true, rope_theta: 500000,
    },
    params: llamaParams({ layers, hidden: 2048, heads: 32, kvHeads: 8, headDim: 64, ffn: 8192, vocab: 128256, tied: true }),
    editModules: Array.from({ length: layers }, (_, i) => `model.layers.${i}.self_attn.o_proj`),
    note: 'Llama-3.2-1B geometry with 8 of its 16 layers (the full model does not fit the 4 GiB wasm heap); candidates o_proj (down_proj ones run out of heap)',
  };
})();

/** A tiny Llama for the harness's own tests (never benchmarked). */
export const TINY_EDIT: EditShape = {
  name: 'tiny-edit',
  architecture: 'llama',
  config: { num_hidden_layers: 8, hidden_size: 32, intermediate_size: 64, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, vocab_size: 96 },
  params: llamaParams({ layers: 8, hidden: 32, heads: 4, kvHeads: 2, headDim: 8, ffn: 64, vocab: 96, tied: false }),
  editModules: Array.from({ length: 8 }, (_, i) => `model.layers.${i}.mlp.down_proj`),
  note: 'test shape',
};

export const EDIT_SHAPES: Record<string, EditShape> = { 'gpt2-edit': GPT2_EDIT, 'llama1b-edit': LLAMA1B_EDIT, 'tiny-edit': TINY_EDIT };

/** Default cache of generated checkpoints (they are large: ~0.5 GB each in F32). */
export function defaultCheckpointCache(): string {
  return process.env.HIEDIT_BENCH_CACHE ?? path.join(os.tmpdir(), 'hiedit-bench-checkpoints');
}

/** What a cached checkpoint is made from. */
export type CheckpointShape = { name: string; architecture: Architecture; config: Record<string, unknown> };

/** Where the cached checkpoint of `shape` lives (whether or not it exists yet). */
export function checkpointDir(shape: CheckpointShape, seed: number, cacheDir = defaultCheckpointCache(), dtype: 'F32' | 'BF16' = 'F32'): string {
  // F32 keeps the key it always had, so existing caches stay valid.
  const key = createHash('sha256').update(JSON.stringify({ a: shape.architecture, c: shape.config, seed, ...(dtype === 'F32' ? {} : { dtype }) })).digest('hex').slice(0, 12);
  return path.join(cacheDir, `${shape.name}-${key}`);
}

/**
 * Directory of the seeded random checkpoint for `shape` (in `dtype`), creating it on first use. The directory name
 * carries a hash of the config and seed, so a changed shape never reuses a stale file; creation writes
 * into a temporary directory renamed into place, so an interrupted run leaves no half checkpoint.
 */
export async function ensureCheckpoint(shape: CheckpointShape, seed: number, cacheDir = defaultCheckpointCache(),
  dtype: 'F32' | 'BF16' = 'F32'): Promise<{ dir: string; created: boolean; ms: number }> {
  const dir = checkpointDir(shape, seed, cacheDir, dtype);
  if (fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'))) {
    return { dir, created: false, ms: 0 };
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const t0 = performance.now();
  await createTinyCheckpoint(tmp, { architecture: shape.architecture, seed, config: shape.config, dtype });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return { dir, created: true, ms: performance.now() - t0 };
}
