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
  /** True when the time budget (maxSeconds) ended training before the facts were known (stopAccuracy). */
  readonly truncated: boolean;
  readonly epochLosses: number[];
  /** Accuracy of the SAVED model, loaded back through loadModel, per prompt family. */
  readonly accuracy: Record<string, AccuracyResult>;
  readonly backend: string;
  readonly createdAt: string;
  /** What the model was trained on (world options, or the data file and its hash). */
  readonly source: Record<string, unknown>;
  /**
   * Whether the saved model knows its facts as issue 5 requires (see {@link knowledgeWarnings});
   * absent in reports written before the check existed.
   */
  readonly knowledgeOk?: boolean;
  /** The shortfalls behind `knowledgeOk: false`, one line per prompt family. */
  readonly knowledgeWarnings?: string[];
}

/** Teacher-forced accuracy of the true answers a pretrained model must reach before any edit. */
export const KNOWLEDGE_THRESHOLD = 0.95;

/** The prompt families the threshold applies to (locality and training accuracy are reported only). */
const KNOWLEDGE_FAMILIES = ['editPrompts', 'paraphrases'] as const;

/**
 * One line per required prompt family (edit prompts, paraphrases) whose token accuracy is below
 * {@link KNOWLEDGE_THRESHOLD}; empty when the model knows its facts. A family with no prompts is not
 * a shortfall: a dataset without paraphrases cannot fail on them.
 */
export function knowledgeWarnings(accuracy: Readonly<Record<string, AccuracyResult>>): string[] {
  const out: string[] = [];
  for (const k of KNOWLEDGE_FAMILIES) {
    const a = accuracy[k];
    if (!a || a.count === 0 || a.tokenAccuracy >= KNOWLEDGE_THRESHOLD) continue;
    out.push(
      `${k} ${(100 * a.tokenAccuracy).toFixed(1)}% is below ${(100 * KNOWLEDGE_THRESHOLD).toFixed(0)}% ` +
        `(${a.count} prompts): the model does not know its facts before the edits, so ES/GS/LS measure little`,
    );
  }
  return out;
}

const ARCH_LABEL: Readonly<Record<string, string>> = { llama: 'Llama', gpt2: 'GPT-2', gemma2: 'Gemma-2', qwen3: 'Qwen3' };

/** A few human-readable lines summarizing a pretrain report (for logs and the CLI). */
export function formatPretrainReport(r: PretrainReport): string {
  const m = r.settings.model;
  const lines = [
    `${r.kind} model ${r.key.slice(0, 16)}: ${ARCH_LABEL[m.arch ?? 'llama']} ${m.layers} layers, d=${m.hidden}, ${m.heads} heads, ffn ${m.intermediate}; ` +
      `${r.parameters} parameters, vocabulary ${r.vocabSize}`,
    `trained on ${r.examples} facts for ${r.epochs} epochs (${r.steps} steps) in ${r.trainSeconds.toFixed(1)} s on ${r.backend}${r.truncated ? ' (cut short by the time budget)' : ''}`,
    'teacher-forced accuracy of the true answers (saved model):',
  ];
  for (const [k, v] of Object.entries(r.accuracy)) {
    lines.push(`  ${k.padEnd(14)} ${(v.tokenAccuracy * 100).toFixed(1).padStart(5)}%  (${v.count} prompts)`);
  }
  return lines.join('\n');
}
