/** The multi-seed summary as text tables (terminal) or GitHub Markdown (docs), and as rows for HTML. */
import { EDITOR_METRIC_KEYS, FRACTION_KEYS } from './results';
import { formatCell, rowLabel, TABLE_COLUMNS } from './table';
import type { AggregateSummary, Comparison, EditorMetricKey, Gain, MetricStats, TargetCheck } from './aggregate';

const FRACTIONS = new Set<string>(FRACTION_KEYS);

function head(k: EditorMetricKey): string {
  return TABLE_COLUMNS.find((c) => c.key === k)?.head ?? k;
}

/** A standard deviation in the unit its metric is shown in (points for fractions). */
function formatStd(k: EditorMetricKey, v: number | null): string {
  if (v === null) return '-';
  if (FRACTIONS.has(k)) return (100 * v).toFixed(1);
  return k === 'layers_per_edit' || k === 'modules_per_applied_edit' ? v.toFixed(2) : v.toFixed(1);
}

/** A relative difference in percent with its sign; rounding noise around 0 reads "+0.0%", not "-0.0%". */
function rel(v: number | null): string {
  if (v === null) return 'undef.';
  const t = (100 * v).toFixed(1);
  return t.startsWith('-') && Number(t) !== 0 ? `${t}%` : `+${t.replace(/^-/, '')}%`;
}

function pctOrDash(v: number | null): string {
  return v === null ? '-' : (100 * v).toFixed(1);
}

function ratio(v: number | null): string {
  return v === null ? 'undef.' : v.toFixed(2);
}

function statsText(s: MetricStats, f: (v: number | null) => string): string {
  if (s.mean === null) return 'undef.';
  return s.std === null ? f(s.mean) : `${f(s.mean)} ± ${f(s.std).replace(/^\+/, '')}`;
}

/** Rows (heading first) of the per-editor, per-metric statistics; fractions in percent, sd in points. */
export function metricRows(s: AggregateSummary): string[][] {
  const rows = [['editor', 'metric', 'mean', 'sd', 'min', 'max', 'n', ...s.seeds.map((x) => `seed ${x}`)]];
  for (const [name, stats] of Object.entries(s.editors)) {
    for (const k of EDITOR_METRIC_KEYS) {
      const m = stats[k];
      rows.push([
        rowLabel(name),
        head(k),
        formatCell(k, m.mean),
        formatStd(k, m.std),
        formatCell(k, m.min),
        formatCell(k, m.max),
        String(m.n),
        ...m.perSeed.map((v) => formatCell(k, v)),
      ]);
    }
  }
  return rows;
}

function gainCells(g: Gain): string[] {
  return [pctOrDash(g.candidateMean), pctOrDash(g.baselineMean), rel(g.perMetric.ES), rel(g.perMetric.GS), rel(g.perMetric.LS), rel(g.meanOfRatios), rel(g.ratioOfMeans), ratio(g.modulesRatio)];
}

/** Rows (heading first) of one comparison: each seed, the seed-means, and mean ± sd of the per-seed gains. */
export function comparisonRows(c: Comparison): string[][] {
  const rows = [
    ['seed', `${c.candidate} mean`, `${c.baseline} mean`, 'ES rel.', 'GS rel.', 'LS rel.', 'mean of ratios', 'ratio of means', 'modules ratio'],
  ];
  for (const g of c.perSeed) rows.push([String(g.seed), ...gainCells(g)]);
  rows.push(['seed-means', ...gainCells(c.onSeedMeans)]);
  rows.push([
    'per-seed gains, mean ± sd',
    '',
    '',
    '',
    '',
    '',
    statsText(c.acrossSeeds.meanOfRatios, rel),
    statsText(c.acrossSeeds.ratioOfMeans, rel),
    statsText(c.acrossSeeds.modulesRatio, ratio),
  ]);
  return rows;
}

/** One line per target: status, target, detail. */
export function checkLines(checks: readonly TargetCheck[]): string[] {
  return checks.map((c) => `[${c.status}] ${c.target}: ${c.detail}`);
}

/** A fixed-width (text) or GitHub Markdown table; the first `left` columns are left-aligned. */
export function renderRows(rows: string[][], markdown: boolean, left = 1): string {
  if (markdown) {
    const esc = (c: string) => c.replace(/\|/g, '\\|');
    return [
      `| ${rows[0].map(esc).join(' | ')} |`,
      `| ${rows[0].map((_, j) => (j < left ? '---' : '---:')).join(' | ')} |`,
      ...rows.slice(1).map((r) => `| ${r.map(esc).join(' | ')} |`),
    ].join('\n');
  }
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, j) => (j < left ? c.padEnd(widths[j]) : c.padStart(widths[j])))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The whole summary for the terminal (or Markdown): runs, metric statistics, comparisons, target checks. */
export function formatSummary(s: AggregateSummary, markdown = false): string {
  const out: string[] = [];
  const h = (t: string) => (markdown ? `### ${t}` : `${t}\n${'='.repeat(t.length)}`);
  out.push(h(`${s.dataset}: ${s.seeds.length} seeds (${s.seeds.join(', ')})`));
  out.push(
    `model ${s.model ?? 'one pretrained model per seed'}, n_train ${s.n_train}, n_eval ${s.n_eval}, num_pre ${s.num_pre}` +
      (s.dataHash ? `, data sha256 ${s.dataHash.slice(0, 12)}` : ''),
  );
  const runLines = s.runs.map(
    (r) => `seed ${r.seed}: ${r.dir} (${r.editors.join(', ')}${s.model === null ? `; ${r.model}` : ''}${r.created ? `; run created ${r.created}` : ''})`,
  );
  out.push(markdown ? runLines.map((l) => `- ${l}`).join('\n') : runLines.map((l) => `  ${l}`).join('\n'));
  // Before the numbers: they are not to be read without these.
  for (const w of s.warnings) out.push(markdown ? `\n**Warning:** ${w}` : `\nWARNING: ${w}`);
  out.push('');
  out.push(h('Per editor and metric (ES/GS/LS... in %, sd in points; mods/edit, ms/edit, train s as measured)'));
  // A Markdown table runs on into the next non-blank line, so it needs a blank line after it.
  const tableEnd = markdown ? '\n' : '';
  out.push(renderRows(metricRows(s), markdown, 2) + tableEnd);
  for (const c of s.comparisons) {
    out.push('');
    out.push(h(`${c.candidate} vs ${c.baseline} (relative differences over ES/GS/LS; means in %)`));
    out.push(renderRows(comparisonRows(c), markdown, 1) + tableEnd);
    out.push(
      `${c.candidate} wins ${c.wins.ratioOfMeans} of ${c.wins.of} seeds by the ratio of the means, ` +
        `${c.wins.meanOfRatios} of ${c.wins.of} by the mean of ratios.`,
    );
  }
  out.push('');
  out.push(h('Targets (issue 5)'));
  out.push(checkLines(s.checks).map((l) => (markdown ? `- ${l}` : l)).join('\n'));
  if (s.notes.length > 0) {
    out.push('');
    out.push(s.notes.map((n) => (markdown ? `- ${n}` : `note: ${n}`)).join('\n'));
  }
  return out.join('\n');
}
