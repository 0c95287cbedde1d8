/** `hiedit-bench aggregate DIR...`: the headline comparison over several seeds, with its spread. */
import * as path from 'path';
import { CliUsageError, defineCommand, type CliCommand } from '@hiedit/tensor-core';
import { aggregateRuns, formatSummary, loadSeedRun, writeSummary } from '../report';

const SYNOPSIS = 'aggregate DIR... [--out DIR] [--markdown] [--baseline rledit] [--candidate hiedit] [--no-html] [--across-models]';

const DESCRIPTION = `Aggregates runs of one experiment over their seeds: reads each DIR/results.json (checked against the
results contract), refuses runs that differ in anything but the seed (dataset, data file, scoring style,
model, n_train, n_eval, num_pre; the same seed twice), and prints:
  - per editor and metric: mean, sample sd, min, max, number of seeds, and each seed's value;
  - candidate vs baseline per seed, on the seed-means, and mean ± sd of the per-seed gains: the relative
    gain over ES/GS/LS as the mean of the per-metric relative differences and as the ratio of the means,
    the modules-per-edit ratio, and how many seeds the candidate wins; the same for hiedit vs
    hiedit-reference when both ran;
  - the issue's targets, met or missed: gain >= +8.48% and modules ratio <= 0.5 on the seed-means, hiedit >=
    hiedit-reference, Pre_* within 5 points of ES/GS/LS for every editor (streams of >= 1000 edits).
counterfact / zsre runs without --model edit a facts model pretrained per seed; those are accepted when
every details.json names the same data file.`;

const FLAG_HELP = [
  '--out DIR          where summary.json and summary.html go (default bench-out/DATASET-aggregate)',
  '--markdown         print GitHub Markdown instead of text tables',
  '--baseline NAME    default rledit',
  '--candidate NAME   default hiedit',
  '--no-html          write summary.json only',
  '--across-models    accept runs that edited different models (hiedit-bench run --model-seed S, one per seed):',
  '                   the spread then includes the model\'s pretraining',
];

/** The `aggregate` command. */
export const aggregateCommand: CliCommand = defineCommand({
  program: 'hiedit-bench',
  name: 'aggregate',
  summary: 'aggregate runs of several seeds: mean/sd per metric, the headline gain, the target checks',
  synopsis: SYNOPSIS,
  description: DESCRIPTION,
  flagHelp: FLAG_HELP,
  flags: { out: 'string', markdown: 'boolean', baseline: 'string', candidate: 'string', html: 'boolean', 'across-models': 'boolean' },
  positional: true,
  async action(flags, io, positional) {
    if (positional.length === 0) throw new CliUsageError('expected at least one run directory');
    const candidate = flags.candidate ?? 'hiedit';
    const baseline = flags.baseline ?? 'rledit';
    if (candidate === baseline) throw new CliUsageError(`--candidate and --baseline are both ${JSON.stringify(candidate)}`);
    const runs = positional.map(loadSeedRun);
    // A misspelt editor given explicitly is a usage error; the defaults may simply not have run.
    for (const [flag, name] of [['candidate', flags.candidate], ['baseline', flags.baseline]] as const) {
      if (name !== undefined && !runs.some((r) => name in r.results.editors)) {
        const known = [...new Set(runs.flatMap((r) => Object.keys(r.results.editors)))].join(', ');
        throw new CliUsageError(`--${flag} ${name}: no such editor in the runs (they have ${known})`);
      }
    }
    const summary = aggregateRuns(runs, { candidate, baseline, acrossModels: flags['across-models'] ?? false });
    const out = flags.out ?? path.join('bench-out', `${summary.dataset}-aggregate`);
    const written = writeSummary(out, summary, { html: flags.html ?? true });
    io.out(`${formatSummary(summary, flags.markdown ?? false)}\n\n`);
    io.out(`summary: ${path.resolve(written.json)}\n`);
    if (written.html) io.out(`page:    ${path.resolve(written.html)}\n`);
    return 0;
  },
});
