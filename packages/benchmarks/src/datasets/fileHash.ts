import { createHash } from 'crypto';
import * as fs from 'fs';

/** sha256 (hex) of a file's bytes: the cache key of models pretrained on it. */
export function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
