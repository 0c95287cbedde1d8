/**
 * Progress bars with an ETA for the long phases of a benchmark run (pretraining, training, editing,
 * evaluating). They write to stderr so stdout stays clean for tables and machine-readable output.
 * On a terminal the bar redraws in place; elsewhere (CI logs, files) it prints a line at most every
 * few seconds so logs stay short.
 */

/** Where progress is written; a subset of a Node stream so tests can capture it. */
export interface ProgressSink {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

/** Options of one progress bar. */
export interface ProgressOptions {
  /** Output stream (default process.stderr). */
  sink?: ProgressSink;
  /** Suppress all output (the bar still counts). */
  quiet?: boolean;
  /** Minimum milliseconds between two redraws (default 100 on a TTY, 5000 otherwise). */
  intervalMs?: number;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
  /** Bar width in characters (default 24). */
  width?: number;
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/** A counted phase with a known total. */
export class Progress {
  private done = 0;
  private lastDraw = -Infinity;
  private readonly start: number;
  private readonly sink: ProgressSink;
  private readonly tty: boolean;
  private readonly interval: number;
  private readonly now: () => number;
  private readonly width: number;
  private note = '';
  private doneAt: number | undefined;
  private finished = false;

  /**
   * @param label short phase name shown before the bar
   * @param total number of steps of the phase (0 is allowed: the bar completes at once)
   */
  constructor(readonly label: string, readonly total: number, private readonly opts: ProgressOptions = {}) {
    if (!Number.isFinite(total) || total < 0) throw new Error(`Progress "${label}": total must be >= 0, got ${total}`);
    this.sink = opts.sink ?? process.stderr;
    this.tty = Boolean(this.sink.isTTY);
    this.interval = opts.intervalMs ?? (this.tty ? 100 : 5000);
    this.now = opts.now ?? (() => Date.now());
    this.width = opts.width ?? 24;
    this.start = this.now();
  }

  /** Steps completed so far. */
  get value(): number {
    return this.done;
  }

  /** Seconds since the bar started. */
  elapsedSeconds(): number {
    return (this.now() - this.start) / 1000;
  }

  /** Estimated seconds left, from the mean pace so far (NaN before the first step). */
  etaSeconds(): number {
    if (this.done <= 0) return NaN;
    const perStep = this.elapsedSeconds() / this.done;
    return perStep * Math.max(0, this.total - this.done);
  }

  /** Advance by `n` steps; `note` (e.g. a running loss) is shown after the ETA. */
  tick(n = 1, note?: string): void {
    this.done = Math.min(this.total, this.done + n);
    if (note !== undefined) this.note = note;
    const t = this.now();
    if (this.done >= this.total && this.doneAt === undefined) this.doneAt = t;
    if (this.done >= this.total || t - this.lastDraw >= this.interval) {
      this.lastDraw = t;
      this.draw(false);
    }
  }

  /** Jump to an absolute step count (e.g. when resuming). */
  set(done: number, note?: string): void {
    this.done = 0;
    this.doneAt = undefined;
    this.tick(done, note);
  }

  /** Complete the bar and end its line. Idempotent. */
  finish(note?: string): void {
    if (this.finished) return;
    if (note !== undefined) this.note = note;
    this.done = this.total;
    this.doneAt ??= this.now();
    this.draw(true);
    this.finished = true;
  }

  /** The text of the bar as it would be drawn now. */
  render(): string {
    const frac = this.total === 0 ? 1 : this.done / this.total;
    const filled = Math.round(frac * this.width);
    const bar = '#'.repeat(filled) + '-'.repeat(this.width - filled);
    const pct = `${Math.floor(frac * 100)}`.padStart(3);
    const eta =
      this.done >= this.total
        ? `done in ${formatDuration(((this.doneAt ?? this.now()) - this.start) / 1000)}`
        : `ETA ${formatDuration(this.etaSeconds())}`;
    const note = this.note ? `  ${this.note}` : '';
    return `${this.label} [${bar}] ${pct}% ${this.done}/${this.total} ${eta}${note}`;
  }

  private lastText = '';

  private draw(final: boolean): void {
    if (this.opts.quiet || this.finished) return;
    const text = this.render();
    // A bar that already showed its final state is not printed twice.
    if (text === this.lastText) {
      if (final && this.tty) this.sink.write('\n');
      return;
    }
    this.lastText = text;
    if (this.tty) this.sink.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    else this.sink.write(`${text}\n`);
  }
}

/** Makes progress bars sharing one set of options; the runner hands one of these to every phase. */
export type ProgressFactory = (label: string, total: number) => Progress;

/** A factory writing to `opts.sink` (default stderr). */
export function progressFactory(opts: ProgressOptions = {}): ProgressFactory {
  return (label, total) => new Progress(label, total, opts);
}
