/**
 * The single writer: every task that changes the model (edit, rollback) or must see it frozen across awaits
 * (export) runs here, one at a time, in arrival order. The queue is bounded so a flood of edits is refused early
 * (429) instead of piling up behind a slow editor.
 */
import { RequestError } from './errors';

/** A bounded FIFO of async tasks run one after another. */
export class WriteQueue {
  private readonly waiting: (() => Promise<void>)[] = [];
  private running = false;

  /** @param capacity tasks that may wait behind the running one before `run` refuses with 429. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`WriteQueue: capacity must be an integer >= 1, got ${capacity}`);
  }

  /** Tasks waiting (the running one excluded). */
  get length(): number {
    return this.waiting.length;
  }

  /** True while a task runs. */
  get busy(): boolean {
    return this.running;
  }

  /**
   * Runs `task` after every task queued before it; resolves or rejects with its outcome. Throws a 429
   * RequestError at once when `capacity` tasks already wait.
   */
  run<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.waiting.length >= this.capacity) {
      throw new RequestError(429, 'queue', `${this.waiting.length} edits or rollbacks already wait (--max-queue ${this.capacity}); retry later`);
    }
    return new Promise<T>((resolve, reject) => {
      this.waiting.push(async () => {
        try {
          resolve(await task());
        } catch (e) {
          reject(e);
        }
      });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let next = this.waiting.shift(); next; next = this.waiting.shift()) {
        await next();
        // Model work is synchronous: yield to the event loop so generations waiting on the socket get the model
        // between two writes instead of after the whole queue.
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
  }
}
