/** A finished run's outputs: results.json, details.json and report.html, with the notes a reader needs. */
import { moduleHeatmap, type PositionBucket } from '../eval';
import { formatTable, headlines, renderReport, validateResults, type HeatmapData, type ResultsFile } from '../report';
import type { EditorRecord } from './evaluate';
import { RunDir, writeFileAtomic, writeJsonAtomic } from './state';

/** What the outputs are made of. */
export interface RunSummaryInputs {
  run: RunDir;
  editors: readonly string[];
  records: Readonly<Record<string, EditorRecord>>;
  /** results.json's identity fields. */
  results: Omit<ResultsFile, 'editors' | 'curves'>;
  /** The run's settings (details.json). */
  settings: Readonly<Record<string, unknown>>;
  /** Settings shown in the report, beside the retention lines added here. */
  reportSettings: Readonly<Record<string, string | number | boolean>>;
  /** Candidate modules (rows of the heat maps). */
  modules: readonly string[];
  /** Notes so far (data, model, baseline); the editors' notes are added here. */
  notes: readonly string[];
}

/** Writes results.json, details.json and report.html; returns the results and the table printed at the end. */
export function writeRunOutputs(inp: RunSummaryInputs): { results: ResultsFile; table: string } {
  const { run, editors, records } = inp;
  const results: ResultsFile = {
    ...inp.results,
    editors: Object.fromEntries(editors.map((n) => [n, records[n].metrics])),
    curves: Object.fromEntries(editors.map((n) => [n, records[n].curve])),
  };
  validateResults(results);
  const notes = [...inp.notes];
  const options = Object.fromEntries(editors.flatMap((n) => (records[n].options !== undefined ? [[n, records[n].options!]] : [])));
  const heads = headlines(results, options);
  notes.push(...heads);
  notes.push(...skippedEditNotes(Object.fromEntries(editors.map((n) => [n, records[n].modulesPerEdit]))));
  notes.push(...movedOnEditNotes(Object.fromEntries(editors.map((n) => [n, { moved: records[n].movedOnEdits, edits: records[n].modulesPerEdit.length }]))));
  const heatmaps: Record<string, HeatmapData> = {};
  for (const n of editors) heatmaps[n] = moduleHeatmap(records[n].modulesPerEdit, inp.modules);
  const reportSettings = {
    ...inp.reportSettings,
    ...Object.fromEntries(
      editors.map((n) => [
        `retention ${n}`,
        `${(100 * records[n].retention.before).toFixed(1)}% -> ${(100 * records[n].retention.after).toFixed(1)}% held-out token accuracy`,
      ]),
    ),
  };
  writeJsonAtomic(run.resultsJson, results);
  writeJsonAtomic(run.detailsJson, {
    settings: inp.settings,
    notes,
    editors: Object.fromEntries(
      editors.map((n) => {
        const r = records[n];
        return [n, { train: r.train, retention: r.retention, modulesPerEdit: r.modulesPerEdit, msPerEdit: r.msPerEdit,
          movedOnEdits: r.movedOnEdits, byPosition: r.byPosition, finalWeightsDigest: r.finalWeightsDigest, journal: r.journal,
          options: r.options }];
      }),
    ),
    heatmaps,
  });
  const byPosition: Record<string, PositionBucket[]> = {};
  for (const n of editors) if (records[n].byPosition) byPosition[n] = records[n].byPosition!;
  writeFileAtomic(run.reportHtml, renderReport({ results, heatmaps, byPosition, settings: reportSettings, notes }));
  return { results, table: heads.length ? `${formatTable(results)}\n\n${heads.join('\n')}` : formatTable(results) };
}

/**
 * One note per editor that left edits unapplied (no module shifted: HiEdit's calibration skips an edit that does not
 * hold within its strength range), since the metrics still count those requests and layers_per_edit alone hides why.
 */
export function skippedEditNotes(modulesPerEdit: Readonly<Record<string, readonly (readonly string[])[]>>): string[] {
  const out: string[] = [];
  for (const [name, edits] of Object.entries(modulesPerEdit)) {
    const skipped = edits.filter((m) => m.length === 0).length;
    if (skipped > 0) {
      out.push(`${name} applied ${edits.length - skipped} of ${edits.length} edits (${(100 * (edits.length - skipped) / edits.length).toFixed(1)}%); ` +
        `the other ${skipped} shifted no module (no module set the editor tried made them hold on their prompt within its calibration range, so they were skipped), ` +
        'and the metrics count them as they are.');
    }
  }
  return out;
}

/**
 * One note per editor that moved edits past its gate's first choice (calibration's 'next' rule), with the count.
 * Editors whose results predate the count (undefined) or that moved none are left out.
 */
export function movedOnEditNotes(counts: Readonly<Record<string, { moved?: number; edits: number }>>): string[] {
  const out: string[] = [];
  for (const [name, { moved, edits }] of Object.entries(counts)) {
    if (moved !== undefined && moved > 0) {
      out.push(`${name} moved ${moved} of ${edits} edits (${(100 * moved / edits).toFixed(1)}%) to its gate's next-ranked modules: ` +
        "the gate's first choice could not make them hold within the calibration range.");
    }
  }
  return out;
}
