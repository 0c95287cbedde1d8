import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readJsonFile } from './json-file';

test('readJsonFile parses a file and names the file when it is missing or not JSON', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-json-'));
  try {
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(good, '{"a": [1, 2]}');
    expect(readJsonFile(good)).toEqual({ a: [1, 2] });
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"a": ');
    expect(() => readJsonFile(bad)).toThrow(`${bad}: invalid JSON (`);
    const none = path.join(dir, 'none.json');
    expect(() => readJsonFile(none)).toThrow(`${none}: cannot read (ENOENT`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
