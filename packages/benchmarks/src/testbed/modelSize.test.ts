import { initBackend } from '@hiedit/tensor-core';
import { createModel, type CausalLM } from '@hiedit/llm-loader';
import { cacheKey, DEFAULT_TRAIN_SETTINGS, pretrainConfig, resolveTrainSettings, type ModelShape } from './pretrain';
import { deepEditModules, isModelSize, MODEL_SIZES, sizedPretrainSettings } from './modelSize';

/** A random-weight model of the pretrainer's own config for `shape` (no training: only its module names matter). */
function tinyModel(shape: Partial<ModelShape>): CausalLM {
  const s = resolveTrainSettings({ model: { hidden: 16, heads: 2, kvHeads: 2, intermediate: 32, maxPositions: 16, ...shape } }).model;
  return createModel(pretrainConfig(s, 40, { bos: 1, eos: 2, pad: 2 }), 0);
}

beforeAll(async () => {
  await initBackend();
});

describe('model sizes', () => {
  test('small is the trainer defaults exactly, so its models keep their cache keys', () => {
    expect(sizedPretrainSettings('small')).toBeUndefined();
    const given = { seed: 2, model: { arch: 'gpt2' as const } };
    expect(sizedPretrainSettings('small', given)).toBe(given);
    expect(cacheKey(resolveTrainSettings(sizedPretrainSettings('small')))).toBe(cacheKey(DEFAULT_TRAIN_SETTINGS));
  });

  test('deep: at least 8 layers and 128 wide, and the given settings override the preset field by field', () => {
    const deep = resolveTrainSettings(sizedPretrainSettings('deep'));
    expect(deep.model).toMatchObject({ layers: 8, hidden: 128, intermediate: 512, heads: DEFAULT_TRAIN_SETTINGS.model.heads });
    expect(deep).toMatchObject({ epochs: 30, lr: 0.002, warmupSteps: 100 });
    const mixed = resolveTrainSettings(sizedPretrainSettings('deep', { seed: 3, epochs: 40, model: { arch: 'gpt2', intermediate: 256 } }));
    expect(mixed.model).toMatchObject({ arch: 'gpt2', layers: 8, hidden: 128, intermediate: 256 });
    expect(mixed).toMatchObject({ seed: 3, epochs: 40, lr: 0.002 });
    expect(cacheKey(deep)).not.toBe(cacheKey(DEFAULT_TRAIN_SETTINGS));
    expect(() => sizedPretrainSettings('deep', { model: { heads: 3 } })).toThrow(/model\.heads \(3\) must divide model\.hidden \(128\)/);
  });

  test('isModelSize accepts exactly the listed sizes', () => {
    expect(MODEL_SIZES).toEqual(['small', 'deep']);
    expect(isModelSize('deep')).toBe(true);
    expect(isModelSize('large')).toBe(false);
    expect(isModelSize('constructor')).toBe(false);
  });

  test('deep candidates: the MLP output projection of every layer, per architecture (k = half picks 4 of 8)', () => {
    const llama = tinyModel({ layers: 8 });
    const gpt2 = tinyModel({ layers: 8, arch: 'gpt2' });
    try {
      expect(deepEditModules(llama)).toEqual(Array.from({ length: 8 }, (_, l) => `model.layers.${l}.mlp.down_proj`));
      expect(deepEditModules(gpt2)).toEqual(Array.from({ length: 8 }, (_, l) => `h.${l}.mlp.c_proj`));
    } finally {
      llama.dispose();
      gpt2.dispose();
    }
    for (const arch of ['gemma2', 'qwen3'] as const) {
      const m = tinyModel({ layers: 8, arch });
      try {
        expect(deepEditModules(m)).toEqual(Array.from({ length: 8 }, (_, l) => `model.layers.${l}.mlp.down_proj`));
      } finally {
        m.dispose();
      }
    }
    const ten = tinyModel({ layers: 10, arch: 'gpt2' });
    try {
      expect(deepEditModules(ten)).toHaveLength(10);
    } finally {
      ten.dispose();
    }
  });

  test('deep candidates refuse a model too shallow or of an unknown architecture', () => {
    const small = tinyModel({ layers: 4 });
    try {
      expect(() => deepEditModules(small)).toThrow(/a deep model has at least 8 layers; llama has 4/);
      const other = { config: { ...small.config, architecture: 'qwen3' }, modules: small.modules } as unknown as CausalLM;
      expect(() => deepEditModules(other)).toThrow(/no deep candidate set for architecture "qwen3" \(known: llama, gpt2, gemma2\)/);
    } finally {
      small.dispose();
    }
  });
});
