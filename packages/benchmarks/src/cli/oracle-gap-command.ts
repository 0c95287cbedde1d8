/**
 * `hiedit-bench oracle-gap`: the gap between a per-edit oracle choice of modules and the best single fixed choice, on a
 * run's evaluation requests (runner/oracleGap.ts). Takes the run's flags, so it reuses the run's cached model and
 * trained HiEdit editor when given the same ones.
 */
import * as path from 'path';
import { defineCommand, type CliCommand } from '@hiedit/tensor-core';
import { progressFactory } from '../progress';
import type { RunnerDeps } from '../runner';
import { defaultDeps } from '../runner/defaults';
import { DEFAULT_MAX_SETS } from '../runner/oracleGap';
import { runOracleGap } from '../runner/oracleGapRun';
import { depsArgs, RUN_FLAG_HELP, RUN_FLAGS, runArgsFromFlags, startBenchCommand, type DepsArgs } from './main';

const ORACLE_GAP_DESCRIPTION = `Measures the oracle gap on a run's evaluation requests. Trains (or reuses, through the run's cache keys:
give the run's flags) the run's hiedit editor as \`run\` does; then for each evaluation request, from the
BASE model each time (a per-edit judgement, not the lifelong stream), applies HiEdit's trained low-level
shift to every set of k candidate modules at the run's edit-time options (each set at its own calibrated
strength; a set that misses under the skip / fallback rule counts as not applied) and scores it with the
benchmark's metrics on that edit's own prompts: score[edit][set] = mean(ES, GS, LS).

Prints JSON (percent): oracleMean (mean over edits of the best set: an upper bound, it looks at evaluation
prompts), bestFixedMean and bestFixedSet (the best single set for every edit), gapPoints (their difference),
gateMean (the gate's first choice), hieditMean (what HiEdit's editor does, with its miss rule),
randomSetMean (a uniformly random set, in expectation) and sets (their count). DIR/oracle-gap.json adds every
set's mean, the sets (setModules) and every edit's scores (perEdit). --editors is ignored (the hiedit editor is judged); --editor-settings
"hiedit" and --machinery apply to it. Use tuning worlds (--world-seed other than 0) when choosing anything.`;

// main.ts imports this module, so the run's flags are read when the command is built, not at module load.
const ORACLE_GAP_EXTRA_HELP = [
  `--k K                     set size (default: the hiedit editor's k)`,
  `--max-sets N              refuse more than N sets of k (default ${DEFAULT_MAX_SETS}): each is calibrated and`,
  `                          measured on every edit`,
];

/** The `oracle-gap` command; `makeDeps` is injectable for tests. */
export function oracleGapCommand(
  makeDeps: (o: DepsArgs) => RunnerDeps = defaultDeps,
): CliCommand {
  return defineCommand({
    program: 'hiedit-bench',
    name: 'oracle-gap',
    summary: 'per-edit oracle module sets against the best fixed set (an upper bound on what choosing modules can gain)',
    synopsis: 'oracle-gap [run flags] [--k K] [--max-sets N]',
    description: ORACLE_GAP_DESCRIPTION,
    flagHelp: [...RUN_FLAG_HELP, ...ORACLE_GAP_EXTRA_HELP],
    flags: { ...RUN_FLAGS, k: 'int', 'max-sets': 'int' } as const,
    async action(flags, io) {
      const { k, 'max-sets': maxSets, ...runFlags } = flags;
      const args = runArgsFromFlags(runFlags);
      const { run } = args;
      const log = await startBenchCommand(args, io);
      const outcome = await runOracleGap(
        { ...run, ...(k !== undefined ? { k } : {}), ...(maxSets !== undefined ? { maxSets } : {}) },
        makeDeps(depsArgs(args, log)),
        { log, progress: progressFactory({ quiet: run.quiet }) },
      );
      io.out(`${JSON.stringify(outcome.report, null, 2)}\n`);
      log(`oracle gap: ${path.resolve(outcome.file)}`);
      return 0;
    },
  });
}
