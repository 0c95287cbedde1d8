import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildDirAtomic, writeJsonAtomic } from './atomic';

describe('atomic writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-atomic-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a file through a temporary sibling', () => {
    writeJsonAtomic(path.join(dir, 'a', 'x.json'), { a: 1 });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'a', 'x.json'), 'utf8'))).toEqual({ a: 1 });
    expect(fs.readdirSync(path.join(dir, 'a'))).toEqual(['x.json']);
  });

  it('leaves nothing behind when filling the directory fails', async () => {
    const target = path.join(dir, 'entry');
    await expect(
      buildDirAtomic(target, (tmp) => {
        fs.writeFileSync(path.join(tmp, 'half'), 'x');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('keeps an existing directory unless asked to replace it', async () => {
    const target = path.join(dir, 'entry');
    await buildDirAtomic(target, (tmp) => fs.writeFileSync(path.join(tmp, 'v'), '1'));
    await buildDirAtomic(target, (tmp) => fs.writeFileSync(path.join(tmp, 'v'), '2'));
    expect(fs.readFileSync(path.join(target, 'v'), 'utf8')).toBe('1');
    await buildDirAtomic(target, (tmp) => fs.writeFileSync(path.join(tmp, 'v'), '3'), { replace: true });
    expect(fs.readFileSync(path.join(target, 'v'), 'utf8')).toBe('3');
    expect(fs.readdirSync(dir)).toEqual(['entry']);
  });
});
