import * as fs from 'fs';
import * as path from 'path';
import { writeDirAtomic, writeJsonAtomic } from '@hiedit/tensor-core';
import { loadDataset, loadFacts, type EditRequest, type Fact } from '../../datasets';
import type { World } from './generate';

/** File names inside a world directory. */
export const WORLD_FILES = {
  /** Generator version, options, entities, relations and every fact with its role. */
  world: 'world.json',
  /** Edit requests, CounterFact (EasyEdit) format with extension fields. */
  edits: 'edits.json',
  /** Held-out facts for the retention metric: [{prompt, answer, subject, relation}]. */
  retention: 'retention.json',
} as const;

/** Writes a world's three files into `dir`, atomically as a directory (replacing an older one). */
export async function writeWorld(world: World, dir: string): Promise<void> {
  await writeDirAtomic(
    dir,
    (tmp) => {
      writeJsonAtomic(path.join(tmp, WORLD_FILES.world), {
        version: world.version,
        options: world.options,
        entities: world.entities,
        relations: world.relations,
        facts: world.facts,
      });
      writeJsonAtomic(path.join(tmp, WORLD_FILES.edits), world.edits);
      writeJsonAtomic(path.join(tmp, WORLD_FILES.retention), world.retention);
    },
    { replace: true },
  );
}

/** The edit requests and retention facts of a written world, read back through the ordinary loaders. */
export function readWorldDir(dir: string): { requests: EditRequest[]; retention: Fact[] } {
  const edits = path.join(dir, WORLD_FILES.edits);
  if (!fs.existsSync(edits)) throw new Error(`readWorldDir: ${edits} not found (not a world directory?)`);
  return {
    requests: loadDataset(edits, { format: 'counterfact' }).requests,
    retention: loadFacts(path.join(dir, WORLD_FILES.retention)),
  };
}
