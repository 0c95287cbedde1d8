/**
 * Settings usually arrive as JSON (hiedit --settings, hiedit-bench --editor-settings): a number written as a
 * string must be named as the string it is, not shown as if it were the valid number it looks like.
 */
import { DEFAULT_TRAINER_OPTIONS, resolvePolicyConfig, validateOptions, type PolicyConfigInput, type TrainerOptions } from '../src';

describe('settings errors show strings as strings', () => {
  test('trainer options', () => {
    const opts = (o: Record<string, unknown>) => ({ ...DEFAULT_TRAINER_OPTIONS, ...o }) as unknown as TrainerOptions;
    expect(() => validateOptions(opts({ epochs: '40' }))).toThrow('trainer options: epochs must be a positive integer, got "40"');
    expect(() => validateOptions(opts({ metaLr: '1e-4' }))).toThrow('trainer options: metaLr must be a finite non-negative number, got "1e-4"');
    expect(() => validateOptions(opts({ seed: '3' }))).toThrow('trainer options: seed must be an integer, got "3"');
    expect(() => validateOptions(opts({ epochs: 0 }))).toThrow('trainer options: epochs must be a positive integer, got 0');
  });

  test('policy config', () => {
    const low = (l: Record<string, unknown>) => ({ low: l }) as unknown as PolicyConfigInput;
    expect(() => resolvePolicyConfig(low({ rank: '40' }), 2)).toThrow('policy config: low.rank must be a positive integer, got "40"');
    expect(() => resolvePolicyConfig(low({ blocks: '2' }), 2)).toThrow('policy config: low.blocks must be a non-negative integer, got "2"');
    expect(() => resolvePolicyConfig(low({ rank: 1.5 }), 2)).toThrow('policy config: low.rank must be a positive integer, got 1.5');
  });
});
