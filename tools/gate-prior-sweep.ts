/**
 * Tuning tool: how HiEdit's gate prior (selection.prior, packages/editor/src/methods/policy/selection.ts) changes an
 * already trained HiEdit editor of a benchmark run, without training it again. For each prior weight it edits the
 * run's evaluation stream with the run's trained editor (the engine's path, LifelongEditor) and scores the final model
 * as `hiedit-bench eval` does (scoreModel). Weight 0 is the editor as trained, so its line must repeat the run's own
 * hiedit numbers. The merits are measured once on the run's training split (training data).
 *
 * Only for tuning runs (world seeds other than 0): it reads the run's evaluation requests.
 *
 *   node tools/gate-prior-sweep.js bench-out/RUN 0,0.5,1,2 [EDITOR_NAME]
 *
 * One JSON line per weight on stdout.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, WeightSnapshot, type TokenizedTuple } from '@hiedit/tensor-core';
import { loadModel, tokenizeTuple } from '@hiedit/llm-loader';
import { LifelongEditor, loadDataset, loadEditorDir, type EditorModel } from '@hiedit/editor';
import { prepareRequest } from '../packages/editor/src/editor';
import { scoreModel } from '../packages/benchmarks/src/cli/eval-command';
import { moduleMerits } from '../packages/editor/src/methods/policy/fixedChoice';
import type { PolicyEditor } from '../packages/editor/src/methods/policy/editor';

/** Entry point (the launcher's runTsMain calls it). */
export async function main(argv: string[]): Promise<void> {
  const [runDir, weightList, name = 'hiedit'] = argv;
  if (!runDir || !weightList) throw new Error('usage: node tools/gate-prior-sweep.js RUN_DIR W1,W2,... [EDITOR_NAME]');
  const weights = weightList.split(',').map((w) => {
    const v = Number(w);
    if (!Number.isFinite(v) || v < 0) throw new Error(`weight ${JSON.stringify(w)} is not a number >= 0`);
    return v;
  });
  const run = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')).settings;
  if (run.dataset === 'world' && run.data === 'world-s0') throw new Error(`${runDir}: world seed 0 is the evaluation world; tune elsewhere`);
  const trained = path.join(runDir, 'editors', name, 'trained');
  const descriptor = JSON.parse(fs.readFileSync(path.join(trained, 'editor.json'), 'utf8'));
  await initBackend();
  const lm = await loadModel(descriptor.model.source);
  const model = lm as unknown as EditorModel;
  const base = await loadModel(descriptor.model.source);
  const tok = lm.tokenizer!;
  const tokenize = (p: string, a: string): TokenizedTuple => tokenizeTuple(tok, p, a);
  const train = loadDataset(path.join(runDir, 'requests', 'train.jsonl')).requests;
  const evaluation = loadDataset(path.join(runDir, 'requests', 'evaluation.jsonl')).requests;
  const snapshot = new WeightSnapshot(model, descriptor.modules.map((m: { name: string }) => m.name));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-prior-'));
  try {
    const asTrained = loadEditorDir(trained, model).editor as PolicyEditor;
    const trainStream = train.map((r, i) => prepareRequest(model, tokenize, r, `train ${i}`).tokenized);
    const merits = moduleMerits(model, asTrained.policy, trainStream, asTrained.editCalibration, asTrained.settings().trainer.positions);
    asTrained.dispose();
    process.stderr.write(`merits on ${train.length} training requests: ${merits.map((m) => m.toFixed(3)).join(' ')}\n`);
    for (const weight of weights) {
      const dir = path.join(tmp, `w${weight}`);
      fs.cpSync(trained, dir, { recursive: true });
      const desc = JSON.parse(fs.readFileSync(path.join(dir, 'editor.json'), 'utf8'));
      if (weight > 0) desc.settings.selection = { rule: 'gate', prior: { weight, merits } };
      fs.writeFileSync(path.join(dir, 'editor.json'), JSON.stringify(desc));
      const { editor } = loadEditorDir(dir, model);
      const session = new LifelongEditor({ model, editor, tokenize });
      const t0 = Date.now();
      let applied = 0;
      const counts = new Map<string, number>();
      try {
        for (const r of evaluation) {
          const report = session.edit(r);
          if (report.selected.length) applied++;
          for (const m of report.selected) counts.set(m.module, (counts.get(m.module) ?? 0) + 1);
        }
        const editSeconds = (Date.now() - t0) / 1000;
        const res = scoreModel({ model: lm, base, requests: evaluation, facts: [], style: run.style, wild: false,
          numPre: run.numPre, label: name, dataLabel: run.data });
        const m = res.editors[name];
        const es = m.ES ?? 0;
        const mean = (es + (m.GS ?? 0) + (m.LS ?? 0)) / 3;
        process.stdout.write(`${JSON.stringify({
          run: runDir, weight, ES: +(100 * es).toFixed(1), GS: +(100 * (m.GS ?? 0)).toFixed(1), LS: +(100 * (m.LS ?? 0)).toFixed(1),
          mean: +(100 * mean).toFixed(1), applied: +(100 * applied / evaluation.length).toFixed(1), editSeconds,
          modules: Object.fromEntries([...counts].map(([k, v]) => [k.replace(/^model\.layers\.(\d+)\..*/, 'L$1'), v])),
        })}\n`);
      } finally {
        editor.dispose();
        snapshot.restore();
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    snapshot.dispose();
    base.dispose();
    lm.dispose();
  }
}
