/**
 * Settings of `ft` (constrained fine-tuning): no learned state, so the resolved settings are the whole editor.
 * Nothing depends on the model's shape and there is no initialization to seed.
 */
import { describeValue } from '@hiedit/tensor-core';
import { refuseUnknownFields, SETTINGS_VERSION, SettingsInput, splitSettingsVersion } from '../schema';
import type { ModelShapeInfo } from '../shapes';

/** Settings of the `ft` editor. */
export interface FtSettings {
  /** Maximum Adam steps per edit. */
  readonly steps: number;
  /** Adam learning rate. */
  readonly lr: number;
  /** Radius of each module's Frobenius ball relative to ||W_m||_F (used when maxNorm is 0). */
  readonly relNorm: number;
  /** Absolute radius of each module's Frobenius ball; 0 means "use relNorm". */
  readonly maxNorm: number;
  /** Stop when the target is the argmax at every answer position. */
  readonly earlyStop: boolean;
}

/** The resolved `ft` settings (editor.json). */
export interface ResolvedFtSettings extends FtSettings {
  readonly settingsVersion: typeof SETTINGS_VERSION;
  readonly [field: string]: unknown;
}

/**
 * Defaults for the default edit modules (down_proj since session 4; docs/tuning.md): with the old radius 0.1 ||W|| and
 * lr 1e-2 no edit held on down_proj; radius 1 ||W|| with lr 3e-2 or 1e-1 scored best on the tuning worlds.
 */
export const DEFAULT_FT: FtSettings = { steps: 40, lr: 3e-2, relNorm: 1, maxNorm: 0, earlyStop: true };

function positiveNumber(v: unknown, field: string, allowZero = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new Error(`ft settings: ${field} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${describeValue(v)}`);
  }
  return v;
}

/**
 * Most Adam steps one `ft` edit may take: 250 times the default. Every step is a forward and backward pass of the
 * model, and with `earlyStop` off nothing else ends the loop, so a typo such as 1e12 would run for ever.
 */
export const MAX_FT_STEPS = 10_000;

/** Validates user settings over the defaults; unknown keys are refused. */
export function resolveFtSettings(input: SettingsInput): FtSettings {
  refuseUnknownFields(input, Object.keys(DEFAULT_FT), 'ft settings');
  const s = { ...DEFAULT_FT, ...input } as FtSettings;
  if (!Number.isInteger(s.steps) || s.steps < 1) throw new Error(`ft settings: steps must be a positive integer, got ${describeValue(s.steps)}`);
  if (s.steps > MAX_FT_STEPS) {
    throw new Error(`ft settings: steps must be at most ${MAX_FT_STEPS} (the default is ${DEFAULT_FT.steps}), got ${s.steps}`);
  }
  positiveNumber(s.lr, 'lr');
  positiveNumber(s.relNorm, 'relNorm');
  positiveNumber(s.maxNorm, 'maxNorm', true);
  if (typeof s.earlyStop !== 'boolean') throw new Error('ft settings: earlyStop must be a boolean');
  return s;
}

/** Resolves `ft` settings (pure). The shapes and the seed do not matter to `ft`. */
export function resolve(given: SettingsInput, _shapes?: ModelShapeInfo, _options: { seed?: number } = {}): ResolvedFtSettings {
  return { settingsVersion: SETTINGS_VERSION, ...resolveFtSettings(given) };
}

/** Reads `ft` settings recorded in editor.json; a version-1 file's missing fields take the defaults. */
export function readStored(stored: SettingsInput, _shapes?: ModelShapeInfo): ResolvedFtSettings {
  return resolve(splitSettingsVersion(stored, 'ft settings').rest);
}
