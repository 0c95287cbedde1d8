import { initBackend } from '@hiedit/tensor-core';
import { createModel } from '@hiedit/llm-loader';
import { LLAMA3_ANCHOR, moduleStepDefaults, OUTPUT_SIDE_ETA_FACTOR, OUTPUT_SIDE_META_LR_FACTOR, residualWidth, SMALL_MODEL_ANCHOR, sizeScaledStepDefaults } from './sizeDefaults';
import { withSizeDefaults } from './settings';
import { HIEDIT, HIEDIT_GATE_LR, HIEDIT_KEY_PRECONDITIONER, HIEDIT_MODULE_SPACE_INIT_ETA, KEY_PRECONDITIONER_DEFAULT_MAX_DIN } from '../hiedit/settings';
import { HIEDIT_REFERENCE } from '../hiedit-reference/settings';
import { RLEDIT } from '../rledit/settings';
import { MEND } from '../mend/settings';
import { DEFAULT_CALIBRATION } from '@hiedit/rl-hierarchy';

/** Square modules of these widths (input side and output side alike). */
const sq = (...ds: number[]) => ds.map((d) => ({ dIn: d, dOut: d }));
import { createEditor } from '../../editors/create';

const METHODS = { hiedit: HIEDIT, 'hiedit-reference': HIEDIT_REFERENCE, rledit: RLEDIT, mend: MEND };

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

  it("keys on the model's residual width, with the output-side factor for output projections only", () => {
    // a Llama block: q, k (GQA), v, o, gate, up, down
    const block = [{ dIn: 64, dOut: 64 }, { dIn: 64, dOut: 32 }, { dIn: 64, dOut: 32 }, { dIn: 64, dOut: 64 },
      { dIn: 64, dOut: 256 }, { dIn: 64, dOut: 256 }, { dIn: 256, dOut: 64 }];
    expect(residualWidth([...block, ...block])).toBe(64);
    expect(() => residualWidth([])).toThrow(/no linear modules/);
    const up = moduleStepDefaults([{ dIn: 64, dOut: 256 }], 64);
    expect(up).toEqual(sizeScaledStepDefaults(64));
    const down = moduleStepDefaults([{ dIn: 256, dOut: 64 }], 64);
    expect(down.initEta).toBeCloseTo(SMALL_MODEL_ANCHOR.initEta * OUTPUT_SIDE_ETA_FACTOR, 12);
    expect(down.metaLr).toBeCloseTo(SMALL_MODEL_ANCHOR.metaLr * OUTPUT_SIDE_META_LR_FACTOR, 15);
    // an FFN narrower than the residual: gate/up (64 -> 32) still read the residual stream
    expect(moduleStepDefaults([{ dIn: 64, dOut: 32 }], 64)).toEqual(up);
    // a mixed set takes the input-side value
    expect(moduleStepDefaults([{ dIn: 64, dOut: 256 }, { dIn: 256, dOut: 64 }], 64)).toEqual(up);
    expect(() => moduleStepDefaults([], 64)).toThrow(/no edit modules/);
  });

  it('fills only unset values and leaves the reference preset its own meta_lr', () => {
    const filled = withSizeDefaults(METHODS['rledit'], { policy: {}, trainer: {} }, sq(64, 64), 64);
    expect(filled.policy?.low?.initEta).toBe(SMALL_MODEL_ANCHOR.initEta);
    expect(filled.trainer?.metaLr).toBe(SMALL_MODEL_ANCHOR.metaLr);
    const kept = withSizeDefaults(METHODS['rledit'], { policy: { low: { initEta: 0.5 } }, trainer: { metaLr: 0.25 } }, sq(4096), 4096);
    expect(kept.policy?.low?.initEta).toBe(0.5);
    expect(kept.trainer?.metaLr).toBe(0.25);
    const ref = withSizeDefaults(METHODS['hiedit-reference'], { policy: {}, trainer: {} }, sq(4096), 4096);
    expect(ref.trainer?.metaLr).toBeUndefined();
    expect(ref.policy?.low?.initEta).toBeCloseTo(LLAMA3_ANCHOR.initEta, 12);
  });

  it("gives HiEdit its low level (module-space factors, preconditioner for narrow modules, calibration), never the baselines", () => {
    const h = withSizeDefaults(METHODS['hiedit'], { policy: {}, trainer: {} }, sq(64, 256), 64);
    expect(h.policy?.low?.keyPreconditioner).toEqual(HIEDIT_KEY_PRECONDITIONER);
    expect(h.policy?.low?.factorSpace).toBe('module');
    expect(h.policy?.low?.initEta).toBe(HIEDIT_MODULE_SPACE_INIT_ETA);
    expect(h.trainer?.calibration).toEqual(DEFAULT_CALIBRATION);
    expect(h.trainer?.gateTarget).toBe('counterfactual');
    expect(h.trainer?.gateLr).toBe(HIEDIT_GATE_LR);
    expect(withSizeDefaults(METHODS['hiedit'], { policy: {}, trainer: { gateLr: null } }, sq(64, 256), 64).trainer?.gateLr).toBeNull();
    expect(withSizeDefaults(METHODS['hiedit'], { policy: { high: { adaptive: true } }, trainer: {} }, sq(64, 256), 64).trainer?.gateTarget).toBeUndefined();
    expect(withSizeDefaults(METHODS['hiedit'], { policy: {}, trainer: { gateTarget: 'straightThrough' } }, sq(64, 256), 64).trainer?.gateTarget).toBe('straightThrough');
    expect(h.trainer?.metaLr).toBe(SMALL_MODEL_ANCHOR.metaLr);
    expect(withSizeDefaults(METHODS['hiedit'], { policy: {}, trainer: {} }, sq(KEY_PRECONDITIONER_DEFAULT_MAX_DIN + 1), KEY_PRECONDITIONER_DEFAULT_MAX_DIN + 1).policy?.low?.keyPreconditioner).toBeUndefined();
    for (const kind of ['rledit', 'mend', 'hiedit-reference'] as const) {
      const b = withSizeDefaults(METHODS[kind], { policy: {}, trainer: {} }, sq(64), 64);
      expect(b.policy?.low?.keyPreconditioner).toBeUndefined();
      expect(b.policy?.low?.factorSpace).toBeUndefined();
      expect(b.trainer?.calibration).toBeUndefined();
    }
    const off = withSizeDefaults(METHODS['hiedit'], { policy: { low: { keyPreconditioner: null, factorSpace: 'normalized' } }, trainer: { calibration: null } }, sq(64), 64);
    expect(off.policy?.low?.keyPreconditioner).toBeNull();
    expect(off.policy?.low?.factorSpace).toBe('normalized');
    expect(off.policy?.low?.initEta).toBe(SMALL_MODEL_ANCHOR.initEta);
    expect(off.trainer?.calibration).toBeNull();
    const malmen = withSizeDefaults(METHODS['hiedit'], { policy: { low: { style: 'malmen' } }, trainer: {} }, sq(64), 64);
    expect(malmen.policy?.low?.keyPreconditioner).toBeUndefined();
    expect(malmen.policy?.low?.factorSpace).toBeUndefined();
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
      for (const kind of ['rledit', 'mend'] as const) {
        const ed = createEditor(kind, m, modules, {});
        const s = ed.settings() as unknown as { policy: { low: { initEta: number } }; trainer: { metaLr?: number } };
        expect(s.policy.low.initEta).toBe(SMALL_MODEL_ANCHOR.initEta);
        expect(s.trainer.metaLr).toBe(SMALL_MODEL_ANCHOR.metaLr);
        ed.dispose();
      }
      const ref = createEditor('hiedit-reference', m, modules, {});
      // settings() records the resolved options: the reference preset's meta_lr, not the size-scaled one
      expect((ref.settings() as unknown as { trainer: { metaLr?: number } }).trainer.metaLr).toBe(1e-5);
      expect(SMALL_MODEL_ANCHOR.metaLr).not.toBe(1e-5);
      ref.dispose();
    } finally {
      m.dispose();
    }
  });
});
