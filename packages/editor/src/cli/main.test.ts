import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, undocumentedFlags, type CliIO, type DefinedCommand } from '@hiedit/tensor-core';
import { createTinyCheckpoint, loadModel } from '@hiedit/llm-loader';
import { hieditCommands, main } from './main';
import { ensureBuilt } from '../../test/built';

const ROOT = path.resolve(__dirname, '../../../..');
const LOADER_COMMANDS = ['info', 'forward', 'grad', 'tokenize', 'generate', 'doctor'];

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (s) => void (out += s), err: (s) => void (err += s) };
  return { code: await main(argv, io), out, err };
}

let tmp: string;
let gpt2Dir: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-main-'));
  gpt2Dir = path.join(tmp, 'gpt2');
  await initBackend(); // the factory runs tfjs ops
  await createTinyCheckpoint(gpt2Dir, { architecture: 'gpt2', seed: 3 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('hiedit main()', () => {
  it('lists the loader commands (and the editor ones) in --help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const name of hieditCommands().map((c) => c.name)) expect(r.out).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    expect(hieditCommands().map((c) => c.name).slice(0, 6)).toEqual(LOADER_COMMANDS);
  });

  it('parses every command with the one flag framework, and each has --help documenting all its flags', async () => {
    for (const cmd of hieditCommands()) {
      expect({ name: cmd.name, defined: 'flags' in cmd }).toEqual({ name: cmd.name, defined: true });
      expect({ name: cmd.name, undocumented: undocumentedFlags(cmd as DefinedCommand) }).toEqual({ name: cmd.name, undocumented: [] });
      const h = await run([cmd.name, '--help']);
      expect(h.code).toBe(0);
      expect(h.out).toBe(`${cmd.usage}\n`);
      expect(h.out).toMatch(new RegExp(`^Usage: hiedit ${cmd.name} `));
      const bad = await run([cmd.name, '--no-such-flag']);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(new RegExp(`^hiedit ${cmd.name}: unknown flag --no-such-flag`));
    }
  });

  it('prints the version, and exits 2 without a command or with an unknown one', async () => {
    const v = await run(['--version']);
    expect([v.code, v.out]).toEqual([0, `hiedit ${require('../../package.json').version}\n`]);
    expect((await run([])).code).toBe(2);
    const u = await run(['frobnicate']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown command "frobnicate"/);
  });

  it('runs a loader command', async () => {
    const r = await run(['forward', '--model', gpt2Dir, '--ids', '4,5,6', '--json']);
    expect(r.code).toBe(0);
    const model = await loadModel(gpt2Dir);
    expect(JSON.parse(r.out).loss).toBe(model.loss([4, 5, 6]));
    model.dispose();
  });
});

describe('the built bin/hiedit.js', () => {
  it('runs as a separate process with the documented exit codes', () => {
    ensureBuilt();
    const bin = path.join(ROOT, 'packages/editor/bin/hiedit.js');
    const help = spawnSync(process.execPath, [bin, '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const name of LOADER_COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));

    const info = spawnSync(process.execPath, [bin, 'info', '--model', gpt2Dir, '--json'], { cwd: ROOT, encoding: 'utf8' });
    expect(info.status).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ architecture: 'gpt2', layers: 2, dtype: 'F32' });

    const usage = spawnSync(process.execPath, [bin, 'forward', '--model', gpt2Dir], { cwd: ROOT, encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^hiedit forward: --ids is required/);

    const cpu = spawnSync(process.execPath, [bin, 'doctor', '--backend', 'cpu', '--json'], { cwd: ROOT, encoding: 'utf8' });
    expect(cpu.status).toBe(0);
    expect(JSON.parse(cpu.stdout).active).toBe('cpu');
    const env = { ...process.env, HIEDIT_BACKEND: 'cpu' };
    const viaEnv = spawnSync(process.execPath, [bin, 'info', '--model', gpt2Dir, '--json'], { cwd: ROOT, encoding: 'utf8', env });
    expect(JSON.parse(viaEnv.stdout).backend).toBe('cpu');

    const fail = spawnSync(process.execPath, [bin, 'info', '--model', path.join(tmp, 'missing')], { cwd: ROOT, encoding: 'utf8' });
    expect(fail.status).toBe(1);
    expect(fail.stderr).toMatch(/^hiedit info: .*missing.*config\.json/);
  }, 300000);
});
