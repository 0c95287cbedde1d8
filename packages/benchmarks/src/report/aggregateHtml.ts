/** summary.html: the multi-seed summary as one self-contained page (inline CSS, no script, no network). */
import { escapeHtml, renderReport } from './html';
import type { AggregateSummary, CheckStatus } from './aggregate';
import { comparisonRows, metricRows } from './aggregateFormat';

let reportCss: string | undefined;

/**
 * The stylesheet of report.html. html.ts keeps it private, so it is taken from a rendered (empty) report:
 * one source of styling for both pages without a second copy that would drift.
 */
export function reportStylesheet(): string {
  if (reportCss === undefined) {
    const page = renderReport({ results: { dataset: '-', model: '-', seed: 0, n_train: 0, n_eval: 0, num_pre: 0, editors: {}, curves: {} } });
    const m = /<style>([\s\S]*?)<\/style>/.exec(page);
    if (!m) throw new Error('renderReport produced no <style> block to reuse');
    reportCss = m[1];
  }
  return reportCss;
}

const STATUS_COLORS: Record<CheckStatus, string> = { met: '#1a7f37', missed: '#cf222e', 'not applicable': '#777', undefined: '#9a6700' };

function table(rows: string[][], left: number): string {
  const cell = (c: string, j: number, tag: 'th' | 'td') => `<${tag}${j < left ? ' style="text-align:left"' : ''}>${escapeHtml(c)}</${tag}>`;
  return (
    `<table><thead><tr>${rows[0].map((c, j) => cell(c, j, 'th')).join('')}</tr></thead><tbody>` +
    rows
      .slice(1)
      .map((r) => `<tr>${r.map((c, j) => cell(c, j, 'td')).join('')}</tr>`)
      .join('') +
    '</tbody></table>'
  );
}

/** The whole page. */
export function renderSummaryHtml(s: AggregateSummary): string {
  const title = `hiedit-bench aggregate: ${s.dataset}, ${s.seeds.length} seeds`;
  const runs = s.runs.map((r) => `<dt>seed ${r.seed}</dt><dd>${escapeHtml(`${r.dir} (${r.editors.join(', ')}; ${r.model}${r.created ? `; created ${r.created}` : ''})`)}</dd>`).join('');
  const comps = s.comparisons
    .map(
      (c) =>
        `<h2>${escapeHtml(`${c.candidate} vs ${c.baseline}`)}</h2>${table(comparisonRows(c), 1)}` +
        `<p class="muted">${escapeHtml(`${c.candidate} wins ${c.wins.ratioOfMeans} of ${c.wins.of} seeds by the ratio of the means, ${c.wins.meanOfRatios} of ${c.wins.of} by the mean of ratios.`)}</p>`,
    )
    .join('\n');
  const checks = s.checks
    .map((c) => `<tr><td style="text-align:left"><b style="color:${STATUS_COLORS[c.status]}">${escapeHtml(c.status)}</b></td><td style="text-align:left">${escapeHtml(c.target)}</td><td style="text-align:left">${escapeHtml(c.detail)}</td></tr>`)
    .join('');
  const notes = s.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${reportStylesheet()}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="muted">${escapeHtml(`model ${s.model ?? 'one pretrained model per seed'}; n_train ${s.n_train}, n_eval ${s.n_eval}, num_pre ${s.num_pre}. Percentages; sd = sample standard deviation over seeds (points for percentages).`)}</p>
${s.warnings.map((w) => `<p><b style="color:#cf222e">Warning:</b> ${escapeHtml(w)}</p>`).join('\n')}
<h2>Targets</h2>
<table><thead><tr><th style="text-align:left">status</th><th style="text-align:left">target</th><th style="text-align:left">detail</th></tr></thead><tbody>${checks}</tbody></table>
${notes ? `<ul class="muted">${notes}</ul>` : ''}
${comps}
<h2>Per editor and metric</h2>
${table(metricRows(s), 2)}
<h2>Runs</h2>
<dl>${runs}</dl>
</body></html>
`;
}
