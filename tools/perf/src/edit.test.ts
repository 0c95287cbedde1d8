import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '@hiedit/tensor-core';
import { loadModel, type CausalLM } from '@hiedit/llm-loader';
import { editRequest, runEditWorkload, runMetaStepWorkload } from './edit';
import { ensureCheckpoint, TINY_EDIT } from './shapes';

// The edit workload's code path on a tiny model: what it reports, never how fast (benchmarks are not timed tests).

describe('edit workload', () => {
  let dir: string;
  let model: CausalLM;
  const ids = Array.from({ length: 12 }, (_, i) => (i * 7 + 3) % 96);

  beforeAll(async () => {
    await initBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perf-edit-test-'));
    const ck = await ensureCheckpoint(TINY_EDIT, 7, dir);
    model = await loadModel(ck.dir, { tokenizer: false });
  });

  afterAll(() => {
    model?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('editRequest labels the answer tokens of the prompt and adds one locality prompt', () => {
    const r = editRequest([5, 6, 7, 8], 2);
    expect(r.edit.labels).toEqual([-100, 7, 8, -100]);
    expect(r.locality).toHaveLength(1);
    expect(r.locality[0].ids).toEqual([6, 7, 8, 5]);
    expect(r.locality[0].labels).toEqual([7, 8, 5, -100]);
    expect(() => editRequest([1, 2], 2)).toThrow(/answerTokens must be in 1\.\.1/);
  });

  test('one edit through the real editor: phases, model calls, journal, and the weights rolled back', () => {
    const before = readWeight(model, TINY_EDIT.editModules[0]);
    const tensors = tf.memory().numTensors;
    const r = runEditWorkload(model, TINY_EDIT.editModules, ids, { edit: 1, backward: 1 }, { seed: 3 });
    expect(r.modules).toEqual(TINY_EDIT.editModules);
    expect(r.tokens).toBe(12);
    for (const k of ['trace', 'policy', 'calibration', 'apply', 'journal'] as const) expect(r.phasesMs[k]).toBeGreaterThanOrEqual(0);
    expect(r.editMs).toBeGreaterThan(0);
    expect(r.editPerForwardBackward).toBeCloseTo(r.editMs / r.forwardBackwardMs, 10);
    // one trace per edit; calibration forwards are logProbsUnderShifts calls, at least one per module set tried
    expect(r.editCalls.trace).toBe(1);
    expect(r.editCalls.logProbsUnderShifts).toBeGreaterThanOrEqual(r.tries ?? 1);
    // the workload's calibration applies a missed edit at the largest strength: something is always applied and journaled
    expect(r.selected.length).toBe(r.k);
    expect(r.journalBytesPerEdit).toBeGreaterThan(0);
    const after = readWeight(model, TINY_EDIT.editModules[0]);
    let diff = 0;
    for (let i = 0; i < before.length; i++) diff = Math.max(diff, Math.abs(before[i] - after[i]));
    expect(diff).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  test('one meta-training step: its model calls include one trace per step', () => {
    const tensors = tf.memory().numTensors;
    const r = runMetaStepWorkload(model, TINY_EDIT.editModules, ids, 1, { seed: 3 });
    expect(r.metaStepMs).toBeGreaterThan(0);
    expect(r.metaStepCalls.trace).toBeGreaterThanOrEqual(1);
    expect(r.metaStepCalls.logProbsUnderShifts).toBeGreaterThanOrEqual(1);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

function readWeight(model: CausalLM, name: string): Float32Array {
  const w = model.readWeight(name);
  try {
    return Float32Array.from(w.dataSync() as Float32Array);
  } finally {
    w.dispose();
  }
}
