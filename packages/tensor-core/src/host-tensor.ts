/** Conversion of host tensors read from safetensors into tfjs tensors. */
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from './safetensors';

/**
 * A tfjs tensor holding `h`: floating dtypes become float32, BOOL becomes bool, every integer dtype
 * becomes int32 (tfjs has no 64-bit integers; I64 values outside the int32 range are refused, naming
 * `label`). The caller disposes the result.
 */
export function hostToTensor(h: HostTensor, label = 'tensor'): tf.Tensor {
  const { data, shape } = h;
  if (data instanceof Float32Array) return tf.tensor(data, shape, 'float32');
  if (h.dtype === 'BOOL') return tf.tensor(data as Uint8Array, shape, 'bool');
  if (data instanceof BigInt64Array) {
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v > 2147483647n || v < -2147483648n) {
        throw new Error(`${label}: I64 value ${v} at flat index ${i} does not fit in int32 (tfjs has no int64)`);
      }
      out[i] = Number(v);
    }
    return tf.tensor(out, shape, 'int32');
  }
  if (data instanceof Int32Array) return tf.tensor(data, shape, 'int32');
  return tf.tensor(Int32Array.from(data as ArrayLike<number>), shape, 'int32');
}
