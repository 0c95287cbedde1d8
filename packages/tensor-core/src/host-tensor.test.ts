import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend';
import { hostToTensor } from './host-tensor';

beforeAll(async () => {
  await initBackend();
});

describe('hostToTensor', () => {
  it('maps dtypes to tfjs dtypes and keeps values and shapes', () => {
    const base = tf.memory().numTensors;
    const cases = [
      { h: { dtype: 'BF16' as const, shape: [2], data: Float32Array.of(1.5, -2) }, dtype: 'float32', values: [1.5, -2] },
      { h: { dtype: 'I64' as const, shape: [1, 2], data: BigInt64Array.of(-5n, 7n) }, dtype: 'int32', values: [-5, 7] },
      { h: { dtype: 'I8' as const, shape: [2], data: Int8Array.of(-1, 3) }, dtype: 'int32', values: [-1, 3] },
      { h: { dtype: 'U8' as const, shape: [2], data: Uint8Array.of(255, 0) }, dtype: 'int32', values: [255, 0] },
      { h: { dtype: 'BOOL' as const, shape: [2], data: Uint8Array.of(1, 0) }, dtype: 'bool', values: [1, 0] },
    ];
    for (const c of cases) {
      const t = hostToTensor(c.h);
      expect(t.dtype).toBe(c.dtype);
      expect(t.shape).toEqual(c.h.shape);
      expect(Array.from(t.dataSync())).toEqual(c.values);
      t.dispose();
    }
    expect(tf.memory().numTensors).toBe(base);
  });

  it('refuses I64 values beyond int32, naming the tensor', () => {
    expect(() => hostToTensor({ dtype: 'I64', shape: [1], data: BigInt64Array.of(2n ** 40n) }, 'tensor "pos" in /m/x.safetensors')).toThrow(
      /tensor "pos" in \/m\/x.safetensors: I64 value 1099511627776 at flat index 0 does not fit in int32/,
    );
  });
});
