/**
 * `hiedit-bench report DIR` re-renders a run's report.html from its results.json and details.json;
 * `hiedit-bench validate FILE` checks a results.json against the contract (for CI and for other tools'
 * outputs).
 */
import * as fs from 'fs';
import * as path from 'path';
import { CliUsageError, defineCommand, type CliCommand } from '@hiedit/tensor-core';
import { formatMarkdownTable, formatTable, headlines, renderReport, resultsProblems, validateResults, type HeatmapData } from '../report';
import { writeFileAtomic } from '../runner/state';
import type { PositionBucket } from '../eval';

function readJson(file: string): unknown {
  if (!fs.existsSync(file)) throw new Error(`${file} not found`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** `report DIR [--markdown]`. */
export const reportCommand: CliCommand = defineCommand({
  program: 'hiedit-bench',
  name: 'report',
  summary: 're-render DIR/report.html from DIR/results.json (+ details.json) and print the table',
  synopsis: 'report DIR [--markdown]',
  description: `Re-renders DIR/report.html from DIR/results.json and, when present, DIR/details.json (heat maps, settings,
notes), and prints the results table.`,
  flagHelp: ['--markdown   print the table as GitHub Markdown'],
  flags: { markdown: 'boolean' },
  positional: true,
  async action(flags, io, positional) {
    if (positional.length !== 1) throw new CliUsageError('expected exactly one run directory');
    const dir = positional[0];
    const results = validateResults(readJson(path.join(dir, 'results.json')), path.join(dir, 'results.json'));
    const detailsFile = path.join(dir, 'details.json');
    const details = fs.existsSync(detailsFile)
      ? (readJson(detailsFile) as {
          heatmaps?: Record<string, HeatmapData>; settings?: Record<string, string | number | boolean | null>; notes?: string[];
          editors?: Record<string, { byPosition?: PositionBucket[]; options?: string }>;
        })
      : {};
    // runs written before byPosition was recorded have none; the page then leaves the section out
    const byPosition: Record<string, PositionBucket[]> = {};
    for (const [n, e] of Object.entries(details.editors ?? {})) if (Array.isArray(e?.byPosition)) byPosition[n] = e.byPosition;
    const settings: Record<string, string | number | boolean | null> = {};
    for (const [k, v] of Object.entries(details.settings ?? {})) settings[k] = typeof v === 'object' && v !== null ? JSON.stringify(v) : v;
    const out = path.join(dir, 'report.html');
    writeFileAtomic(out, renderReport({ results, heatmaps: details.heatmaps, byPosition, settings, notes: details.notes }));
    io.out(`${flags.markdown ? formatMarkdownTable(results) : formatTable(results)}\n`);
    // The run's details record each editor's edit-time options, so the lines say whether they were equal.
    const options: Record<string, string> = {};
    for (const [n, e] of Object.entries(details.editors ?? {})) if (typeof e?.options === 'string') options[n] = e.options;
    const heads = headlines(results, options);
    if (heads.length) io.out(`\n${heads.join('\n')}\n`);
    io.out(`report: ${path.resolve(out)}\n`);
    return 0;
  },
});

/** `validate FILE...`. */
export const validateCommand: CliCommand = defineCommand({
  program: 'hiedit-bench',
  name: 'validate',
  summary: 'check results.json files against the results contract',
  synopsis: 'validate FILE...',
  description: `Checks each file against the results.json contract (keys, fractions in 0..1, increasing curves) and lists
every problem. Exit code 1 when any file fails.`,
  flagHelp: [],
  flags: {},
  positional: true,
  async action(_flags, io, positional) {
    if (positional.length === 0) throw new CliUsageError('expected at least one results.json');
    let bad = 0;
    for (const f of positional) {
      let problems: string[];
      try {
        problems = resultsProblems(readJson(f), f);
      } catch (e) {
        problems = [(e as Error).message];
      }
      if (problems.length === 0) io.out(`${f}: ok\n`);
      else {
        bad++;
        io.err(`${problems.join('\n')}\n`);
      }
    }
    return bad === 0 ? 0 : 1;
  },
});
