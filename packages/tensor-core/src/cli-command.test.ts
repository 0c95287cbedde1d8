import { CliIO, runCli } from './cli';
import { defineCommand, undocumentedFlags } from './cli-command';

function capture(): CliIO & { outText: string; errText: string } {
  const io = { outText: '', errText: '', out: (s: string) => void (io.outText += s), err: (s: string) => void (io.errText += s) };
  return io;
}

const copy = defineCommand({
  program: 'prog',
  name: 'copy',
  summary: 'Copy files.',
  synopsis: 'copy FILE... --to DIR [--times N] [--no-verify]',
  description: 'Copies each FILE to DIR.',
  flagHelp: ['--to DIR     destination', '--times N    copies of each file', '--no-verify  skip the check'],
  flags: { to: 'string', times: { kind: 'int', min: 1 }, verify: 'boolean' },
  positional: true,
  action: async (flags, io, files) => {
    io.out(JSON.stringify({ files, to: flags.to, times: flags.times ?? 1, verify: flags.verify ?? true }));
    return 0;
  },
});

const show = defineCommand({
  program: 'prog',
  name: 'show',
  summary: 'Show the settings.',
  synopsis: 'show [--json]',
  flagHelp: ['--json  as JSON'],
  flags: { json: 'boolean', secret: 'string' },
  action: async (flags, io) => {
    io.out(flags.json ? '{}' : 'settings');
    return 0;
  },
});

describe('defineCommand', () => {
  it('lays out the usage: synopsis, description or summary, flags', () => {
    expect(copy.usage).toBe(
      'Usage: prog copy FILE... --to DIR [--times N] [--no-verify]\n\nCopies each FILE to DIR.\n\nFlags:\n' +
        '  --to DIR     destination\n  --times N    copies of each file\n  --no-verify  skip the check',
    );
    expect(show.usage.split('\n')[2]).toBe('Show the settings.');
  });

  it('parses flags and positionals; switches take =false', async () => {
    const io = capture();
    expect(await runCli('prog', [copy, show], ['copy', 'a', '--to', 'd', 'b', '--times=2', '--verify=false'], io)).toBe(0);
    expect(JSON.parse(io.outText)).toEqual({ files: ['a', 'b'], to: 'd', times: 2, verify: false });
    const off = capture();
    expect(await runCli('prog', [copy, show], ['show', '--json=false'], off)).toBe(0);
    expect(off.outText).toBe('settings');
  });

  it('refuses positionals it does not take and bad values, with exit 2 and the usage', async () => {
    const extra = capture();
    expect(await runCli('prog', [copy, show], ['show', 'x'], extra)).toBe(2);
    expect(extra.errText).toBe(`prog show: unexpected argument "x"\n\n${show.usage}\n`);
    const bad = capture();
    expect(await runCli('prog', [copy, show], ['copy', 'a', '--times', '0x2'], bad)).toBe(2);
    expect(bad.errText).toMatch(/^prog copy: --times must be an integer >= 1, got "0x2"\n\nUsage: prog copy/);
  });

  it('answers --help when run directly, without parsing the other flags', async () => {
    const io = capture();
    expect(await copy.run(['--times', 'x', '-h'], io)).toBe(0);
    expect(io.outText).toBe(`${copy.usage}\n`);
    const file = capture();
    expect(await copy.run(['--to', 'd', '--', '--help'], file)).toBe(0);
    expect(JSON.parse(file.outText).files).toEqual(['--help']); // after --, --help is a file name
  });

  it('finds flags the usage does not mention', () => {
    expect(undocumentedFlags(copy)).toEqual([]);
    expect(undocumentedFlags(show)).toEqual(['secret']);
  });
});
