/** The results table as plain text, for the terminal at the end of a run and for docs. */
import { FRACTION_KEYS, type EditorResult, type ResultsFile } from './results';

/** Column headings and how each cell is formatted. */
export const TABLE_COLUMNS: { key: keyof EditorResult; head: string }[] = [
  { key: 'ES', head: 'ES' },
  { key: 'GS', head: 'GS' },
  { key: 'LS', head: 'LS' },
  { key: 'LS_gold', head: 'LS_gold' },
  { key: 'Pre_ES', head: 'Pre_ES' },
  { key: 'Pre_GS', head: 'Pre_GS' },
  { key: 'Pre_LS', head: 'Pre_LS' },
  { key: 'WILD_ES', head: 'WILD_ES' },
  { key: 'WILD_GS', head: 'WILD_GS' },
  { key: 'retention', head: 'Retain' },
  { key: 'applied_share', head: 'applied' },
  { key: 'layers_per_edit', head: 'mods/edit' },
  { key: 'modules_per_applied_edit', head: 'mods/applied' },
  { key: 'ms_per_edit', head: 'ms/edit' },
  { key: 'train_seconds', head: 'train s' },
];

/** A cell's text: fractions as percentages with one decimal, costs with sensible precision. */
export function formatCell(key: keyof EditorResult, v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if ((FRACTION_KEYS as readonly string[]).includes(key)) return (100 * v).toFixed(1);
  if (key === 'layers_per_edit' || key === 'modules_per_applied_edit') return v.toFixed(2);
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/**
 * Editors that are upper bounds, not editors: oracle-k chooses each edit's modules by its own evaluation prompts, so
 * every table labels its row.
 */
export const UPPER_BOUND_EDITORS: readonly string[] = ['oracle-k'];

/** The name an editor's row is shown under: upper bounds say so. */
export function rowLabel(name: string): string {
  return UPPER_BOUND_EDITORS.includes(name) ? `${name} (upper bound)` : name;
}

/** Rows of cells (heading first) for the editors of a results file. */
export function tableRows(results: ResultsFile): string[][] {
  const rows = [['editor', ...TABLE_COLUMNS.map((c) => c.head)]];
  for (const [name, r] of Object.entries(results.editors)) rows.push([rowLabel(name), ...TABLE_COLUMNS.map((c) => formatCell(c.key, r[c.key]))]);
  return rows;
}

/** A fixed-width text table; fractions are shown in percent. */
export function formatTable(results: ResultsFile): string {
  const rows = tableRows(results);
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The same table in GitHub Markdown (for docs/benchmarks.md). */
export function formatMarkdownTable(results: ResultsFile): string {
  const rows = tableRows(results);
  const out = [`| ${rows[0].join(' | ')} |`, `| ${rows[0].map((_, j) => (j === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows.slice(1)) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

/** Mean of ES, GS and LS (the paper's summary score), over the metrics that were measured. */
export function meanEsGsLs(r: EditorResult): number {
  const xs = [r.ES, r.GS, r.LS].filter((v): v is number => typeof v === 'number');
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * One comparison of two editors: `a`'s mean of ES/GS/LS relative to `b`'s, modules per edit over all edits and per
 * applied edit, and the applied shares. `options` (edit-time machinery per editor, when the run knows it) says whether
 * the two ran at equal options.
 */
export function comparison(results: ResultsFile, a: string, b: string, options: Readonly<Record<string, string>> = {}, claim = ''): string | undefined {
  const ra = results.editors[a];
  const rb = results.editors[b];
  if (!ra || !rb) return undefined;
  const ma = meanEsGsLs(ra);
  const mb = meanEsGsLs(rb);
  const rel = mb > 0 ? `${((100 * (ma - mb)) / mb).toFixed(1)}%` : 'n/a';
  const mods = rb.layers_per_edit > 0 ? (ra.layers_per_edit / rb.layers_per_edit).toFixed(2) : 'n/a';
  const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${(100 * v).toFixed(1)}%` : '-');
  const perApplied = (v: number | null | undefined) => (typeof v === 'number' ? v.toFixed(2) : '-');
  const oa = options[a];
  const ob = options[b];
  const footing = oa === undefined || ob === undefined ? ''
    : oa === ob ? ` at equal edit-time options (${oa})` : ` at UNEQUAL edit-time options (${a}: ${oa}; ${b}: ${ob})`;
  return (
    `${a} vs ${b}${footing}: mean of ES/GS/LS ${(100 * ma).toFixed(1)} vs ${(100 * mb).toFixed(1)} (relative ${rel.startsWith('-') ? '' : '+'}${rel}${claim}), ` +
    `modules per edit ${ra.layers_per_edit.toFixed(2)} vs ${rb.layers_per_edit.toFixed(2)} (ratio ${mods}), ` +
    `per applied edit ${perApplied(ra.modules_per_applied_edit)} vs ${perApplied(rb.modules_per_applied_edit)}, ` +
    `applied ${pct(ra.applied_share)} vs ${pct(rb.applied_share)}.`
  );
}

/**
 * The paper's headline comparison, when both editors ran: HiEdit's mean of ES/GS/LS relative to RLEdit's
 * (the paper claims at least +8.48%) and the modules each shifts per edit (HiEdit: at most half).
 */
export function headline(results: ResultsFile, a = 'hiedit', b = 'rledit', options: Readonly<Record<string, string>> = {}): string | undefined {
  return comparison(results, a, b, options, '; the paper reports +8.48%');
}

/**
 * The comparison lines a run prints: HiEdit against RLEdit (equal options or not, said so) and against random-k (the
 * same low level with modules picked by chance), each when both editors ran, and the noop floor when it ran.
 */
export function headlines(results: ResultsFile, options: Readonly<Record<string, string>> = {}): string[] {
  const out: string[] = [];
  const main = headline(results, 'hiedit', 'rledit', options);
  if (main) out.push(main);
  const chance = comparison(results, 'hiedit', 'random-k', options);
  if (chance) out.push(chance);
  const floor = results.editors.noop;
  if (floor) out.push(`noop (applies nothing) scores a mean of ES/GS/LS of ${(100 * meanEsGsLs(floor)).toFixed(1)}: the floor an editor that skips its edits tends to.`);
  return out;
}
