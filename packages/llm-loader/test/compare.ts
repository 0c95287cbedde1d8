/** Helpers the oracle and reference tests share: weights as the file stores them, and error measures. */
import { openCheckpointWeights } from '@hiedit/tensor-core';

/** Every tensor of a model directory, widened to float64. */
export function fileWeights(dir: string): Map<string, Float64Array> {
  const src = openCheckpointWeights(dir);
  try {
    return new Map(src.names().map((n) => [n, Float64Array.from(src.read(n).data as Float32Array)]));
  } finally {
    src.close();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** ||a - b|| / ||b||. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den);
}
