import { CliCommand, CliIO, CliUsageError, parseFlags, requireFlag, runCli } from './cli';

function capture(): CliIO & { outText: string; errText: string } {
  const io = {
    outText: '',
    errText: '',
    out(s: string) {
      io.outText += s;
    },
    err(s: string) {
      io.errText += s;
    },
  };
  return io;
}

describe('parseFlags', () => {
  const spec = { model: 'string', json: 'boolean', repeat: 'number', ids: 'int-list' } as const;

  it('parses every kind, both syntaxes, positionals and --', () => {
    const { flags, positional } = parseFlags(
      ['pos1', '--model', 'dir', '--json', '--repeat=3', '--ids', '1,-2, 3', 'pos2', '--', '--model'],
      spec,
    );
    expect(flags).toEqual({ model: 'dir', json: true, repeat: 3, ids: [1, -2, 3] });
    expect(positional).toEqual(['pos1', 'pos2', '--model']);
    expect(parseFlags(['--no-json'], spec).flags.json).toBe(false);
    expect(parseFlags(['--json=false'], spec).flags.json).toBe(false);
    expect(parseFlags(['--repeat', '-3'], spec).flags.repeat).toBe(-3);
    expect(parseFlags([], spec).flags.model).toBeUndefined();
  });

  it('reports unknown flags, missing and bad values clearly', () => {
    expect(() => parseFlags(['--modle', 'x'], spec)).toThrow(/unknown flag --modle \(known: --model, --json, --repeat, --ids\)/);
    expect(() => parseFlags(['--model'], spec)).toThrow(/--model needs a value/);
    expect(() => parseFlags(['--model', '--json'], spec)).toThrow(/--model needs a value/);
    expect(() => parseFlags(['--repeat', 'abc'], spec)).toThrow(/--repeat expects a number, got "abc"/);
    expect(() => parseFlags(['--ids', '1,x'], spec)).toThrow(/--ids expects comma-separated integers/);
    expect(() => parseFlags(['--ids', '1.5'], spec)).toThrow(/--ids expects comma-separated integers/);
    expect(() => parseFlags(['--json=maybe'], spec)).toThrow(/--json is a switch/);
    expect(() => parseFlags(['--model', 'a', '--model', 'b'], spec)).toThrow(/--model given more than once/);
    expect(() => parseFlags(['--x'], spec)).toThrow(CliUsageError);
    expect(() => requireFlag(undefined, 'model')).toThrow(/--model is required/);
    expect(requireFlag('d', 'model')).toBe('d');
  });
});

describe('runCli', () => {
  const calls: string[][] = [];
  const commands: CliCommand[] = [
    {
      name: 'echo',
      summary: 'Print the ids',
      usage: 'Usage: prog echo --ids 1,2,3',
      async run(argv, io) {
        calls.push(argv);
        const { flags } = parseFlags(argv, { ids: 'int-list' });
        io.out(JSON.stringify({ ids: requireFlag(flags.ids, 'ids') }));
        return 0;
      },
    },
    {
      name: 'boom',
      summary: 'Fails',
      usage: 'Usage: prog boom',
      async run() {
        throw new Error('model directory /x has no config.json');
      },
    },
  ];

  it('lists commands on --help and on no arguments', async () => {
    const io = capture();
    expect(await runCli('prog', commands, ['--help'], io)).toBe(0);
    expect(io.outText).toMatch(/Usage: prog <command>/);
    expect(io.outText).toMatch(/echo +Print the ids/);
    expect(io.outText).toMatch(/boom +Fails/);
    const io2 = capture();
    expect(await runCli('prog', commands, [], io2)).toBe(2);
    expect(io2.errText).toMatch(/Commands:/);
  });

  it('shows a command usage via help CMD and CMD --help without running it', async () => {
    const io = capture();
    expect(await runCli('prog', commands, ['help', 'echo'], io)).toBe(0);
    expect(io.outText).toContain('Usage: prog echo --ids 1,2,3');
    const before = calls.length;
    const io2 = capture();
    expect(await runCli('prog', commands, ['echo', '--help'], io2)).toBe(0);
    expect(io2.outText).toContain('Usage: prog echo');
    expect(calls.length).toBe(before);
  });

  it('runs a command and maps errors to exit codes', async () => {
    const io = capture();
    expect(await runCli('prog', commands, ['echo', '--ids', '4,5'], io)).toBe(0);
    expect(JSON.parse(io.outText)).toEqual({ ids: [4, 5] });

    const bad = capture();
    expect(await runCli('prog', commands, ['echo', '--idz', '4'], bad)).toBe(2);
    expect(bad.errText).toMatch(/prog echo: unknown flag --idz/);
    expect(bad.errText).toContain('Usage: prog echo');

    const missing = capture();
    expect(await runCli('prog', commands, ['echo'], missing)).toBe(2);
    expect(missing.errText).toMatch(/--ids is required/);

    const fail = capture();
    expect(await runCli('prog', commands, ['boom'], fail)).toBe(1);
    expect(fail.errText).toMatch(/prog boom: model directory \/x has no config.json/);
  });

  it('refuses unknown commands with exit 2', async () => {
    const io = capture();
    expect(await runCli('prog', commands, ['frobnicate'], io)).toBe(2);
    expect(io.errText).toMatch(/prog: unknown command "frobnicate"/);
    const io2 = capture();
    expect(await runCli('prog', commands, ['help', 'nope'], io2)).toBe(2);
    expect(io2.errText).toMatch(/unknown command "nope"/);
  });
});
