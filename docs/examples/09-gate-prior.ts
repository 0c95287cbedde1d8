/**
 * HiEdit's gate prior (docs/policies.md, "A prior on the gate"): when training finishes, the editor measures each
 * candidate module's mean merit on the training requests and records it in its settings; at edit time the modules are
 * ranked by z(gate scores) + weight * z(merits), and the k best are shifted. This trains a small HiEdit editor on four
 * requests, prints the merits it recorded, makes one edit and shows the combined scores that chose its module.
 *
 *   node docs/examples/run.js docs/examples/09-gate-prior.ts [MODEL_DIR]
 */
import * as assert from 'assert';
import { buildWordLevelTokenizer, loadModel, tokenizeTuple, writeTokenizerFiles } from '@hiedit/llm-loader';
import { LifelongEditor, type EditorModel } from '@hiedit/editor';
import { cleanup, tinyCheckpoint } from './tiny';

const WORDS = ['Alice', 'Bob', 'Carol', 'Dave', 'plays', 'lives', 'speaks', 'in', 'the', 'violin', 'piano', 'Rome', 'Paris', 'German', 'French'];
const TRAINING = [
  { prompt: 'Alice plays the', target: 'violin' },
  { prompt: 'Bob lives in', target: 'Rome', paraphrases: ['Bob lives in the'] },
  { prompt: 'Carol speaks', target: 'German', locality: [{ prompt: 'Dave speaks', answer: 'French' }] },
  { prompt: 'Dave plays the', target: 'piano' },
];

export async function main(args: string[] = []): Promise<void> {
  const dir = args[0] ?? (await tinyCheckpoint('llama'));
  // The tiny checkpoint has no tokenizer: give it a word-level one over the example's words.
  if (args[0] === undefined) writeTokenizerFiles(dir, buildWordLevelTokenizer({ words: WORDS }));
  const model = await loadModel(dir);
  try {
    const tok = model.tokenizer!;
    const modules = model.modules.filter((m) => /mlp\.(down_proj|c_proj)$/.test(m.name)).map((m) => m.name);
    const editor = LifelongEditor.create({
      model: model as unknown as EditorModel, kind: 'hiedit', modules, tokenize: (p, a) => tokenizeTuple(tok, p, a),
      // Small sizes so the example trains in seconds; `selection.prior.weight` 2 is HiEdit's default anyway.
      settings: { policy: { low: { rank: 4 }, high: { hidden: 8, k: 1 } }, trainer: { epochs: 1 }, machinery: 'none', selection: { prior: { weight: 2 } } },
    });
    try {
      await editor.train(TRAINING, { seed: 1 });
      const { prior } = (editor.editor.settings() as unknown as { selection: { prior: { weight: number; merits: number[] } } }).selection;
      modules.forEach((n, i) => console.log(`merit of ${n} on the training requests: ${prior.merits[i].toFixed(3)}`));
      assert.strictEqual(prior.merits.length, modules.length);

      const report = editor.edit({ prompt: 'Carol lives in', target: 'Paris' });
      for (const n of modules) console.log(`combined score of ${n}: ${report.scores[n].toFixed(3)}`);
      console.log(`shifted: ${report.selected.map((m) => m.module).join(', ')}`);
      // k = 1: the module shifted is the one of best combined score.
      const best = modules.reduce((a, b) => (report.scores[b] > report.scores[a] ? b : a));
      assert.deepStrictEqual(report.selected.map((m) => m.module), [best]);
    } finally {
      editor.dispose();
    }
  } finally {
    model.dispose();
    if (args[0] === undefined) cleanup(dir);
  }
}
