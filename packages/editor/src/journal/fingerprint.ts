/**
 * What besides the weights makes a base model: its config (activation, norm epsilon, ... change what the weights
 * compute) and its tokenizer (changes what a prompt is). Journals and packs record both, so the same weights under
 * another config.json or tokenizer are refused like other weights.
 */
import * as fs from 'fs';
import * as path from 'path';
import { sha256 } from './format';

/** Hashes of a base model's config and tokenizer; absent when the model has no such part. */
export interface BaseFingerprint {
  readonly configHash?: string;
  readonly tokenizerHash?: string;
}

/** JSON with object keys sorted at every level, so equal configs hash equally whatever their key order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * SHA-256 of a parsed model config without its `raw` copy of config.json: the parsed fields are what the forward
 * pass uses, so a reformatted config.json or a field the loader ignores does not count as another model.
 */
export function configHash(config: object): string {
  const { raw: _raw, ...parsed } = config as Record<string, unknown>;
  return sha256(Buffer.from(canonicalJson(parsed), 'utf8')).toString('hex');
}

/** SHA-256 over the tokenizer's files (name and bytes of each, in the tokenizer's order). */
export function tokenizerHash(files: readonly string[]): string {
  const parts: Buffer[] = [];
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    parts.push(Buffer.from(`${path.basename(f)}\0${bytes.length}\0`, 'utf8'), bytes);
  }
  return sha256(Buffer.concat(parts)).toString('hex');
}

/** The fingerprint of any model object that carries a `config` and a `tokenizer` with `files` (llm-loader's CausalLM). */
export function baseFingerprint(model: object): BaseFingerprint {
  const m = model as { config?: unknown; tokenizer?: { files?: unknown } };
  const files = m.tokenizer?.files;
  return {
    ...(m.config !== null && typeof m.config === 'object' ? { configHash: configHash(m.config) } : {}),
    ...(Array.isArray(files) && files.length > 0 ? { tokenizerHash: tokenizerHash(files as string[]) } : {}),
  };
}
