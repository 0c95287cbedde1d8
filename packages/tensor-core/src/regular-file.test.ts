import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCheckpointWeights } from './safetensors';
import { readJsonFile } from './json-file';
import { openRegularFile } from './regular-file';

describe('input files that are not regular files', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-regular-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Opening a FIFO for reading blocks until a writer comes: without the check these calls never return.
  test('a FIFO named model.safetensors, config.json or an index is refused at once', () => {
    execFileSync('mkfifo', [path.join(dir, 'model.safetensors'), path.join(dir, 'config.json')]);
    expect(() => openCheckpointWeights(dir)).toThrow(/model\.safetensors: cannot open \(not a regular file \(a FIFO\)\)/);
    expect(() => readJsonFile(path.join(dir, 'config.json'))).toThrow(/config\.json: cannot read \(.*not a regular file \(a FIFO\)\)/);
    const sharded = path.join(dir, 'sharded');
    fs.mkdirSync(sharded);
    execFileSync('mkfifo', [path.join(sharded, 'model.safetensors.index.json')]);
    expect(() => openCheckpointWeights(sharded)).toThrow(/not a regular file \(a FIFO\)/);
    expect(() => openRegularFile(dir)).toThrow(/not a regular file \(a directory\)/);
    const fd = openRegularFile(path.join(__dirname, 'regular-file.ts'));
    fs.closeSync(fd);
  });
});
