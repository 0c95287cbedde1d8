/**
 * The training state on disk (train-state.json + a safetensors file, see docs/policies.md): everything a run needs
 * to continue exactly where it stopped.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { readJsonFile } from '@hiedit/tensor-core';
import { readHostTensors, writeFileAtomic, writeHostTensors } from '../persist';
import type { HostParam } from '../params';
import type { HiEditPolicy } from '../policy';
import { DEFAULT_TRAINER_OPTIONS } from '../trainer-options';
import type { TrainerOptions } from '../trainer-options';
import type { TrainingRun } from './context';
import type { WeightSnapshot } from './edit-weights';
import { serializableOptions } from './run-options';

/** Contents of train-state.json (see docs/policies.md). */
interface TrainStateJson {
  format: string;
  version: number;
  tensors: string;
  checksum: string;
  modules: readonly { name: string; dIn: number; dOut: number; layer: number }[];
  policyConfig: unknown;
  options: Record<string, unknown>;
  normalizers: ReturnType<HiEditPolicy['normalizersToJSON']>;
  bestNormalizers: ReturnType<HiEditPolicy['normalizersToJSON']> | null;
  epoch: number;
  position: number;
  step: number;
  order: number[] | null;
  accCount: number;
  adamStep: number;
  rng: number[];
  epochLossSum: number;
  epochLossCount: number;
  bestValidation: number | null;
  badEpochs: number;
  finished: boolean;
  streamLength: number;
  /** Training seconds of every session up to this save (absent in states written before it was kept: 0). */
  elapsedSeconds?: number;
}

/** `format` field of train-state.json. */
export const TRAIN_STATE_FORMAT = 'hiedit-train-state';
/**
 * Version of train-state.json. Version 2: the step size is the parameter `logEta` (eta = exp(logEta)).
 * Version-1 states (raw `eta`) are refused: their Adam moments belong to the raw parametrization and
 * cannot be converted, so resuming would not continue the same run.
 */
export const TRAIN_STATE_VERSION = 2;
const STATE_JSON = 'train-state.json';

/**
 * Write `run`'s complete state (policy, normalizers, Adam moments, accumulated gradients, stream position, epoch,
 * random state, the model's current and base edit-module weights) to `dir`, with `elapsedSeconds` of training.
 * The tensor file is written first under a step-specific name, then the JSON that points to it: a crash leaves the
 * previous state valid.
 */
export function saveTrainState(dir: string, run: TrainingRun, elapsedSeconds: number): void {
  const { policy, options } = run.ctx;
  const { position: p, updates, earlyStop, editWeights } = run;
  fs.mkdirSync(dir, { recursive: true });
  const tensors: HostParam[] = [];
  for (const t of policy.params.toHost()) tensors.push({ ...t, name: `policy.${t.name}` });
  for (const t of updates.adam.toHost()) tensors.push({ ...t, name: `adam.${t.name}` });
  for (const t of updates.accumulatedToHost()) tensors.push({ ...t, name: `acc.${t.name}` });
  for (const t of editWeights.base) tensors.push({ ...t, name: `base.${t.name}` });
  for (const t of editWeights.current()) tensors.push({ ...t, name: `model.${t.name}` });
  if (earlyStop.best) for (const t of earlyStop.best.params) tensors.push({ ...t, name: `best.${t.name}` });
  tensors.push(...policy.keyCovariancesToHost());
  // a fresh name per save: the file the current JSON points to is never overwritten
  const file = `train-state-${p.step}-${p.epoch}${p.finished ? '-final' : ''}-${crypto.randomBytes(4).toString('hex')}.safetensors`;
  const checksum = writeHostTensors(path.join(dir, file), tensors, { format: TRAIN_STATE_FORMAT });
  const prev = readStatePointer(dir);
  const json: TrainStateJson = {
    format: TRAIN_STATE_FORMAT,
    version: TRAIN_STATE_VERSION,
    tensors: file,
    checksum,
    modules: policy.modules,
    policyConfig: policy.config,
    options: serializableOptions(options),
    normalizers: policy.normalizersToJSON(),
    bestNormalizers: earlyStop.best?.normalizers ?? null,
    epoch: p.epoch,
    position: p.position,
    step: p.step,
    order: p.order,
    accCount: updates.count,
    adamStep: updates.adam.step,
    rng: run.rng.getState(),
    epochLossSum: p.epochLossSum,
    epochLossCount: p.epochLossCount,
    bestValidation: earlyStop.bestValidation ?? null,
    badEpochs: earlyStop.badEpochs,
    finished: p.finished,
    streamLength: p.streamLength,
    elapsedSeconds,
  };
  writeFileAtomic(path.join(dir, STATE_JSON), JSON.stringify(json));
  if (prev && prev !== file) fs.rmSync(path.join(dir, prev), { force: true });
}

/**
 * Restore a state written by saveTrainState into `run` and its policy (same configuration and modules); returns the
 * training seconds it records. The model is not touched.
 */
export function loadTrainState(dir: string, run: TrainingRun): number {
  const { policy, options, names } = run.ctx;
  const { position: p, updates, earlyStop, editWeights } = run;
  const jsonFile = path.join(dir, STATE_JSON);
  if (!fs.existsSync(jsonFile)) throw new Error(`${jsonFile}: no training state found`);
  const s = readJsonFile(jsonFile) as TrainStateJson;
  if (s.format !== TRAIN_STATE_FORMAT) throw new Error(`${jsonFile}: field "format" is ${JSON.stringify(s.format)}, expected "${TRAIN_STATE_FORMAT}"`);
  if (s.version !== TRAIN_STATE_VERSION) {
    throw new Error(`${jsonFile}: field "version" is ${JSON.stringify(s.version)}, this build resumes only version ${TRAIN_STATE_VERSION} (version 1 stored a raw step size eta; its optimizer state cannot be converted to the log parametrization: start the training over)`);
  }
  const mods = s.modules;
  if (!Array.isArray(mods) || mods.length !== policy.modules.length || mods.some((m, i) => m.name !== policy.modules[i].name || m.dIn !== policy.modules[i].dIn || m.dOut !== policy.modules[i].dOut)) {
    throw new Error(`${jsonFile}: the saved run edits modules ${JSON.stringify(mods?.map((m) => `${m.name}:${m.dIn}x${m.dOut}`))}, this policy edits ${JSON.stringify(policy.modules.map((m) => `${m.name}:${m.dIn}x${m.dOut}`))}`);
  }
  if (JSON.stringify(s.policyConfig) !== JSON.stringify(policy.config)) {
    throw new Error(`${jsonFile}: the saved policy configuration differs from this policy's (${JSON.stringify(s.policyConfig)} vs ${JSON.stringify(policy.config)})`);
  }
  // Every option but the stopping point and the checkpointing shapes the run; resuming under another
  // value would silently continue a different run.
  if (!s.options || typeof s.options !== 'object') throw new Error(`${jsonFile}: field "options" is missing`);
  const mine = serializableOptions(options);
  // a run saved before gateTarget (or the REINFORCE options, or gateLr) existed trained its gate the only way there was
  // then; the REINFORCE options shape nothing under another gate target
  const saved = serializableOptions({ gateTarget: 'straightThrough', reinforceSamples: DEFAULT_TRAINER_OPTIONS.reinforceSamples,
    reinforceBaseline: DEFAULT_TRAINER_OPTIONS.reinforceBaseline, gateLr: null, ...(s.options as object) } as unknown as TrainerOptions);
  for (const k of [...new Set([...Object.keys(mine), ...Object.keys(saved)])]) {
    if (JSON.stringify(saved[k]) !== JSON.stringify(mine[k])) {
      throw new Error(`${jsonFile}: the saved run used ${k} = ${JSON.stringify(saved[k])}, this trainer has ${JSON.stringify(mine[k])}`);
    }
  }
  const elapsed = s.elapsedSeconds ?? 0;
  if (typeof elapsed !== 'number' || !Number.isFinite(elapsed) || elapsed < 0) {
    throw new Error(`${jsonFile}: field "elapsedSeconds" must be a non-negative number, got ${JSON.stringify(s.elapsedSeconds)}`);
  }
  const tensors = readHostTensors(path.join(dir, s.tensors), s.checksum);
  const pick = (prefix: string) => (n: string) => tensors.get(`${prefix}${n}`);
  policy.params.fromHost(pick('policy.'), path.join(dir, s.tensors));
  policy.normalizersFromJSON(s.normalizers, jsonFile);
  policy.keyCovariancesFromHost(tensors, path.join(dir, s.tensors));
  const moments: HostParam[] = [];
  updates.clearAccumulated();
  for (const [n, t] of tensors) {
    if (n.startsWith('adam.')) moments.push({ ...t, name: n.slice(5) });
    else if (n.startsWith('acc.')) updates.restoreAccumulated({ ...t, name: n.slice(4) });
  }
  updates.adam.fromHost(s.adamStep, moments);
  const snap = (prefix: string): WeightSnapshot =>
    names.map((n) => {
      const t = tensors.get(`${prefix}${n}`);
      if (!t) throw new Error(`${path.join(dir, s.tensors)}: weights ${prefix}${n} are missing`);
      return { ...t, name: n };
    });
  editWeights.base = snap('base.');
  // the model is left as it is; the saved trajectory goes back into it when training continues
  editWeights.trajectory = snap('model.');
  earlyStop.best = s.bestNormalizers
    ? { params: policy.params.names().map((n) => ({ ...tensors.get(`best.${n}`)!, name: n })), normalizers: s.bestNormalizers }
    : null;
  p.epoch = s.epoch;
  p.position = s.position;
  p.step = s.step;
  p.order = s.order;
  updates.count = s.accCount;
  run.rng.setState(s.rng);
  p.epochLossSum = s.epochLossSum;
  p.epochLossCount = s.epochLossCount;
  earlyStop.bestValidation = s.bestValidation ?? undefined;
  earlyStop.badEpochs = s.badEpochs;
  p.finished = s.finished;
  p.streamLength = s.streamLength;
  return elapsed;
}

function readStatePointer(dir: string): string | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STATE_JSON), 'utf8')).tensors as string;
  } catch {
    return undefined;
  }
}
