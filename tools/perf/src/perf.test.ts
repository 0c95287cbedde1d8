import { checkTargets, formatTable, mergeBest, type ShapeResult } from './main';
import { median } from '@hiedit/tensor-core';

// Logic of the perf suite only: nothing here times anything (benchmarks are never timed tests).

describe('perf suite helpers', () => {
  test('median of odd and even lists, and an empty list is an error', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/empty/);
  });

  test('mergeBest keeps the fastest times, the highest throughputs and the first of everything else', () => {
    const a = { forwardMs: 10, tfjsGflops: 5, loss: 1.5, generation: [{ context: 16, newTokens: 16, msPerToken: 7, tokensPerS: 140 }], name: 'x' };
    const b = { forwardMs: 8, tfjsGflops: 4, loss: 9.9, generation: [{ context: 16, newTokens: 16, msPerToken: 9, tokensPerS: 110 }], name: 'y' };
    expect(mergeBest(a, b)).toEqual({
      forwardMs: 8,
      tfjsGflops: 5,
      loss: 1.5,
      generation: [{ context: 16, newTokens: 16, msPerToken: 7, tokensPerS: 140 }],
      name: 'x',
    });
    const t = { forward_ms: 3, forward_backward_ms: 9, ms_per_token: 4, peak_rss_mb: 100 };
    expect(mergeBest(t, { forward_ms: 5, forward_backward_ms: 7, ms_per_token: 2, peak_rss_mb: 120 })).toEqual({
      forward_ms: 3,
      forward_backward_ms: 7,
      ms_per_token: 2,
      peak_rss_mb: 120,
    });
  });

  test('formatTable lines up ours, the no-native and stock columns, pytorch and the ratio', () => {
    const r = {
      shape: 'gpt2',
      ours: {
        accelerator: { name: 'native-blas', active: true, reason: '' },
        forwardMs: 50,
        forwardBackwardMs: 120,
        traceMs: 130,
        generation: [{ context: 16, newTokens: 16, msPerToken: 20, tokensPerS: 50, firstIds: [] }],
        matmul: [{ m: 32, k: 768, n: 768, transB: false, reps: 1, tfjsMs: 1, tfjsGflops: 37.7, blasMs: 0.5, blasGflops: 75.5, ratio: 0.5 }],
        loss: 1,
        logitsProbe: [],
      },
      wasmOnly: { forwardMs: 400, forwardBackwardMs: 900, matmul: [] },
      stock: { forwardMs: 500, forwardBackwardMs: 1500, matmul: [] },
      torch: {
        forward_ms: 100, forward_backward_ms: 100, trace_ms: 260, peak_rss_mb: 900,
        generation: [{ context: 16, new_tokens: 16, ms_per_token: 10, tokens_per_s: 100, first_ids: [] }],
        matmul: [{ m: 32, k: 768, n: 768, transB: false, ms: 0.5, gflops: 75.5 }],
      },
      peakRssMb: 2000,
    } as unknown as ShapeResult;
    const lines = formatTable([r]).split('\n');
    expect(lines[0]).toMatch(/ours \(native\).*wasm, no native.*stock wasm.*pytorch.*ours\/pytorch/);
    const fwd = lines.find((l) => l.includes('forward ms'))!;
    expect(fwd.trim().split(/\s{2,}/)).toEqual(['gpt2', 'forward ms (T=32)', '50.0', '400.0', '500.0', '100.0', '0.50']);
    const bwd = lines.find((l) => l.includes('fwd+bwd'))!;
    expect(bwd.trim().split(/\s{2,}/).pop()).toBe('1.20');
    expect(lines.find((l) => l.includes('32x768x768'))).toMatch(/tfjs\/OpenBLAS 0\.50 \(OpenBLAS 75\.5\)$/);
    // With hiedit's own GEMM the raw routed call differs from OpenBLAS alone, and both are shown.
    const own = { ...r, ours: { ...r.ours, matmul: [{ ...r.ours.matmul[0], blasMs: 0.25, blasGflops: 151, openblasMs: 0.5, openblasGflops: 75.5 }] } } as ShapeResult;
    expect(formatTable([own]).split('\n').find((l) => l.includes('32x768x768'))).toMatch(/tfjs\/OpenBLAS 0\.50 \(OpenBLAS 75\.5; raw hiedit gemm 151\.0\)/);
  });
});

describe('checkTargets', () => {
  test('flags each issue-3 target from the numbers, and unknown when a number is missing', () => {
    const base = {
      ours: {
        matmul: [{ ratio: 0.95 }, { ratio: 0.65 }],
        generation: [{ context: 16, msPerToken: 10 }, { context: 256, msPerToken: 11.5 }],
        forwardMs: 1, forwardBackwardMs: 1,
      },
      wasmOnly: { forwardMs: 90, forwardBackwardMs: 200 },
      stock: { forwardMs: 100, forwardBackwardMs: 190 },
      stockMaxAbsLogitDiff: 3e-6,
    };
    const t = checkTargets([{ ...base, shape: 'gpt2', ratios: { forward: 0.9, forwardBackward: 1.1 } } as never]);
    const by = (s: string) => t.find((x) => x.target.includes(s))!;
    expect(by('GPT-2 forward ours').met).toBe(true);
    expect(by('GPT-2 forward+backward').met).toBe(false);
    expect(by('matmul via tfjs').value).toBe('65%');
    expect(by('matmul via tfjs').met).toBe(false);
    expect(by('within 20%').met).toBe(true);
    expect(by('no slower than stock').met).toBe(false); // fwd+bwd 200 vs 190
    expect(by('logits agree').met).toBe(true);
    expect(checkTargets([])[0].met).toBeUndefined();
  });
});
