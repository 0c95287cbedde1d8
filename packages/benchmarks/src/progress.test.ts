import { formatDuration, Progress } from './progress';

function sink(tty = false) {
  const lines: string[] = [];
  return { sink: { write: (s: string) => lines.push(s), isTTY: tty }, lines };
}

describe('progress bars', () => {
  test('show count, percentage and an ETA from the mean pace', () => {
    let t = 0;
    const s = sink();
    const p = new Progress('edit', 4, { sink: s.sink, now: () => t, intervalMs: 0 });
    t = 2000;
    p.tick();
    expect(s.lines[0]).toBe('edit [######------------------]  25% 1/4 ETA 6s\n');
    t = 4000;
    p.tick(1, 'loss 0.5');
    expect(p.etaSeconds()).toBeCloseTo(4);
    expect(s.lines[1]).toMatch(/50% 2\/4 ETA 4s  loss 0\.5$/m);
    t = 8000;
    p.tick(2);
    p.finish();
    expect(s.lines[2]).toMatch(/100% 4\/4 done in 8s/);
    expect(s.lines.length).toBe(3); // finish after reaching the total does not repeat the line
  });

  test('rate-limits redraws off a terminal and redraws in place on one', () => {
    let t = 0;
    const s = sink();
    const p = new Progress('x', 100, { sink: s.sink, now: () => t });
    for (let i = 0; i < 50; i++) {
      t += 10;
      p.tick();
    }
    expect(s.lines.length).toBe(1);
    const tty = sink(true);
    const q = new Progress('y', 2, { sink: tty.sink, now: () => t, intervalMs: 0 });
    q.tick();
    q.finish();
    expect(tty.lines[0].startsWith('\r\x1b[2K')).toBe(true);
    expect(tty.lines[tty.lines.length - 1].endsWith('\n')).toBe(true);
  });

  test('quiet bars count but print nothing; bad totals are refused', () => {
    const s = sink();
    const p = new Progress('q', 3, { sink: s.sink, quiet: true });
    p.tick(5);
    p.finish();
    expect(p.value).toBe(3);
    expect(s.lines).toEqual([]);
    expect(() => new Progress('bad', -1)).toThrow(/total must be >= 0/);
  });

  test('durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3720)).toBe('1h02m');
    expect(formatDuration(NaN)).toBe('?');
  });
});
