/**
 * `hiedit-bench`: the benchmark command line. bin/hiedit-bench.js calls {@link main}.
 *
 *   hiedit-bench run --dataset world|counterfact|zsre [--data FILE] [--model DIR]
 *     --editors hiedit,rledit --train N --eval N --num-pre N --seed S --out DIR
 */
import * as path from 'path';
import { CliUsageError, defineCommand, initBackend, parseFlags, readJsonFile, runCli, type CliCommand, type CliIO, type ParsedFlags } from '@hiedit/tensor-core';
import { progressFactory } from '../progress';
import { runBenchmark, type RunOptions, type RunnerDeps, type BenchDataset } from '../runner';
import { checkRunMachinery, RUN_MACHINERY_EDITORS, RUN_MACHINERY_PRESETS, type RunMachinery } from '../runner/runMachinery';
import { defaultDeps } from '../runner/defaults';
import type { MetricStyle } from '../eval';
import { reportCommand, validateCommand } from './report-commands';
import { aggregateCommand } from './aggregate-command';
import { evalCommand } from './eval-command';
import { splitsCommand } from './splits-command';
import { oracleGapCommand } from './oracle-gap-command';
import { WORLD_PERSONS_RANGE } from '../testbed/world';
import { DEFAULT_TRAIN_SETTINGS, PRETRAIN_ARCHS, resolveTrainSettings, type PretrainArch, type TrainSettingsInput } from '../testbed/pretrain';
import { DEFAULT_MODEL_SIZE, isModelSize, MODEL_SIZES, sizedPretrainSettings, type ModelSize } from '../testbed/modelSize';

/**
 * Defaults of `hiedit-bench run` (and so of `npm start`): sized so the whole world benchmark — world
 * model pretraining included — finishes within 10 minutes on a 2-core machine (see docs/benchmarks.md).
 */
export const RUN_DEFAULTS = {
  dataset: 'world' as BenchDataset,
  editors: ['hiedit', 'rledit'],
  seed: 0,
};

export const RUN_FLAGS = {
  dataset: 'string',
  data: 'string',
  model: 'string',
  editors: 'string',
  train: 'int',
  val: 'int',
  eval: 'int',
  'num-pre': 'int',
  seed: 'int',
  out: 'string',
  style: 'string',
  wild: 'boolean',
  'held-out': 'int',
  'editor-settings': 'string',
  machinery: 'string',
  modules: 'string',
  'cache-dir': 'string',
  'world-seed': 'int',
  'world-persons': { kind: 'int', min: WORLD_PERSONS_RANGE[0], max: WORLD_PERSONS_RANGE[1] },
  'model-seed': 'int',
  'model-arch': 'string',
  'model-size': 'string',
  'max-pretrain-seconds': 'number',
  'pretrain-settings': 'string',
  'skip-invalid': 'boolean',
  fresh: 'boolean',
  overwrite: 'boolean',
  quiet: 'boolean',
  backend: 'string',
  journal: 'boolean',
} as const;

const RUN_DESCRIPTION = `Runs a lifelong-editing benchmark: pretrains (or reuses) the model, trains each editor on the train split
(validation split for early stopping), edits the evaluation stream, and writes DIR/results.json and
DIR/report.html. An interrupted run resumes: rerun the same command.

Every run also writes its requests to DIR/requests/ (train, validation, evaluation .jsonl and the held-out
facts) in the \`requests\` format, and each trainable editor to DIR/editors/NAME/trained/ as an editor
directory (\`hiedit edit --editor\` loads it).`;

export const RUN_FLAG_HELP = [
  `--dataset world|counterfact|zsre   default ${RUN_DEFAULTS.dataset}`,
  `--data FILE               record file (required for counterfact / zsre; world generates its own)`,
  `--model DIR               Hugging Face checkpoint to edit (default: the world model, or a facts model`,
  `                          pretrained on the true facts of --data, cached by the file's hash)`,
  `--editors LIST            comma-separated: hiedit,hiedit-reference,rledit,mend,ft, the ablations random-k,fixed-k,all,noop, and oracle-k (upper bound) (default ${RUN_DEFAULTS.editors.join(',')})`,
  `--train N                 training stream length (default min(100, 30% of the requests))`,
  `--val N                   validation stream length (default max(5, train/5), within what is left)`,
  `--eval N                  evaluation stream length (default min(100, 60% of the requests))`,
  `--num-pre N               Pre_* metrics over the first N edits (default min(20, eval))`,
  `--seed S                  seed of splits and editor training (default ${RUN_DEFAULTS.seed})`,
  `--out DIR                 output directory (default bench-out/DATASET-sSEED)`,
  `--style zsre|counterfact  ES/GS scoring (default counterfact for world/counterfact, zsre for zsre)`,
  `--no-wild                 skip the generation metrics WILD_ES / WILD_GS`,
  `--held-out N              held-out facts for retention (default 200)`,
  `--editor-settings FILE    JSON {"hiedit": {...}, "rledit": {...}} passed to the editors`,
  `--machinery hiedit|none   the same edit-time options (strength calibration with its miss rule, key`,
  `                          preconditioner, module-space factors: the \`machinery\` setting) for every policy`,
  `                          editor of the run: ${RUN_MACHINERY_EDITORS.join(', ')}; default: each editor's own`,
  `                          (hiedit and the ablations hiedit, the others none). Not ft (no policy: its`,
  `                          optimizer has none of these parts), noop (applies nothing) nor oracle-k (an upper`,
  `                          bound judged at HiEdit's calibrated strength, not a compared editor). Refused`,
  `                          beside --editor-settings that set machinery or one of its parts otherwise`,
  `--modules LIST            edit modules (default: the editor package's default for the architecture)`,
  `--cache-dir DIR           cache of pretrained models (default HIEDIT_CACHE_DIR or .hiedit-cache)`,
  `--world-seed N            seed of the generated world (default 0)`,
  `--world-persons N         people in the generated world, 20..5000 (default 200: 136 edit requests;`,
  `                          about 0.68 requests per person, so 2000 gives 1360, enough for`,
  `                          --train 300 --eval 1000); a different size is a different cached world model`,
  `--model-seed N            seed of the world / facts model's pretraining (default 0); each seed is its own`,
  `                          cached model, so runs with --model-seed S --seed S measure the spread over`,
  `                          pretrained models too (aggregate them with hiedit-bench aggregate --across-models)`,
  `--model-arch A            architecture of the world / facts model: llama (default), gpt2, gemma2 or qwen3;`,
  `                          each is its own cached model, and the default edit modules follow it (GPT-2 c_proj,`,
  `                          the others down_proj)`,
  `--model-size small|deep   size of the world / facts model (default ${DEFAULT_MODEL_SIZE}): small is 4 layers, 64 wide,`,
  `                          with 2 candidate modules; deep is 8 layers, 128 wide (FFN 512), pretrained longer at a`,
  `                          lower rate, with the MLP output projection of all 8 layers as candidates (k = 4).`,
  `                          Each size is its own cached model; --pretrain-settings overrides its fields`,
  `--max-pretrain-seconds N  time budget of a pretraining`,
  `--pretrain-settings FILE  JSON of pretraining settings for the world / facts model, e.g.`,
  `                          {"model": {"intermediate": 1024}, "epochs": 30}; fields left out keep the`,
  `                          --model-size preset's values, and a different size is its own cached model`,
  `                          (--model-seed and --model-arch set "seed" and "model.arch"; do not give both ways)`,
  `--skip-invalid            skip invalid records of --data (each is reported) instead of stopping`,
  `--fresh                   discard earlier state in --out instead of resuming`,
  `--overwrite               resume state of the same settings, discard state of other settings`,
  `--quiet                   no progress bars`,
  `--journal                 journal each editor's evaluation stream to DIR/editors/NAME/stream.hjournal`,
  '                          (`hiedit export --model BASE --journal FILE --out DIR` rebuilds its final model)',
  `--backend NAME            tfjs backend (tensorflow-gpu, tensorflow, wasm, cpu)`,
];

function list(s: string | undefined, flag: string): string[] | undefined {
  if (s === undefined) return undefined;
  const out = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (out.length === 0) throw new CliUsageError(`--${flag} lists nothing`);
  return out;
}

/** The JSON object in `file`, read for `--FLAG`; unreadable JSON and non-objects are usage errors naming both. */
function readJsonObject(flag: string, file: string, what: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = readJsonFile(file);
  } catch (e) {
    throw new CliUsageError(`--${flag} ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CliUsageError(`--${flag} ${file}: must be a JSON object ${what}`);
  return raw as Record<string, unknown>;
}

function readEditorSettings(file: string): Record<string, Record<string, unknown>> {
  const raw = readJsonObject('editor-settings', file, '{editor: {settings}}');
  for (const [k, v] of Object.entries(raw)) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CliUsageError(`--editor-settings ${file}: "${k}" must be an object`);
  }
  return raw as Record<string, Record<string, unknown>>;
}

/**
 * Reads a JSON object of pretraining settings (any field of TrainSettings, `model` partial). Unknown fields and
 * values of the wrong type are refused with the file and field named; the values themselves are checked by
 * resolveTrainSettings, whose message is prefixed with the file.
 */
export function readPretrainSettings(file: string): TrainSettingsInput {
  const where = `--pretrain-settings ${file}`;
  const obj = readJsonObject('pretrain-settings', file, 'of pretraining settings');
  const known = Object.keys(DEFAULT_TRAIN_SETTINGS);
  for (const [k, v] of Object.entries(obj)) {
    if (!known.includes(k)) throw new CliUsageError(`${where}: unknown field "${k}" (known: ${known.join(', ')})`);
    if (k === 'model') continue;
    if (typeof v !== 'number') throw new CliUsageError(`${where}: "${k}" must be a number, got ${JSON.stringify(v)}`);
  }
  if (obj.model !== undefined) {
    const m = obj.model;
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw new CliUsageError(`${where}: "model" must be an object, got ${JSON.stringify(m)}`);
    const shapeKeys = [...Object.keys(DEFAULT_TRAIN_SETTINGS.model), 'arch'];
    for (const [k, v] of Object.entries(m)) {
      if (!shapeKeys.includes(k)) throw new CliUsageError(`${where}: unknown field "model.${k}" (known: ${shapeKeys.join(', ')})`);
      if (k === 'arch' ? typeof v !== 'string' : typeof v !== 'number') {
        throw new CliUsageError(`${where}: "model.${k}" must be a ${k === 'arch' ? 'string' : 'number'}, got ${JSON.stringify(v)}`);
      }
    }
  }
  try {
    resolveTrainSettings(obj as TrainSettingsInput);
  } catch (e) {
    throw new CliUsageError(`${where}: ${(e as Error).message}`);
  }
  return obj as TrainSettingsInput;
}

/** What `run`'s flags resolve to. */
export interface RunArgs {
  run: RunOptions; worldSeed: number; worldPersons?: number; modelSeed?: number; modelArch?: PretrainArch; maxPretrainSeconds?: number; backend?: string;
  /** Size preset of the built-in models (absent with --model DIR). */
  modelSize?: ModelSize;
  /** Pretraining settings of the built-in models: the size's preset, then --pretrain-settings, --model-seed and --model-arch. */
  pretrain?: TrainSettingsInput;
}

/** What the runner's dependencies are built from (`defaultDeps`'s options). */
export interface DepsArgs {
  worldSeed: number; worldPersons?: number; modelSize?: ModelSize; pretrain?: TrainSettingsInput; maxPretrainSeconds?: number; log: (l: string) => void;
}

/**
 * The dependency options of parsed run flags. Every command that takes the run's flags (run, oracle-gap, splits) builds
 * its dependencies here, so a flag such as --model-size reaches all of them alike (oracle-gap once fell back to the
 * small model's candidate modules because it dropped --model-size).
 */
export function depsArgs(args: RunArgs, log: (l: string) => void): DepsArgs {
  return {
    worldSeed: args.worldSeed,
    ...(args.worldPersons !== undefined ? { worldPersons: args.worldPersons } : {}),
    ...(args.modelSize !== undefined ? { modelSize: args.modelSize } : {}),
    ...(args.pretrain ? { pretrain: args.pretrain } : {}),
    ...(args.maxPretrainSeconds !== undefined ? { maxPretrainSeconds: args.maxPretrainSeconds } : {}),
    log,
  };
}

/**
 * The start of every command that runs the benchmark's work (run, oracle-gap): the stderr logger, and the tfjs backend
 * the flags ask for, initialized and logged.
 */
export async function startBenchCommand(args: RunArgs, io: { err(s: string): void }): Promise<(line: string) => void> {
  const log = (l: string) => io.err(`${l}\n`);
  const report = await initBackend(args.backend ? { backend: args.backend as 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu' } : {});
  log(`backend: ${report.active}`);
  return log;
}

/** Parses `run` flags into run options (exported for tests). */
export function parseRunArgs(argv: string[]): RunArgs {
  const { flags, positional } = parseFlags(argv, RUN_FLAGS);
  if (positional.length > 0) throw new CliUsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
  return runArgsFromFlags(flags);
}

/** Checks the parsed `run` flags together and resolves their defaults (shared by run and splits). */
export function runArgsFromFlags(flags: ParsedFlags<typeof RUN_FLAGS>): RunArgs {
  const dataset = (flags.dataset ?? RUN_DEFAULTS.dataset) as BenchDataset;
  if (!['world', 'counterfact', 'zsre'].includes(dataset)) throw new CliUsageError(`--dataset must be world, counterfact or zsre, got ${JSON.stringify(dataset)}`);
  if (dataset !== 'world' && flags.data === undefined) throw new CliUsageError(`--dataset ${dataset} needs --data FILE`);
  if (flags.style !== undefined && flags.style !== 'zsre' && flags.style !== 'counterfact') {
    throw new CliUsageError(`--style must be zsre or counterfact, got ${JSON.stringify(flags.style)}`);
  }
  const seed = flags.seed ?? RUN_DEFAULTS.seed;
  const nEval = flags.eval;
  if (nEval === 0) throw new CliUsageError('--eval must be at least 1');
  const numPre = flags['num-pre'];
  if (numPre !== undefined && nEval !== undefined && numPre > nEval) throw new CliUsageError(`--num-pre (${numPre}) cannot exceed --eval (${nEval})`);
  const run: RunOptions = {
    dataset,
    ...(flags.data !== undefined ? { data: flags.data } : {}),
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    editors: list(flags.editors, 'editors') ?? [...RUN_DEFAULTS.editors],
    ...(flags.train !== undefined ? { nTrain: flags.train } : {}),
    ...(flags.val !== undefined ? { nVal: flags.val } : {}),
    ...(nEval !== undefined ? { nEval } : {}),
    ...(numPre !== undefined ? { numPre } : {}),
    seed,
    out: flags.out ?? path.join('bench-out', `${dataset}-s${seed}`),
    ...(flags.style !== undefined ? { style: flags.style as MetricStyle } : {}),
    wild: flags.wild ?? true,
    ...(flags['held-out'] !== undefined ? { heldOut: flags['held-out'] } : {}),
    ...(flags['editor-settings'] !== undefined ? { editorSettings: readEditorSettings(flags['editor-settings']) } : {}),
    ...(flags.machinery !== undefined ? { machinery: flags.machinery as RunMachinery } : {}),
    ...(flags.modules !== undefined ? { modules: list(flags.modules, 'modules') } : {}),
    ...(flags['cache-dir'] !== undefined ? { cacheDir: flags['cache-dir'] } : {}),
    skipInvalid: flags['skip-invalid'] ?? false,
    fresh: flags.fresh ?? false,
    overwrite: flags.overwrite ?? false,
    quiet: flags.quiet ?? false,
    ...(flags.journal ? { journal: true } : {}),
  };
  if (flags.machinery !== undefined && !(RUN_MACHINERY_PRESETS as readonly string[]).includes(flags.machinery)) {
    throw new CliUsageError(`--machinery must be ${RUN_MACHINERY_PRESETS.join(' or ')}, got ${JSON.stringify(flags.machinery)}`);
  }
  try {
    checkRunMachinery(run);
  } catch (e) {
    throw new CliUsageError((e as Error).message.replace(/^run: /, ''));
  }
  if (flags['model-seed'] !== undefined && flags.model !== undefined) {
    throw new CliUsageError('--model-seed seeds the pretraining of the built-in models; it cannot be combined with --model DIR');
  }
  const modelArch = flags['model-arch'];
  if (modelArch !== undefined) {
    if (flags.model !== undefined) throw new CliUsageError('--model-arch chooses the architecture of the built-in models; it cannot be combined with --model DIR');
    if (!(PRETRAIN_ARCHS as readonly string[]).includes(modelArch)) throw new CliUsageError(`--model-arch must be ${PRETRAIN_ARCHS.join(', ')}, got ${JSON.stringify(modelArch)}`);
  }
  const sizeFlag = flags['model-size'];
  if (sizeFlag !== undefined) {
    if (flags.model !== undefined) throw new CliUsageError('--model-size chooses the size of the built-in models; it cannot be combined with --model DIR');
    if (!isModelSize(sizeFlag)) throw new CliUsageError(`--model-size must be ${MODEL_SIZES.join(' or ')}, got ${JSON.stringify(sizeFlag)}`);
  }
  const modelSize: ModelSize | undefined = flags.model !== undefined ? undefined : ((sizeFlag as ModelSize | undefined) ?? DEFAULT_MODEL_SIZE);
  let pretrain: TrainSettingsInput | undefined;
  if (flags['pretrain-settings'] !== undefined) {
    if (flags.model !== undefined) throw new CliUsageError('--pretrain-settings configures the built-in models; it cannot be combined with --model DIR');
    const file = readPretrainSettings(flags['pretrain-settings']);
    if (file.seed !== undefined && flags['model-seed'] !== undefined) throw new CliUsageError(`--pretrain-settings ${flags['pretrain-settings']} sets "seed" and --model-seed is given: use one`);
    if (file.model?.arch !== undefined && modelArch !== undefined) throw new CliUsageError(`--pretrain-settings ${flags['pretrain-settings']} sets "model.arch" and --model-arch is given: use one`);
    pretrain = file;
  }
  const seedFlag = flags['model-seed'];
  if (seedFlag !== undefined) pretrain = { ...(pretrain ?? {}), seed: seedFlag };
  // llama is the default and is left out, so its models keep their cache keys
  if (modelArch !== undefined && modelArch !== 'llama') pretrain = { ...(pretrain ?? {}), model: { ...(pretrain?.model ?? {}), arch: modelArch as PretrainArch } };
  if (pretrain?.model?.arch === 'llama') {
    const { arch: _arch, ...shape } = pretrain.model;
    pretrain = { ...pretrain, model: shape };
  }
  // The preset goes under everything the user gave; small is empty, so its settings and cache keys stay as they were.
  // (a --pretrain-settings file valid at the default shape stays valid over the deep preset: heads that split 64
  // into even head sizes split 128 too)
  if (modelSize !== undefined) pretrain = sizedPretrainSettings(modelSize, pretrain);
  const maxPretrainSeconds = flags['max-pretrain-seconds'];
  if (maxPretrainSeconds !== undefined && !(maxPretrainSeconds > 0)) throw new CliUsageError('--max-pretrain-seconds must be positive');
  const worldPersons = flags['world-persons'];
  if (worldPersons !== undefined) {
    if (dataset !== 'world' || flags.data !== undefined) {
      throw new CliUsageError('--world-persons sizes the generated world: it needs --dataset world without --data');
    }
  }
  return {
    run,
    worldSeed: flags['world-seed'] ?? 0,
    ...(worldPersons !== undefined ? { worldPersons } : {}),
    ...(seedFlag !== undefined ? { modelSeed: seedFlag } : {}),
    ...(modelArch !== undefined ? { modelArch: modelArch as PretrainArch } : {}),
    ...(modelSize !== undefined ? { modelSize } : {}),
    maxPretrainSeconds,
    backend: flags.backend,
    ...(pretrain !== undefined && Object.keys(pretrain).length > 0 ? { pretrain } : {}),
  };
}

/** The `run` command; `deps` is injectable for tests. */
export function runCommand(
  makeDeps: (o: DepsArgs) => RunnerDeps = defaultDeps,
): CliCommand {
  return defineCommand({
    program: 'hiedit-bench',
    name: 'run',
    summary: 'run a lifelong-editing benchmark and write results.json + report.html',
    synopsis: 'run [flags]',
    description: RUN_DESCRIPTION,
    flagHelp: RUN_FLAG_HELP,
    flags: RUN_FLAGS,
    async action(flags, io) {
      const args = runArgsFromFlags(flags);
      const { run } = args;
      const log = await startBenchCommand(args, io);
      const t0 = Date.now();
      const outcome = await runBenchmark(run, makeDeps(depsArgs(args, log)), {
        log,
        progress: progressFactory({ quiet: run.quiet }),
      });
      io.out(`\n${outcome.table}\n\n`);
      io.out(`(ES/GS/LS... in %; applied = edits that shifted a module; mods/edit over all edits, mods/applied over applied ones; ${((Date.now() - t0) / 1000).toFixed(0)} s in total)\n`);
      io.out(`results: ${path.resolve(outcome.resultsPath)}\nreport:  ${path.resolve(outcome.reportPath)}\n`);
      return 0;
    },
  });
}

/** Every hiedit-bench command, in help order. A new command is a defineCommand added to this list. */
export function benchCommands(): CliCommand[] {
  return [runCommand(), oracleGapCommand(), splitsCommand(), evalCommand(), reportCommand, validateCommand, aggregateCommand];
}

/** Entry point of bin/hiedit-bench.js: runs argv (without node and the script), returns the exit code. */
export async function main(argv: string[], io: CliIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  return runCli('hiedit-bench', benchCommands(), argv, io);
}
