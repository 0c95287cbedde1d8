/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, no network) with the results
 * table, line charts of the curves, a heat map of the modules each editor shifted along the stream,
 * and the settings of the run.
 */
import type { ResultsFile, ResultsCurvePoint } from './results';
import { tableRows } from './table';
import type { PositionBucket } from '../eval/position';

/** Module use along the stream (see eval/stream.ts moduleHeatmap). */
export interface HeatmapData {
  modules: string[];
  /** Bucket boundaries in edits: bucket b covers edits [edges[b], edges[b+1]). */
  edges: number[];
  /** values[module][bucket] = fraction of the bucket's edits that shifted the module. */
  values: number[][];
}

/** What the page shows. */
export interface ReportInput {
  results: ResultsFile;
  heatmaps?: Record<string, HeatmapData>;
  /** Final-model metrics by the edit's position in the stream (absent in runs written before it was recorded). */
  byPosition?: Record<string, readonly PositionBucket[]>;
  /** The run's settings, shown as a key/value list. */
  settings?: Record<string, string | number | boolean | null>;
  /** Free-text remarks (e.g. the model's accuracy before editing). */
  notes?: string[];
  title?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** One line of a chart: points in x order, each with its tooltip. */
interface ChartLine {
  readonly name: string;
  readonly points: readonly { x: number; y: number; tip: string }[];
}

/** An SVG line chart of fractions (y in 0..1) with one line per editor. */
function lineChart(
  lines: readonly ChartLine[],
  o: { title: string; xLabel: string; ticks: readonly number[]; minX: number; maxX: number; logX: boolean },
  colors: Record<string, string>,
): string {
  const W = 360;
  const H = 220;
  const L = 44;
  const R = 12;
  const T = 24;
  const B = 36;
  const { minX, maxX } = o;
  const sx = (x: number) => {
    const f = o.logX ? Math.log(x / minX) / Math.log(maxX / minX) : maxX === minX ? 1 : (x - minX) / (maxX - minX);
    return L + f * (W - L - R);
  };
  const sy = (y: number) => T + (1 - y) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(o.title)}">`);
  parts.push(`<text x="${W / 2}" y="15" text-anchor="middle" class="title">${escapeHtml(o.title)}</text>`);
  for (const y of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" class="grid"/>`);
    parts.push(`<text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end" class="tick">${Math.round(y * 100)}%</text>`);
  }
  for (const x of o.ticks) parts.push(`<text x="${sx(x)}" y="${H - B + 14}" text-anchor="middle" class="tick">${x}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle" class="tick">${escapeHtml(o.xLabel)}</text>`);
  for (const line of lines) {
    if (line.points.length === 0) continue;
    const d = line.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
    const color = colors[line.name];
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"><title>${escapeHtml(line.name)}</title></path>`);
    for (const p of line.points) {
      parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${color}"><title>${escapeHtml(p.tip)}</title></circle>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/** A line chart of one curve metric, one line per editor. */
export function curveChart(
  curves: Record<string, ResultsCurvePoint[]>,
  metric: 'ES' | 'GS' | 'LS',
  colors: Record<string, string>,
): string {
  const all = Object.values(curves).flat();
  const maxX = Math.max(1, ...all.map((p) => p.edits));
  const minX = Math.max(1, Math.min(maxX, ...all.map((p) => p.edits)));
  // Checkpoints grow geometrically (10, 20, 50, ...): a log axis spaces them evenly when the range is wide.
  const logX = maxX / minX >= 20;
  const lines = Object.entries(curves).map(([name, pts]) => ({
    name,
    points: pts.filter((p) => typeof p[metric] === 'number').map((p) => ({
      x: p.edits, y: p[metric] as number, tip: `${name}: ${(100 * (p[metric] as number)).toFixed(1)}% after ${p.edits} edits`,
    })),
  }));
  const ticks = [...new Set(all.map((p) => p.edits))].sort((a, b) => a - b);
  return lineChart(lines, { title: `${metric} along the stream`, xLabel: `edits${logX ? ' (log scale)' : ''}`, ticks, minX, maxX, logX }, colors);
}

/**
 * One metric of the final model by the edit's position in the stream, one line per editor; each point is a bucket
 * of consecutive edits, placed at its last edit. 'applied' is the share of the bucket's edits that shifted a module.
 */
export function positionChart(byPosition: Record<string, readonly PositionBucket[]>, metric: 'ES' | 'GS' | 'LS' | 'applied', colors: Record<string, string>): string {
  const lines = Object.entries(byPosition).map(([name, buckets]) => ({
    name,
    points: buckets.filter((b) => typeof b[metric] === 'number').map((b) => ({
      x: b.to, y: b[metric] as number, tip: `${name}: ${(100 * (b[metric] as number)).toFixed(1)}% for edits ${b.from}-${b.to}`,
    })),
  }));
  const ticks = [...new Set(Object.values(byPosition).flatMap((bs) => bs.map((b) => b.to)))].sort((a, b) => a - b);
  const title = metric === 'applied' ? 'edits applied, by position' : `final ${metric} by position in the stream`;
  const minX = ticks.length > 0 ? ticks[0] : 1;
  const maxX = ticks.length > 0 ? ticks[ticks.length - 1] : 1;
  return lineChart(lines, { title, xLabel: 'edit position (last edit of each group)', ticks, minX, maxX, logX: false }, colors);
}

/** A heat map: modules down, stream buckets across, darker = shifted by more of the bucket's edits. */
export function heatmapSvg(name: string, h: HeatmapData): string {
  const cell = 14;
  const labelW = Math.min(260, 8 + 6.5 * Math.max(4, ...h.modules.map((m) => m.length)));
  const cols = h.values[0]?.length ?? 0;
  const W = labelW + cols * cell + 10;
  const Ht = 20 + h.modules.length * cell + 24;
  const parts: string[] = [];
  parts.push(`<svg class="heat" viewBox="0 0 ${W} ${Ht}" width="${W}" height="${Ht}" role="img" aria-label="modules shifted by ${escapeHtml(name)}">`);
  h.modules.forEach((m, r) => {
    const y = 20 + r * cell;
    parts.push(`<text x="${labelW - 4}" y="${y + cell - 3}" text-anchor="end" class="tick">${escapeHtml(m)}</text>`);
    for (let b = 0; b < cols; b++) {
      const v = Math.max(0, Math.min(1, h.values[r][b]));
      // White (never shifted) to dark blue (shifted by every edit of the bucket).
      const c = (a: number, z: number) => Math.round(a + (z - a) * v);
      const fill = `rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})`;
      parts.push(
        `<rect x="${labelW + b * cell}" y="${y}" width="${cell - 1}" height="${cell - 1}" fill="${fill}">` +
          `<title>${escapeHtml(m)}, edits ${h.edges[b] + 1}-${h.edges[b + 1]}: ${(100 * v).toFixed(0)}%</title></rect>`,
      );
    }
  });
  const last = h.edges[h.edges.length - 1] ?? 0;
  parts.push(`<text x="${labelW}" y="${Ht - 6}" class="tick">edit 1</text>`);
  parts.push(`<text x="${labelW + cols * cell}" y="${Ht - 6}" text-anchor="end" class="tick">edit ${last}</text>`);
  parts.push(`<text x="${labelW}" y="13" class="title">${escapeHtml(name)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

const CSS = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f5f5f5}
.charts,.heats{display:flex;flex-wrap:wrap;gap:16px}.chart,.heat{background:#fff;border:1px solid #eee}
.grid{stroke:#eee}.tick{font-size:10px;fill:#555}.title{font-size:12px;font-weight:600;fill:#222}
.legend span{display:inline-block;margin-right:14px;font-size:13px}.legend i{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;font-size:13px}dt{font-weight:600}dd{margin:0}
.muted{color:#777;font-size:12px}
`;

/** The whole page. */
export function renderReport(input: ReportInput): string {
  const r = input.results;
  const names = Object.keys(r.editors);
  const colors: Record<string, string> = {};
  [...new Set([...names, ...Object.keys(r.curves)])].forEach((n, i) => (colors[n] = PALETTE[i % PALETTE.length]));
  const title = input.title ?? `hiedit-bench: ${r.dataset}`;
  const rows = tableRows(r);
  const table =
    `<table><thead><tr>${rows[0].map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>` +
    rows
      .slice(1)
      .map((row) => `<tr>${row.map((c, j) => (j === 0 ? `<td><b style="color:${colors[c]}">${escapeHtml(c)}</b></td>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`)
      .join('') +
    '</tbody></table>';
  const legend = `<p class="legend">${Object.keys(r.curves)
    .map((n) => `<span><i style="background:${colors[n]}"></i>${escapeHtml(n)}</span>`)
    .join('')}</p>`;
  const charts = (['ES', 'GS', 'LS'] as const).map((m) => curveChart(r.curves, m, colors)).join('');
  const byPosition = input.byPosition && Object.keys(input.byPosition).length > 0
    ? (['ES', 'GS', 'LS', 'applied'] as const).map((m) => positionChart(input.byPosition!, m, colors)).join('')
    : '';
  const heats = Object.entries(input.heatmaps ?? {})
    .map(([n, h]) => heatmapSvg(n, h))
    .join('');
  const settings = Object.entries({
    dataset: r.dataset,
    model: r.model,
    seed: r.seed,
    n_train: r.n_train,
    n_eval: r.n_eval,
    num_pre: r.num_pre,
    ...(input.settings ?? {}),
  })
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v === null ? '-' : String(v))}</dd>`)
    .join('');
  const notes = (input.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="muted">Lifelong editing: ${fmt(r.n_eval)} edits in one stream on ${escapeHtml(r.model)}; every metric measured on the final model (Pre_* on the first ${fmt(r.num_pre)} edits). Percentages; applied = share of edits that shifted at least one module; mods/edit = modules shifted per edit over all edits, mods/applied over the applied ones; a row marked (upper bound) looked at evaluation prompts.</p>
<h2>Results</h2>
${table}
${notes ? `<ul class="muted">${notes}</ul>` : ''}
<h2>Curves (metrics over the requests edited so far)</h2>
${legend}
<div class="charts">${charts}</div>
${byPosition ? `<h2>Which edits survived: the final model by position in the stream</h2>
<p class="muted">Each point is a group of consecutive edits, measured after the whole stream. Early edits lower than later ones that were applied as often were worn down by the edits after them; a low applied share means the editor skipped those edits.</p>
<div class="charts">${byPosition}</div>` : ''}
<h2>Modules shifted along the stream</h2>
<p class="muted">Rows: modules; columns: consecutive groups of edits; darker = a larger share of the group's edits shifted the module.</p>
<div class="heats">${heats || '<p class="muted">No module records.</p>'}</div>
<h2>Settings</h2>
<dl>${settings}</dl>
</body></html>
`;
}
