/**
 * Writing a model as a Hugging Face directory, atomically: everything is assembled in a temp sibling
 * directory, then swapped into place, so a crash never leaves a half-written model under `dir`.
 * Saving over an existing model directory replaces its weights, config and tokenizer files and
 * carries everything else over unchanged (model card, licence, `original/`, ...).
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

/** Old weights in any format would contradict the new model.safetensors, so they are never carried over. */
const WEIGHT_FILE = /^(model|pytorch_model|tf_model|flax_model)(-\d+-of-\d+)?\.(safetensors|bin|h5|msgpack)(\.index\.json)?$/;

/** The shard files an existing model.safetensors.index.json names (whatever they are called). */
function indexedShards(dir: string): Set<string> {
  const out = new Set<string>();
  const file = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(file)) return out;
  try {
    const map = (JSON.parse(fs.readFileSync(file, 'utf8')) as { weight_map?: Record<string, unknown> }).weight_map ?? {};
    for (const v of Object.values(map)) if (typeof v === 'string') out.add(path.basename(v));
  } catch {
    // An unreadable index names no shards; the pattern above still catches the usual shard names.
  }
  return out;
}

/**
 * Recreates `src` at `dst`: files are hard-linked where the filesystem allows (the old directory is
 * deleted right after the swap, so a link costs no space and large folders such as original/ are not
 * copied), copied otherwise; symbolic links stay links.
 */
function carryOver(src: string, dst: string): void {
  const st = fs.lstatSync(src);
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dst);
  } else if (st.isDirectory()) {
    fs.mkdirSync(dst);
    for (const name of fs.readdirSync(src)) carryOver(path.join(src, name), path.join(dst, name));
  } else {
    try {
      fs.linkSync(src, dst);
    } catch {
      fs.copyFileSync(src, dst);
    }
  }
}

function isModelDir(dir: string, entries: string[]): boolean {
  return entries.includes('config.json') && (entries.includes('model.safetensors') || entries.includes('model.safetensors.index.json'));
}

/**
 * Writes `job` as a Hugging Face model directory at `dir`. When `dir` is already a model directory,
 * its weight files (model.safetensors and its shards, pytorch_model.bin and the like), config.json and
 * known tokenizer files are replaced by the saved model's (tokenizer files the saved model does not
 * bring are dropped: they belonged to the old model); every other file and folder is carried over
 * unchanged. A non-empty directory that is not a model directory is refused.
 */
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
          if (!copied.has(name) && fs.existsSync(f)) {
            fs.copyFileSync(f, path.join(tmp, name));
            copied.add(name);
          }
        }
      }
      if (existing) {
        const shards = indexedShards(target);
        for (const name of existing) {
          if (name === 'config.json' || COMPANION_FILES.includes(name) || WEIGHT_FILE.test(name) || shards.has(name)) continue;
          if (fs.existsSync(path.join(tmp, name))) continue;
          carryOver(path.join(target, name), path.join(tmp, name));
        }
      }
    },
    { replace: true },
  );
}
