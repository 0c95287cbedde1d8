/** Writing the multi-seed summary: OUT/summary.json and, optionally, OUT/summary.html, each atomically. */
import * as path from 'path';
import { writeFileAtomic, writeJsonAtomic } from '@hiedit/tensor-core';
import type { AggregateSummary } from './aggregate';
import { renderSummaryHtml } from './aggregateHtml';

/** Writes OUT/summary.json (and OUT/summary.html unless `html` is false); returns the paths written. */
export function writeSummary(outDir: string, summary: AggregateSummary, opts: { html?: boolean } = {}): { json: string; html?: string } {
  const json = path.join(outDir, 'summary.json');
  writeJsonAtomic(json, summary);
  if (opts.html === false) return { json };
  const html = path.join(outDir, 'summary.html');
  writeFileAtomic(html, renderSummaryHtml(summary));
  return { json, html };
}
