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

/** Default cache of generated checkpoints (they are large: ~0.5 GB each in F32). */
export function defaultCheckpointCache(): string {
  return process.env.HIEDIT_BENCH_CACHE ?? path.join(os.tmpdir(), 'hiedit-bench-checkpoints');
}

/**
 * Directory of the seeded random checkpoint for `shape`, creating it on first use. The directory name
 * carries a hash of the config and seed, so a changed shape never reuses a stale file; creation writes
 * into a temporary directory renamed into place, so an interrupted run leaves no half checkpoint.
 */
export async function ensureCheckpoint(shape: PerfShape, seed: number, cacheDir = defaultCheckpointCache()): Promise<{ dir: string; created: boolean; ms: number }> {
  const key = createHash('sha256').update(JSON.stringify({ a: shape.architecture, c: shape.config, seed })).digest('hex').slice(0, 12);
  const dir = path.join(cacheDir, `${shape.name}-${key}`);
  if (fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'))) {
    return { dir, created: false, ms: 0 };
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const t0 = performance.now();
  await createTinyCheckpoint(tmp, { architecture: shape.architecture, seed, config: shape.config, dtype: 'F32' });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return { dir, created: true, ms: performance.now() - t0 };
}
