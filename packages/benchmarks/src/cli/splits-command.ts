/**
 * `hiedit-bench splits`: the requests a run with the same flags uses, written without any model work, so a user can
 * train (`hiedit train-editor`), edit (`hiedit edit`) and score (`hiedit-bench eval`) on exactly the benchmark's
 * requests.
 */
import * as path from 'path';
import { defineCommand, type CliCommand } from '@hiedit/tensor-core';
import { progressFactory } from '../progress';
import { planSplits, RunDir, writeSplitFiles, type RunnerDeps } from '../runner';
import { defaultDeps } from '../runner/defaults';
import { depsArgs, RUN_FLAG_HELP, RUN_FLAGS, runArgsFromFlags, type DepsArgs } from './main';

const SPLITS_DESCRIPTION = `Writes the requests that \`hiedit-bench run\` with the same flags uses, in the \`requests\` format (JSON Lines):
DIR/requests/train.jsonl, validation.jsonl, evaluation.jsonl and held-out-facts.jsonl, where DIR is --out
(default bench-out/DATASET-sSEED, as for run). Only the data flags matter (--dataset, --data, --seed, --train,
--val, --eval, --held-out, --world-seed, --world-persons, --skip-invalid); no model is loaded or trained.
A run writes the same files into its own directory.`;

/** The `splits` command; `makeDeps` is injectable for tests. */
export function splitsCommand(
  makeDeps: (o: DepsArgs) => Pick<RunnerDeps, 'loadData'> = defaultDeps,
): CliCommand {
  return defineCommand({
    program: 'hiedit-bench',
    name: 'splits',
    summary: "write a run's train / validation / evaluation requests as files",
    synopsis: 'splits [run flags]',
    description: SPLITS_DESCRIPTION,
    flagHelp: RUN_FLAG_HELP,
    flags: RUN_FLAGS,
    async action(flags, io) {
      const args = runArgsFromFlags(flags);
      const { run } = args;
      const log = (l: string) => io.err(`${l}\n`);
      const planned = await planSplits(run, makeDeps(depsArgs(args, log)), progressFactory({ quiet: true }), { log });
      const files = writeSplitFiles(new RunDir(run.out).requestsDir, planned.splits, planned.retained.facts);
      const counts = { train: planned.splits.train.length, validation: planned.splits.validation.length,
        evaluation: planned.splits.evaluation.length, heldOutFacts: planned.retained.facts.length };
      for (const k of Object.keys(files) as (keyof typeof files)[]) io.out(`${k}: ${path.resolve(files[k])} (${counts[k]})\n`);
      return 0;
    },
  });
}
