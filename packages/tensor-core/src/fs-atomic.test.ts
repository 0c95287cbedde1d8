import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tempSibling, writeDirAtomic, writeFileAtomic, writeFileAtomicWith, writeJsonAtomic } from './fs-atomic';

describe('atomic writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-atomic-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a file is created (with its parent) and replaced, leaving no temporary behind', () => {
    const f = path.join(dir, 'a', 'x.json');
    writeJsonAtomic(f, { a: 1 });
    expect(fs.readFileSync(f, 'utf8')).toBe('{\n  "a": 1\n}\n');
    writeJsonAtomic(f, { a: 2 }, 1);
    expect(fs.readFileSync(f, 'utf8')).toBe('{\n "a": 2\n}\n');
    writeFileAtomic(f, new Uint8Array([104, 105]));
    expect(fs.readFileSync(f, 'utf8')).toBe('hi');
    expect(fs.readdirSync(path.join(dir, 'a'))).toEqual(['x.json']);
  });

  test('a failed write keeps the old content and removes the temporary file', () => {
    const f = path.join(dir, 'x.bin');
    writeFileAtomic(f, 'old');
    expect(() =>
      writeFileAtomicWith(f, (fd) => {
        fs.writeSync(fd, 'half');
        throw new Error('disk full');
      }),
    ).toThrow(`cannot write ${f}: disk full`);
    expect(fs.readFileSync(f, 'utf8')).toBe('old');
    expect(fs.readdirSync(dir)).toEqual(['x.bin']);
  });

  test('an exclusive write never replaces a file, even one created while it writes (code EEXIST)', () => {
    const f = path.join(dir, 'j.bin');
    // Another process creates the file after this one checked and before it finished writing.
    const racing = (): unknown => {
      try {
        writeFileAtomicWith(f, (fd) => {
          fs.writeFileSync(f, 'first');
          fs.writeSync(fd, 'second');
        }, { exclusive: true });
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const err = racing() as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('EEXIST');
    expect(err.message).toMatch(`cannot write ${f}: `);
    expect(fs.readFileSync(f, 'utf8')).toBe('first');
    expect(fs.readdirSync(dir)).toEqual(['j.bin']);
    writeFileAtomicWith(path.join(dir, 'new.bin'), (fd) => { fs.writeSync(fd, 'made'); }, { exclusive: true });
    expect(fs.readFileSync(path.join(dir, 'new.bin'), 'utf8')).toBe('made');
    expect(fs.readdirSync(dir).sort()).toEqual(['j.bin', 'new.bin']);
  });

  test('temporary siblings are hidden, in the same directory and unique', () => {
    const a = tempSibling(path.join(dir, 'f'));
    const b = tempSibling(path.join(dir, 'f'));
    expect(path.dirname(a)).toBe(dir);
    expect(path.basename(a).startsWith('.f.tmp-')).toBe(true);
    expect(a).not.toBe(b);
  });

  test('a directory whose filling fails leaves nothing behind', async () => {
    const target = path.join(dir, 'entry');
    await expect(
      writeDirAtomic(target, (tmp) => {
        fs.writeFileSync(path.join(tmp, 'half'), 'x');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('an existing directory is kept unless replacing is asked for', async () => {
    const target = path.join(dir, 'entry');
    expect(await writeDirAtomic(target, (tmp) => fs.writeFileSync(path.join(tmp, 'v'), '1'))).toBe(true);
    expect(await writeDirAtomic(target, (tmp) => fs.writeFileSync(path.join(tmp, 'v'), '2'))).toBe(false);
    expect(fs.readFileSync(path.join(target, 'v'), 'utf8')).toBe('1');
    expect(await writeDirAtomic(target, async (tmp) => fs.writeFileSync(path.join(tmp, 'v'), '3'), { replace: true })).toBe(true);
    expect(fs.readFileSync(path.join(target, 'v'), 'utf8')).toBe('3');
    expect(fs.readdirSync(dir)).toEqual(['entry']);
  });
});
