/**
 * A run's options: the defaults filled in for the trainer, and the part of them a saved run records.
 */
import { resolveCalibration } from '../calibrate';
import type { HiEditPolicy } from '../policy';
import { DEFAULT_TRAINER_OPTIONS, REFERENCE_TRAINER_OPTIONS, validateOptions } from '../trainer-options';
import type { TrainerOptions } from '../trainer-options';

/** `options` over the defaults of its mode, calibration resolved, checked (also against `policy`'s gate). */
export function resolveTrainerOptions(options: Partial<TrainerOptions>, policy: HiEditPolicy): TrainerOptions {
  const modeDefaults = options.mode === 'reference' ? REFERENCE_TRAINER_OPTIONS : {};
  const merged = { ...DEFAULT_TRAINER_OPTIONS, ...modeDefaults, ...stripUndefined(options) } as TrainerOptions;
  const resolved = { ...merged, calibration: resolveCalibration(merged.calibration) };
  validateOptions(resolved);
  if (resolved.gateTarget !== 'straightThrough' && policy.config.high?.adaptive) {
    throw new Error(`trainer options: gateTarget '${resolved.gateTarget}' trains a top-k gate; it does not train an adaptive-k threshold`);
  }
  return resolved;
}

/** The options that define a run (resume must match them): all but the callback, the stop point and the checkpointing. */
export function serializableOptions(o: TrainerOptions): Record<string, unknown> {
  const { onProgress: _p, checkpoint: _c, maxSteps: _m, ...rest } = o;
  return stripUndefined(rest) as Record<string, unknown>;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
