/**
 * Matmul throughput through tfjs (whatever kernels are registered: accelerated or stock) next to the raw
 * BLAS the accelerator calls, on the same shapes. The ratio says how much the tfjs path costs on top.
 */
import { median, nativeBlas, tf } from '@hiedit/tensor-core';

/** One matmul shape: (m, k) x (k, n), or x (n, k)^T when transB (the tied LM head). */
export interface MatmulShape {
  m: number;
  k: number;
  n: number;
  transB: boolean;
  reps: number;
}

export interface MatmulResult extends MatmulShape {
  tfjsMs: number;
  tfjsGflops: number;
  blasMs: number | undefined;
  blasGflops: number | undefined;
  /** tfjs / raw BLAS throughput. */
  ratio: number | undefined;
}

/** The matmuls of one transformer forward at T tokens: attention/MLP projections and the LM head. */
export function modelMatmulShapes(T: number, d: number, inter: number, vocab: number, qkvOut: number): MatmulShape[] {
  return [
    { m: T, k: d, n: qkvOut, transB: false, reps: 20 },
    { m: T, k: d, n: d, transB: false, reps: 20 },
    { m: T, k: d, n: inter, transB: false, reps: 20 },
    { m: T, k: inter, n: d, transB: false, reps: 20 },
    { m: T, k: d, n: vocab, transB: true, reps: 5 },
  ];
}

function fill(n: number, seed: number): Float32Array {
  // A cheap deterministic pattern is enough: timing does not depend on the values.
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

/**
 * Times tfjs matMul and, when the addon is available, raw sgemm on plain memory. The two are interleaved
 * rep by rep so that load from other processes hits both alike and the ratio stays meaningful.
 */
export function benchMatmul(shape: MatmulShape): MatmulResult {
  const { m, k, n, transB, reps } = shape;
  const flop = 2 * m * k * n;
  const a = tf.tensor2d(fill(m * k, 1), [m, k]);
  const b = transB ? tf.tensor2d(fill(n * k, 2), [n, k]) : tf.tensor2d(fill(k * n, 2), [k, n]);
  const addon = nativeBlas();
  const bytesA = m * k * 4;
  const bytesB = k * n * 4;
  let heap: ArrayBuffer | undefined;
  if (addon) {
    heap = new ArrayBuffer(bytesA + bytesB + m * n * 4);
    new Float32Array(heap, 0, m * k).set(fill(m * k, 1));
    new Float32Array(heap, bytesA, k * n).set(fill(k * n, 2));
  }
  const viaTfjs = (): void => {
    tf.matMul(a, b, false, transB).dispose();
  };
  const raw = (): void => {
    addon!.gemm(heap!, false, transB, m, n, k, 1, 0, bytesA, bytesA + bytesB, -1, 0, 0, 0);
  };
  const tfjsTimes: number[] = [];
  const blasTimes: number[] = [];
  try {
    viaTfjs();
    if (addon) raw();
    for (let i = 0; i < reps; i++) {
      let t0 = performance.now();
      viaTfjs();
      tfjsTimes.push(performance.now() - t0);
      if (addon) {
        t0 = performance.now();
        raw();
        blasTimes.push(performance.now() - t0);
      }
    }
  } finally {
    tf.dispose([a, b]);
  }
  const tfjsMs = median(tfjsTimes);
  const blasMs = addon ? median(blasTimes) : undefined;
  const tfjsGflops = flop / tfjsMs / 1e6;
  const blasGflops = blasMs === undefined ? undefined : flop / blasMs / 1e6;
  return { ...shape, tfjsMs, tfjsGflops, blasMs, blasGflops, ratio: blasGflops ? tfjsGflops / blasGflops : undefined };
}
