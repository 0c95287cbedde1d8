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

describe('parseFlags: integer and number kinds', () => {
  const spec = { n: 'int', repeat: { kind: 'int', min: 1 }, persons: { kind: 'int', min: 20, max: 5000 }, secs: 'number' } as const;

  it('reads decimal integers as numbers', () => {
    const { flags } = parseFlags(['--n', '40', '--repeat=3', '--persons', ' 200 ', '--secs', '1.5e2'], spec);
    expect(flags).toEqual({ n: 40, repeat: 3, persons: 200, secs: 150 });
    expect(typeof flags.n).toBe('number');
    expect(parseFlags(['--n', '0'], spec).flags.n).toBe(0);
  });

  it.each([
    [['--n', '0x10'], /^--n must be a non-negative integer, got "0x10"$/],
    [['--n', '1e3'], /^--n must be a non-negative integer, got "1e3"$/],
    [['--n', '-1'], /^--n must be a non-negative integer, got -1$/],
    [['--n', '1.5'], /^--n must be a non-negative integer, got "1\.5"$/],
    [['--n', ''], /^--n must be a non-negative integer, got ""$/],
    [['--n', '16 tokens'], /^--n must be a non-negative integer, got "16 tokens"$/],
    [['--n', '99999999999999999999'], /^--n must be a non-negative integer, got 99999999999999999999$/],
    [['--repeat', '0'], /^--repeat must be an integer >= 1, got 0$/],
    [['--persons', '10'], /^--persons must be an integer in 20\.\.5000, got 10$/],
    [['--persons', '5001'], /^--persons must be an integer in 20\.\.5000, got 5001$/],
    [['--secs', '0x10'], /^--secs expects a number, got "0x10"$/],
    [['--secs', ' '], /^--secs expects a number, got " "$/],
    [['--secs', 'Infinity'], /^--secs expects a number, got "Infinity"$/],
  ])('refuses %j naming the flag', (argv, message) => {
    expect(() => parseFlags(argv as string[], spec)).toThrow(CliUsageError);
    expect(() => parseFlags(argv as string[], spec)).toThrow(message);
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
