import type { AccuracyResult } from './accuracy';
import type { TrainSettings } from './trainer';

/** Written as pretrain.json next to every cached model: how it was made and what it knows. */
export interface PretrainReport {
  readonly kind: 'world' | 'facts';
  /** Full cache key (sha256 hex). */
  readonly key: string;
  readonly trainerVersion: number;
  readonly settings: TrainSettings;
  readonly vocabSize: number;
  readonly parameters: number;
  /** Number of (prompt, answer) training tuples. */
  readonly examples: number;
  readonly epochs: number;
  readonly steps: number;
  readonly trainSeconds: number;
  readonly epochLosses: number[];
  /** Accuracy of the SAVED model, loaded back through loadModel, per prompt family. */
  readonly accuracy: Record<string, AccuracyResult>;
  readonly backend: string;
  readonly createdAt: string;
  /** What the model was trained on (world options, or the data file and its hash). */
  readonly source: Record<string, unknown>;
}
