/**
 * Where a run stands in its stream: epoch, position in the epoch's order, steps taken, the epoch's loss so far.
 */
import type { SeededRandom } from '@hiedit/tensor-core';

/** A run's position (saved with the training state, so a resumed run continues where it stopped). */
export class RunPosition {
  epoch = 0;
  /** Index into `order` of the next request. */
  position = 0;
  /** Steps taken over the whole run. */
  step = 0;
  /** The epoch's order of the stream's indices; null between epochs. */
  order: number[] | null = null;
  epochLossSum = 0;
  epochLossCount = 0;
  finished = false;
  /** Length of the training stream (-1 until training starts), to refuse resuming on another stream. */
  streamLength = -1;

  /** Begin an epoch over a stream of `length` requests, in an order shuffled by `rng` when `shuffle`. */
  startEpoch(length: number, shuffle: boolean, rng: SeededRandom): void {
    const idx = Array.from({ length }, (_, i) => i);
    this.order = shuffle ? rng.shuffle(idx) : idx;
    this.position = 0;
    this.epochLossSum = 0;
    this.epochLossCount = 0;
  }

  /** Stream index of the request at the current position. */
  current(): number {
    return this.order![this.position];
  }

  /** Stream indices of the back-tracking window of `backDepth` requests ending at the current position (oldest first). */
  window(backDepth: number): number[] {
    const start = Math.max(0, this.position - backDepth + 1);
    return this.order!.slice(start, this.position + 1);
  }

  /** Count a finished step of loss `loss`. */
  advance(loss: number): void {
    this.position += 1;
    this.step += 1;
    this.epochLossSum += loss;
    this.epochLossCount += 1;
  }

  /** Move past a completed epoch. */
  nextEpoch(): void {
    this.epoch += 1;
    this.order = null;
    this.position = 0;
  }
}
