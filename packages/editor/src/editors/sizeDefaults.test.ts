import { initBackend } from '@hiedit/tensor-core';
import { createModel } from '@hiedit/llm-loader';
import { LLAMA3_ANCHOR, SMALL_MODEL_ANCHOR, sizeScaledStepDefaults } from './sizeDefaults';
import { HIEDIT_KEY_PRECONDITIONER, KEY_PRECONDITIONER_DEFAULT_MAX_DIN, withSizeDefaults } from './policy';
import { editorFactory } from './registry';
import './builtin';

describe('size-scaled step defaults', () => {
  it('keeps the tuned anchor values (docs/tuning.md)', () => {
    // A change of these is a change of every default-built editor's results: it needs a new validation sweep.
    expect(SMALL_MODEL_ANCHOR).toEqual({ dIn: 64, initEta: 5e-3, metaLr: 1e-3 });
    expect(LLAMA3_ANCHOR).toEqual({ dIn: 4096, initEta: 1e-6, metaLr: 1e-5 });
    // geometric midpoint (d_in 512): sqrt(5e-3 * 1e-6) and sqrt(1e-3 * 1e-5)
    expect(sizeScaledStepDefaults(512).initEta).toBeCloseTo(7.0711e-5, 8);
    expect(sizeScaledStepDefaults(512).metaLr).toBeCloseTo(1e-4, 10);
  });

  it('hits both anchors and clamps outside them', () => {
    expect(sizeScaledStepDefaults(64)).toEqual({ initEta: SMALL_MODEL_ANCHOR.initEta, metaLr: SMALL_MODEL_ANCHOR.metaLr });
    expect(sizeScaledStepDefaults(16)).toEqual(sizeScaledStepDefaults(64));
    const big = sizeScaledStepDefaults(4096);
    expect(big.initEta).toBeCloseTo(LLAMA3_ANCHOR.initEta, 12);
    expect(big.metaLr).toBeCloseTo(LLAMA3_ANCHOR.metaLr, 12);
    expect(sizeScaledStepDefaults(8192)).toEqual(big);
  });

  it('interpolates log-linearly and decreases with width', () => {
    // 512 is the geometric midpoint of 64 and 4096: the defaults are the geometric means of the anchors.
    const mid = sizeScaledStepDefaults(512);
    expect(mid.initEta).toBeCloseTo(Math.sqrt(SMALL_MODEL_ANCHOR.initEta * LLAMA3_ANCHOR.initEta), 10);
    expect(mid.metaLr).toBeCloseTo(Math.sqrt(SMALL_MODEL_ANCHOR.metaLr * LLAMA3_ANCHOR.metaLr), 10);
    expect(sizeScaledStepDefaults(768).initEta).toBeLessThan(mid.initEta);
    expect(() => sizeScaledStepDefaults(0)).toThrow(/dIn/);
  });

  it('fills only unset values and leaves the reference preset its own meta_lr', () => {
    const filled = withSizeDefaults('hiedit', { policy: {}, trainer: {} }, [64, 64]);
    expect(filled.policy?.low?.initEta).toBe(SMALL_MODEL_ANCHOR.initEta);
    expect(filled.trainer?.metaLr).toBe(SMALL_MODEL_ANCHOR.metaLr);
    const kept = withSizeDefaults('rledit', { policy: { low: { initEta: 0.5 } }, trainer: { metaLr: 0.25 } }, [4096]);
    expect(kept.policy?.low?.initEta).toBe(0.5);
    expect(kept.trainer?.metaLr).toBe(0.25);
    const ref = withSizeDefaults('hiedit-reference', { policy: {}, trainer: {} }, [4096]);
    expect(ref.trainer?.metaLr).toBeUndefined();
    expect(ref.policy?.low?.initEta).toBeCloseTo(LLAMA3_ANCHOR.initEta, 12);
  });

  it("turns HiEdit's key preconditioner on for narrow modules only, and never for the baselines or over the settings", () => {
    expect(withSizeDefaults('hiedit', { policy: {}, trainer: {} }, [64, 256]).policy?.low?.keyPreconditioner).toEqual(HIEDIT_KEY_PRECONDITIONER);
    expect(withSizeDefaults('hiedit', { policy: {}, trainer: {} }, [KEY_PRECONDITIONER_DEFAULT_MAX_DIN + 1]).policy?.low?.keyPreconditioner).toBeUndefined();
    for (const kind of ['rledit', 'mend', 'hiedit-reference'] as const) {
      expect(withSizeDefaults(kind, { policy: {}, trainer: {} }, [64]).policy?.low?.keyPreconditioner).toBeUndefined();
    }
    expect(withSizeDefaults('hiedit', { policy: { low: { keyPreconditioner: null } }, trainer: {} }, [64]).policy?.low?.keyPreconditioner).toBeNull();
    expect(withSizeDefaults('hiedit', { policy: { low: { style: 'malmen' } }, trainer: {} }, [64]).policy?.low?.keyPreconditioner).toBeUndefined();
  });
});

describe('policy editors created without settings', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('take the size-scaled step sizes of their edit modules (what `hiedit-bench run` uses)', () => {
    const m = createModel({ architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 32, hidden_size: 64,
      intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 32,
      hidden_act: 'silu', max_position_embeddings: 16, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false }, 1);
    const modules = ['model.layers.1.mlp.gate_proj', 'model.layers.1.mlp.up_proj'];
    try {
      for (const kind of ['hiedit', 'rledit', 'mend'] as const) {
        const ed = editorFactory(kind).create(m, modules, {});
        const s = ed.settings() as { policy: { low: { initEta: number } }; trainer: { metaLr?: number } };
        expect(s.policy.low.initEta).toBe(SMALL_MODEL_ANCHOR.initEta);
        expect(s.trainer.metaLr).toBe(SMALL_MODEL_ANCHOR.metaLr);
        ed.dispose();
      }
      const ref = editorFactory('hiedit-reference').create(m, modules, {});
      // settings() records the resolved options: the reference preset's meta_lr, not the size-scaled one
      expect((ref.settings() as { trainer: { metaLr?: number } }).trainer.metaLr).toBe(1e-5);
      expect(SMALL_MODEL_ANCHOR.metaLr).not.toBe(1e-5);
      ref.dispose();
    } finally {
      m.dispose();
    }
  });
});
