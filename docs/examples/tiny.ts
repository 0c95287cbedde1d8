/**
 * Shared by the examples: a seeded tiny checkpoint in a temporary directory, so every example runs
 * without downloads. Pass a real model directory as the first argument to use that instead.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '@hiedit/tensor-core';
import { createTinyCheckpoint } from '@hiedit/llm-loader';

/** Creates a tiny random Llama (or GPT-2) checkpoint and returns its directory. */
export async function tinyCheckpoint(architecture: 'llama' | 'gpt2' = 'llama', seed = 7): Promise<string> {
  await initBackend(); // the factory computes with tfjs: pick the backend first
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-example-')), architecture);
  await createTinyCheckpoint(dir, { architecture, seed });
  return dir;
}

/** Deletes a directory made by tinyCheckpoint (and its temp parent). */
export function cleanup(dir: string): void {
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
}
