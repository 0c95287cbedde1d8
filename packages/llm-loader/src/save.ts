/**
 * Writing a model as a Hugging Face directory, atomically: everything is assembled in a temp sibling
 * directory, then swapped into place, so a crash never leaves a half-written model under `dir`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeDirAtomic, writeSafetensors } from '@hiedit/tensor-core';

/** dtypes a model can be saved in. */
export type SaveDType = 'F32' | 'F16' | 'BF16';

const TORCH_DTYPE: Record<SaveDType, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Files besides the weights that make a model directory usable by other tools, copied when present. */
const COMPANION_FILES = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt',
  'tokenizer.model', 'added_tokens.json', 'generation_config.json',
];

/** What saveModelDirectory writes. */
export interface SaveJob {
  config: Record<string, unknown>;
  dtype: SaveDType;
  /** Produces the tensors (checkpoint names and layout); called once, after the target is validated. */
  tensors: () => { name: string; shape: number[]; data: Float32Array }[];
  tokenizerFiles: readonly string[];
  sourceDir?: string;
}

function isModelDir(dir: string, entries: string[]): boolean {
  return entries.includes('config.json') && (entries.includes('model.safetensors') || entries.includes('model.safetensors.index.json'));
}

/** Writes `job` as a Hugging Face model directory at `dir` (see module doc). */
export async function saveModelDirectory(dir: string, job: SaveJob): Promise<void> {
  const target = path.resolve(dir);
  let existing: string[] | undefined;
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory()) throw new Error(`save ${target}: exists and is not a directory`);
    existing = fs.readdirSync(target);
    if (existing.length > 0 && !isModelDir(target, existing)) {
      throw new Error(`save ${target}: directory is not empty and is not a model directory (no config.json + model.safetensors); refusing to overwrite it`);
    }
  }
  // The old model (if any) stays complete under a side name until the new one is in place.
  await writeDirAtomic(
    target,
    (tmp) => {
      writeSafetensors(path.join(tmp, 'model.safetensors'), job.tensors(), { dtype: job.dtype, metadata: { format: 'pt' } });
      const config: Record<string, unknown> = { ...job.config, torch_dtype: TORCH_DTYPE[job.dtype] };
      if ('dtype' in job.config) config.dtype = TORCH_DTYPE[job.dtype];
      fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
      const copied = new Set<string>();
      job.tokenizerFiles.forEach((f, i) => {
        // The first file is the tokenizer.json itself, whatever it was called where it was loaded from.
        const name = i === 0 ? 'tokenizer.json' : path.basename(f);
        if (!fs.existsSync(f)) throw new Error(`save ${target}: tokenizer file ${f} no longer exists`);
        fs.copyFileSync(f, path.join(tmp, name));
        copied.add(name);
      });
      if (job.sourceDir) {
        for (const name of COMPANION_FILES) {
          const f = path.join(job.sourceDir, name);
          if (!copied.has(name) && fs.existsSync(f)) fs.copyFileSync(f, path.join(tmp, name));
        }
      }
    },
    { replace: true },
  );
}
