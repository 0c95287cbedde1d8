import { renderReport } from './html';
import { resultsProblems, validateResults, type ResultsFile } from './results';
import { formatMarkdownTable, formatTable, headline } from './table';

function sample(): ResultsFile {
  const m = {
    ES: 0.9, GS: 0.8, LS: 0.95, LS_gold: 0.7, Pre_ES: 0.85, Pre_GS: 0.75, Pre_LS: 0.9,
    WILD_ES: 0.6, WILD_GS: 0.5, retention: 0.99, layers_per_edit: 3, ms_per_edit: 12.5, train_seconds: 40,
  };
  return {
    dataset: 'world', model: 'world-model', seed: 1, n_train: 10, n_eval: 20, num_pre: 5,
    editors: { hiedit: { ...m }, '<rledit>': { ...m, ES: 0.5, layers_per_edit: 6 } },
    curves: {
      hiedit: [{ edits: 10, ES: 1, GS: 0.9, LS: 1 }, { edits: 20, ES: 0.9, GS: 0.8, LS: 0.95 }],
      '<rledit>': [{ edits: 10, ES: 0.6, GS: null, LS: 0.9 }, { edits: 20, ES: 0.5, GS: null, LS: 0.9 }],
    },
  };
}

describe('results.json contract', () => {
  test('a well-formed file passes', () => {
    expect(resultsProblems(sample())).toEqual([]);
    expect(validateResults(JSON.parse(JSON.stringify(sample()))).n_eval).toBe(20);
  });

  test('every deviation is named', () => {
    const bad = sample() as unknown as Record<string, any>;
    bad.editors.hiedit.ES = 1.5;
    delete bad.editors.hiedit.retention;
    bad.editors.hiedit.extra = 1;
    bad.curves.hiedit[1].edits = 5;
    bad.num_pre = 30;
    delete bad.model;
    const errs = resultsProblems(bad);
    expect(errs).toEqual(
      expect.arrayContaining([
        'results.json: missing "model"',
        'results.json: "num_pre" (30) exceeds "n_eval" (20)',
        'results.json: editors.hiedit: missing "retention"',
        'results.json: editors.hiedit: unexpected key "extra"',
        'results.json: editors.hiedit.ES: must be a fraction in 0..1, got 1.5',
        'results.json: curves.hiedit[1].edits: must increase along the curve',
      ]),
    );
    expect(() => validateResults(bad)).toThrow(/invalid results.json/);
    expect(resultsProblems([])).toEqual(['results.json: must be a JSON object']);
  });

  test('model_size and model_arch are optional (built-in models only) and must be non-empty strings', () => {
    expect(resultsProblems({ ...sample(), model_size: 'deep', model_arch: 'gpt2' })).toEqual([]);
    expect(resultsProblems({ ...sample(), model_size: '', model_arch: 3 })).toEqual([
      'results.json: "model_size" must be a non-empty string',
      'results.json: "model_arch" must be a non-empty string',
    ]);
    expect(resultsProblems({ ...sample(), model_depth: 'deep' })).toEqual(['results.json: unexpected key "model_depth"']);
  });
});

describe('report.html', () => {
  const html = renderReport({
    results: sample(),
    heatmaps: { hiedit: { modules: ['model.layers.0.mlp.up_proj', 'model.layers.1.mlp.up_proj'], edges: [0, 10, 20], values: [[1, 0.5], [0, 1]] } },
    settings: { editors: 'hiedit,<rledit>', note: 'a "quoted" <b>value</b>' },
    notes: ['model knew 99% of its facts'],
  });
  const withPositions = renderReport({
    results: sample(),
    byPosition: { hiedit: [{ from: 1, to: 10, ES: 0.5, GS: 0.25, LS: null, applied: 1 }, { from: 11, to: 20, ES: 0.9, GS: 0.8, LS: null, applied: 0.75 }] },
  });

  test('holds the table, one chart per curve metric, the heat map and the settings', () => {
    expect(html).toContain('<table>');
    expect(html).toContain('<td>90.0</td>');
    expect((html.match(/<svg class="chart"/g) ?? []).length).toBe(3);
    expect(html).toContain('<svg class="heat"');
    expect(html).toContain('model.layers.1.mlp.up_proj');
    expect(html).toContain('<dt>num_pre</dt><dd>5</dd>');
    expect(html).toContain('model knew 99% of its facts');
  });

  test('charts the final model by stream position when the run recorded it (four charts), and not otherwise', () => {
    expect(html).not.toContain('by position');
    expect((withPositions.match(/<svg class="chart"/g) ?? []).length).toBe(3 + 4);
    expect(withPositions).toContain('final ES by position in the stream');
    expect(withPositions).toContain('edits applied, by position');
    expect(withPositions).toContain('hiedit: 50.0% for edits 1-10');
    expect(withPositions).toContain('hiedit: 75.0% for edits 11-20');
    // a metric with no data (LS null here) draws no line
    const lsChart = withPositions.slice(withPositions.indexOf('final LS by position'), withPositions.indexOf('edits applied, by position'));
    expect(lsChart).not.toContain('<path');
  });

  test('is self-contained and escapes every name', () => {
    expect(html).not.toMatch(/https?:|\/\/[a-z]|<script|<link|src=/i);
    expect(html).not.toContain('<rledit>');
    expect(html).toContain('&lt;rledit&gt;');
    expect(html).not.toContain('<b>value</b>');
  });

  test('text and markdown tables show percentages', () => {
    const t = formatTable(sample());
    expect(t.split('\n')[0]).toMatch(/^editor\s+ES\s+GS/);
    expect(t).toMatch(/hiedit\s+90\.0\s+80\.0/);
    expect(formatMarkdownTable(sample())).toContain('| hiedit | 90.0 | 80.0 |');
    // hiedit mean (0.9+0.8+0.95)/3 vs <rledit> (0.5+0.8+0.95)/3: +17.8% relative with half the modules.
    expect(headline(sample(), 'hiedit', '<rledit>')).toMatch(/88\.3 vs 75\.0 \(relative \+17\.8%.*ratio 0\.50/);
    expect(headline(sample())).toBeUndefined();
  });
});
