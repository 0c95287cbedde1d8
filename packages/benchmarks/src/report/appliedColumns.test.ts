import { appliedEditStats } from '../runner/evaluate';
import { editTimeOptions } from '../runner/editTimeOptions';
import { renderReport } from './html';
import { resultsProblems, type EditorResult, type ResultsFile } from './results';
import { formatTable, headlines, tableRows } from './table';

function row(over: Partial<EditorResult>): EditorResult {
  return {
    ES: 0.6, GS: 0.5, LS: 0.4, LS_gold: 0.4, Pre_ES: 0.6, Pre_GS: 0.5, Pre_LS: 0.4, WILD_ES: null, WILD_GS: null, retention: 0.9,
    applied_share: 1, layers_per_edit: 2, modules_per_applied_edit: 2, ms_per_edit: 5, train_seconds: 1, ...over,
  };
}

function results(editors: Record<string, EditorResult>): ResultsFile {
  return { dataset: 'world', model: 'm', seed: 1, n_train: 4, n_eval: 4, num_pre: 2, editors, curves: {} };
}

describe('applied share and modules per edit', () => {
  test('over all edits and over the applied ones; null where nothing is known or nothing was applied', () => {
    expect(appliedEditStats([['a'], [], ['a', 'b'], []])).toEqual({ applied_share: 0.5, layers_per_edit: 0.75, modules_per_applied_edit: 1.5 });
    expect(appliedEditStats([[], []])).toEqual({ applied_share: 0, layers_per_edit: 0, modules_per_applied_edit: null });
    expect(appliedEditStats(undefined)).toEqual({ applied_share: null, layers_per_edit: 0, modules_per_applied_edit: null });
  });

  test('every table shows them; files written before they existed still validate and show "-"', () => {
    const r = results({ hiedit: row({ applied_share: 0.25, layers_per_edit: 0.25, modules_per_applied_edit: 1 }), noop: row({ applied_share: 0, layers_per_edit: 0, modules_per_applied_edit: null }) });
    const rows = tableRows(r);
    expect(rows[0]).toEqual(expect.arrayContaining(['applied', 'mods/edit', 'mods/applied']));
    const col = (name: string) => rows[0].indexOf(name);
    expect(rows[1][col('applied')]).toBe('25.0');
    expect(rows[1][col('mods/edit')]).toBe('0.25');
    expect(rows[1][col('mods/applied')]).toBe('1.00');
    expect(rows[2][col('mods/applied')]).toBe('-');
    expect(renderReport({ results: r })).toContain('<th>mods/applied</th>');
    const { applied_share: _a, modules_per_applied_edit: _m, ...old } = row({});
    const oldFile = results({ hiedit: old as EditorResult });
    expect(resultsProblems(oldFile)).toEqual([]);
    expect(tableRows(oldFile)[1][col('applied')]).toBe('-');
    expect(resultsProblems(results({ hiedit: row({ applied_share: 1.5, modules_per_applied_edit: -1 }) }))).toEqual([
      'results.json: editors.hiedit.applied_share: must be a fraction in 0..1, got 1.5',
      'results.json: editors.hiedit.modules_per_applied_edit: must be a non-negative number, got -1',
    ]);
  });

  test('oracle-k is labelled an upper bound in every table', () => {
    const r = results({ hiedit: row({}), 'oracle-k': row({ ES: 0.9 }) });
    expect(formatTable(r)).toMatch(/oracle-k \(upper bound\)\s+90\.0/);
    expect(renderReport({ results: r })).toContain('oracle-k (upper bound)');
  });
});

describe('comparison lines', () => {
  const r = results({
    hiedit: row({ ES: 0.9, applied_share: 0.5, layers_per_edit: 0.5, modules_per_applied_edit: 1 }),
    rledit: row({}),
    'random-k': row({ ES: 0.3 }),
    noop: row({ ES: 0, GS: 0, LS: 1, applied_share: 0, layers_per_edit: 0, modules_per_applied_edit: null }),
  });

  test('hiedit against rledit (saying whether the options were equal), against random-k, and the noop floor', () => {
    const same = headlines(r, { hiedit: 'calibration', rledit: 'calibration', 'random-k': 'calibration' });
    expect(same).toHaveLength(3);
    expect(same[0]).toMatch(/^hiedit vs rledit at equal edit-time options \(calibration\): mean of ES\/GS\/LS 60\.0 vs 50\.0 \(relative \+20\.0%; the paper reports \+8\.48%\)/);
    expect(same[0]).toMatch(/per applied edit 1\.00 vs 2\.00, applied 50\.0% vs 100\.0%/);
    expect(same[1]).toMatch(/^hiedit vs random-k at equal edit-time options \(calibration\): mean of ES\/GS\/LS 60\.0 vs 40\.0 \(relative \+50\.0%\)/);
    expect(same[2]).toMatch(/^noop \(applies nothing\) scores a mean of ES\/GS\/LS of 33\.3/);
    const unequal = headlines(r, { hiedit: 'calibration', rledit: 'none' });
    expect(unequal[0]).toMatch(/at UNEQUAL edit-time options \(hiedit: calibration; rledit: none\)/);
    // Without the options (a results.json alone) nothing is claimed about them.
    expect(headlines(r)[0]).toMatch(/^hiedit vs rledit: /);
    expect(headlines(results({ hiedit: row({}) }))).toEqual([]);
  });

  test('an editor\'s edit-time options are read from its resolved settings', () => {
    expect(editTimeOptions({ settingsVersion: 1, steps: 3 })).toBe('none (no policy)');
    expect(editTimeOptions({ settingsVersion: 1, policy: { low: {} }, trainer: { calibration: null } })).toBe('none');
    expect(editTimeOptions({
      settingsVersion: 1, policy: { low: { keyPreconditioner: { lambda: 0.001, rescale: 'frobenius' }, factorSpace: 'module' } },
      trainer: { calibration: { margin: 0.5, minStrength: 0.0625, maxStrength: 16, onMiss: 'next', tolerance: 0.25 } },
    })).toBe('calibration (margin 0.5, 0.0625..16x, on miss next) + key preconditioner (lambda 0.001, frobenius) + module factors');
  });
});
