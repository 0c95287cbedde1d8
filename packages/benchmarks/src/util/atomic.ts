/**
 * Atomic writes now live in tensor-core (one implementation for every package); these names stay for
 * the benchmarks modules that import them from here.
 */
import { writeDirAtomic } from '@hiedit/tensor-core';

export { tempSibling, writeFileAtomic, writeJsonAtomic } from '@hiedit/tensor-core';

/**
 * Builds a directory atomically: `fill` writes into a fresh temporary sibling, which is then renamed to
 * `dir`. If `dir` already exists (another process finished first) the temporary copy is discarded and
 * the existing directory is kept, unless `replace` is set, in which case the old one is swapped out.
 */
export async function buildDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void> | void, opts: { replace?: boolean } = {}): Promise<void> {
  await writeDirAtomic(dir, fill, opts);
}
