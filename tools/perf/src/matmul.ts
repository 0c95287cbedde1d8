/**
 * Matmul throughput through tfjs (whatever kernels are registered: accelerated or stock) next to raw calls of the
 * addon on the same shapes: its gemm as the accelerator routes it (hiedit's small-M GEMM where it applies, else
 * BLAS) and plain OpenBLAS (the small-M GEMM switched off). `ratio` = tfjs / OpenBLAS alone (issue 3's target);
 * `pathRatio` = tfjs / the same kernels called raw, i.e. what the tfjs path costs on top.
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
  /** Raw addon gemm, routed as the accelerator routes it. */
  blasMs: number | undefined;
  blasGflops: number | undefined;
  /** Raw OpenBLAS alone (hiedit's small-M GEMM off); equal to blas* on addons without that GEMM. */
  openblasMs?: number;
  openblasGflops?: number;
  /** tfjs / raw OpenBLAS throughput. */
  ratio: number | undefined;
  /** tfjs / raw routed gemm throughput (the tfjs path's own cost). */
  pathRatio?: number;
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
  // OpenBLAS alone: the addon's own small-M GEMM switched off around the call, then put back as it was.
  const gemmKernel = addon?.gemmInfo?.().kernel;
  const rawOpenBlas = (): void => {
    if (gemmKernel === undefined || gemmKernel === 'blas') return raw();
    addon!.setGemmKernel!('blas');
    try {
      raw();
    } finally {
      addon!.setGemmKernel!(gemmKernel);
    }
  };
  const tfjsTimes: number[] = [];
  const blasTimes: number[] = [];
  const openblasTimes: number[] = [];
  // Each variant is timed on its second call in a row: in a model's forward the same kernels run back to back, and
  // a first call after another library's would measure the wake-up of idle worker threads, not the product.
  const timed = (fn: () => void, into: number[]): void => {
    fn();
    const t0 = performance.now();
    fn();
    into.push(performance.now() - t0);
  };
  const variants: [() => void, number[]][] = [[viaTfjs, tfjsTimes]];
  if (addon) variants.push([raw, blasTimes], [rawOpenBlas, openblasTimes]);
  try {
    // Rotating the order each rep spreads any drift of the machine evenly over the variants.
    for (let i = 0; i < reps; i++) {
      for (let j = 0; j < variants.length; j++) {
        const [fn, into] = variants[(i + j) % variants.length];
        timed(fn, into);
      }
    }
  } finally {
    tf.dispose([a, b]);
  }
  const tfjsMs = median(tfjsTimes);
  const blasMs = addon ? median(blasTimes) : undefined;
  const openblasMs = addon ? median(openblasTimes) : undefined;
  const tfjsGflops = flop / tfjsMs / 1e6;
  const blasGflops = blasMs === undefined ? undefined : flop / blasMs / 1e6;
  const openblasGflops = openblasMs === undefined ? undefined : flop / openblasMs / 1e6;
  return {
    ...shape, tfjsMs, tfjsGflops, blasMs, blasGflops, openblasMs, openblasGflops,
    ratio: openblasGflops ? tfjsGflops / openblasGflops : undefined,
    pathRatio: blasGflops ? tfjsGflops / blasGflops : undefined,
  };
}
