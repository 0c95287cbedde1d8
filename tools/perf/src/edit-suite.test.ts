import * as fs from 'fs';
import { checkEditTargets, editIds, editRatios, formatEditTable, torchEditSpec, type EditShapeResult } from './edit-suite';
import { LLAMA1B_EDIT, TINY_EDIT } from './shapes';

// Logic of the edit suite only: nothing here times anything or spawns a child.

function result(over: Partial<EditShapeResult> = {}): EditShapeResult {
  return {
    shape: 'tiny-edit', params: 1000, note: 'test', tokens: 12, machine: undefined as never, failed: {},
    load: { F32: { fileMb: 4, loadMs: 20, peakRssMb: 100, wasmHeapMb: 64 }, BF16: { fileMb: 2, loadMs: 30, peakRssMb: 90, wasmHeapMb: 64 } },
    edit: {
      modules: ['a', 'b'], k: 1, tokens: 12, answerTokens: 2, editMs: 300, phasesMs: { trace: 100, policy: 50, calibration: 140, apply: 2, journal: 8 },
      forwardBackwardMs: 100, editPerForwardBackward: 3, editCalls: { trace: 1, logProbsUnderShifts: 6 }, tries: 1, selected: ['b'], journalBytesPerEdit: 512,
    },
    editPeakRssMb: 200,
    meta: { metaStepMs: 900, metaStepCalls: { trace: 1, logProbsUnderShifts: 20 } },
    metaPeakRssMb: 250,
    torch: {
      torch_version: 'x', threads: 1, blas_threads: 2, load: { F32: { load_ms: 10, peak_rss_mb: 300 } }, edit_ms: 150,
      phases_ms: { trace: 50, policy: 25, calibration: 70, apply: 1, journal: 4 }, forward_backward_ms: 50, meta_step_ms: 600, peak_rss_mb: 500,
    },
    ...over,
  };
}

describe('edit suite', () => {
  test('ratios are ours over PyTorch per metric, peak RSS the larger of our two workloads', () => {
    const r = editRatios(result());
    expect(r.edit).toBe(2);
    expect(r.forwardBackward).toBe(2);
    expect(r['phase.calibration']).toBe(2);
    expect(r.metaStep).toBe(1.5);
    expect(r.peakRss).toBe(0.5);
    expect(r.loadF32).toBe(2);
    expect(r.loadBF16).toBeUndefined(); // PyTorch did not load a BF16 file
    expect(editRatios(result({ torch: undefined }))).toEqual({});
  });

  test('the issue-18 targets: edit within 2x fwd+bwd, meta step and peak RSS within PyTorch', () => {
    const res = result();
    res.ratios = editRatios(res);
    const t = checkEditTargets([res]);
    expect(t.map((x) => [x.value, x.met])).toEqual([['3.00', false], ['1.50', false], ['0.50', true]]);
    const failed = result({ meta: undefined, metaPeakRssMb: undefined, failed: { meta: 'child exited with 134' } });
    failed.ratios = editRatios(failed);
    expect(checkEditTargets([failed])[1].met).toBeUndefined();
  });

  test('the table shows every phase, the floor ratio, load per dtype, and a failed part with its reason', () => {
    const lines = formatEditTable([result({ failed: { meta: 'child exited with 134' } })]).split('\n');
    expect(lines[0]).toMatch(/shape\s+metric\s+ours\s+pytorch\s+ours\/pytorch/);
    const cells = (label: string): string[] => lines.find((l) => l.includes(label))!.trim().split(/\s{2,}/);
    expect(cells('edit ms (whole)')).toEqual(['tiny-edit', 'edit ms (whole)', '300.0', '150.0', '2.00']);
    expect(cells('calibration ms').slice(2)).toEqual(['140.0', '70.0', '2.00']);
    expect(cells('edit / fwd+bwd').slice(2, 4)).toEqual(['3.00', '3.00']);
    expect(cells('load BF16 ms (2 MB file)').slice(2)).toEqual(['30', '-', '-']);
    expect(cells('meta failed')[2]).toBe('child exited with 134');
  });

  test('PyTorch gets the same ids, labels, modules and model-call counts as ours', () => {
    const res = result({ shape: 'tiny-edit' });
    const spec = torchEditSpec(TINY_EDIT, res, { seed: 5, cacheDir: '/x', quick: true }, { F32: '/x/f32' }, 2) as unknown as Record<string, unknown>;
    expect(spec.ids).toEqual(editIds(TINY_EDIT, 5, 12));
    expect((spec.labels as number[]).filter((l) => l !== -100)).toHaveLength(2);
    expect(spec.edit_modules).toEqual(TINY_EDIT.editModules);
    expect(spec.calibration_forwards).toBe(6);
    expect(spec.meta_nograd_forwards).toBe(17);
    expect(spec.selected).toEqual(['b']);
    expect(spec.reps).toEqual({ edit: 1, backward: 1, meta_step: 1 });
    fs.rmSync(spec.journal_dir as string, { recursive: true, force: true });
  });

  test('the 1B shape is Llama-3.2-1B geometry with half its layers, and says so', () => {
    expect(LLAMA1B_EDIT.params).toBe(749_242_368);
    expect(LLAMA1B_EDIT.editModules).toHaveLength(8);
    expect(LLAMA1B_EDIT.note).toMatch(/8 of its 16 layers/);
  });
});
