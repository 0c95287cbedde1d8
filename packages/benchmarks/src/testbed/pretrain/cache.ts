/**
 * Where pretrained models are cached: HIEDIT_CACHE_DIR, else `.hiedit-cache/` at the repository root
 * (the nearest ancestor with nx.json), else in the current directory. Entries are keyed by a hash of
 * everything that determines them and written atomically, so concurrent runs never see half an entry.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** The nearest ancestor of `start` holding nx.json (the monorepo root), or undefined. */
export function findRepoRoot(start = __dirname): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'nx.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The cache directory to use (not created). */
export function defaultCacheDir(): string {
  const env = process.env.HIEDIT_CACHE_DIR;
  if (env && env.trim() !== '') return path.resolve(env);
  return path.join(findRepoRoot() ?? process.cwd(), '.hiedit-cache');
}

/** JSON with object keys sorted, so equal settings always hash equally. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

/** sha256 (hex) of the canonical JSON of `v`. */
export function cacheKey(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex');
}
