/**
 * Early stopping on the validation score: the best score, the policy that reached it, and the epochs since.
 */
import type { HostParam } from '../params';
import type { HiEditPolicy } from '../policy';

/** A policy's parameters and normalizers on the host. */
export interface PolicySnapshot {
  params: HostParam[];
  normalizers: ReturnType<HiEditPolicy['normalizersToJSON']>;
}

/** Keeps the best validated policy and counts the epochs that did not improve on it. */
export class EarlyStopping {
  bestValidation: number | undefined;
  /** Epochs in a row without an improvement. */
  badEpochs = 0;
  best: PolicySnapshot | null = null;

  /** Record an epoch's validation `score` of `policy` (lower is better); returns whether it improved. */
  record(score: number, policy: HiEditPolicy): boolean {
    const improved = this.bestValidation === undefined || score < this.bestValidation;
    if (improved) {
      this.bestValidation = score;
      this.best = { params: policy.params.toHost(), normalizers: policy.normalizersToJSON() };
      this.badEpochs = 0;
    } else this.badEpochs += 1;
    return improved;
  }

  shouldStop(patience: number): boolean {
    return this.badEpochs >= patience;
  }

  /** Put the best validated policy back into `policy` (nothing without validation). */
  restoreBest(policy: HiEditPolicy): void {
    if (this.best) {
      policy.params.fromHost((n) => this.best!.params.find((p) => p.name === n), 'best validation snapshot');
      policy.normalizersFromJSON(this.best.normalizers, 'best validation snapshot');
    }
  }
}
