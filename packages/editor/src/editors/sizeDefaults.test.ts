import { LLAMA3_ANCHOR, SMALL_MODEL_ANCHOR, sizeScaledStepDefaults } from './sizeDefaults';
import { withSizeDefaults } from './policy';

describe('size-scaled step defaults', () => {
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
});
