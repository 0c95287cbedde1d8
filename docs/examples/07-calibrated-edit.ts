/**
 * One calibrated edit, by hand, with the pieces HiEdit's default low level is made of: the module's own gradient
 * direction (an untrained policy with `factorSpace: 'module'` proposes exactly -eta K^T G), and the calibration that
 * scales it to the smallest strength at which the new answer wins on its prompt, then the same with a gate
 * (calibrateSelection: the gate's choice, or its next-ranked module when that one cannot hold). The editor (`hiedit` in
 * @hiedit/editor) does the same per request, with a trained policy, the key preconditioner and a journal.
 *
 *   node docs/examples/run.js docs/examples/07-calibrated-edit.ts [MODEL_DIR]
 */
import * as assert from 'assert';
import { IGNORE_INDEX, tf, type TokenizedTuple } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { applySelectedShifts, calibrateScale, calibrateSelection, disposeShifts, HiEditPolicy, type CalibrationSettings } from '@hiedit/rl-hierarchy';
import { cleanup, tinyCheckpoint } from './tiny';

export async function main(args: string[] = []): Promise<void> {
  const dir = args[0] ?? (await tinyCheckpoint('llama'));
  const model = await loadModel(dir);
  try {
    const modules = model.modules.filter((m) => m.name.endsWith('mlp.down_proj')).map((m) => m.name);
    // prompt ids 5 9 12 17, then the answer token 4: position i predicts labels[i]
    const tuple: TokenizedTuple = { ids: [5, 9, 12, 17], labels: [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 4] };
    const argmaxAtAnswer = (): number => {
      const t = tf.tidy(() => tf.argMax(model.logProbsUnderShifts([tuple]), 1));
      const v = t.dataSync()[0];
      t.dispose();
      return v;
    };
    console.log(`before: the model predicts token ${argmaxAtAnswer()} where the edit wants 4`);

    // An untrained policy with module-space factors proposes the plain gradient step on every module (no gate).
    const policy = new HiEditPolicy(modules.map((n) => model.module(n)), { low: { factorSpace: 'module', initEta: 1 }, high: null, seed: 1 });
    const trace = model.trace(tuple, modules);
    const edit = policy.computeEdit(trace.features);
    for (const f of trace.features.values()) { f.keys.dispose(); f.valueGrads.dispose(); }

    const calibration: CalibrationSettings = { minStrength: 2 ** -20, maxStrength: 2 ** 20, margin: 0.5, tolerance: 0.25, onMiss: 'skip' };
    const c = calibrateScale(model, tuple, edit.shifts, calibration);
    console.log(`calibration: ${c.holds ? `holds at ${c.scale.toPrecision(3)}x the proposal` : 'does not hold: skipped'} (${c.forwards} forwards)`);
    assert.ok(c.holds, 'the plain gradient step should be able to flip one answer token of a tiny model');

    const before = model.readWeight(modules[0]);
    applySelectedShifts(model, edit, c.scale);
    console.log(`after: the model predicts token ${argmaxAtAnswer()}`);
    assert.strictEqual(argmaxAtAnswer(), 4);

    applySelectedShifts(model, edit, -c.scale); // undo: the shifts are kept, so the edit is reversible
    const after = model.readWeight(modules[0]);
    const drift = tf.tidy(() => tf.max(tf.abs(tf.sub(after, before))).dataSync()[0]);
    console.log(`undone: max |W - W0| = ${drift.toExponential(2)}`);
    assert.ok(drift < 1e-5);
    before.dispose();
    after.dispose();
    disposeShifts(edit.shifts);
    policy.dispose();

    // With a gate (k = 1 of the down_proj modules), calibrateSelection calibrates the gate's choice and, when it cannot
    // make the edit hold, walks on through the gate's ranking ('next'), as the hiedit editor does.
    const gated = new HiEditPolicy(modules.map((n) => model.module(n)), { low: { factorSpace: 'module', initEta: 1 }, high: { k: 1 }, seed: 1 });
    const t2 = model.trace(tuple, modules);
    const e2 = gated.computeEdit(t2.features);
    for (const f of t2.features.values()) { f.keys.dispose(); f.valueGrads.dispose(); }
    const sel = calibrateSelection(model, tuple, e2, { ...calibration, onMiss: 'next' });
    const gateChoice = e2.mask.modules.filter((_, i) => e2.mask.selected[i]);
    console.log(`gate chose ${gateChoice.join(', ')}; calibrated selection: ${sel.selected.join(', ') || 'none'} ` +
      `(${sel.tries} module set(s) tried${sel.holds ? `, holds at ${sel.scale.toPrecision(3)}x` : ''})`);
    assert.ok(sel.selected.length <= 1 && sel.tries >= 1);
    disposeShifts(e2.shifts);
    gated.dispose();
  } finally {
    model.dispose();
    if (args[0] === undefined) cleanup(dir);
  }
}

