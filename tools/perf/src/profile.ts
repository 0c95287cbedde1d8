/**
 * Kernel-level profile of one workload: total time per tfjs kernel name (tf.profile), largest first.
 * This is what says where the time goes when a target is out of reach.
 */
import { tf } from '@hiedit/tensor-core';

/** Time and call count of one kernel name within a profiled workload. */
export interface KernelCost {
  kernel: string;
  ms: number;
  calls: number;
  share: number;
}

/** Profiles fn (which must dispose what it creates) and aggregates kernel times by kernel name. */
export async function profileKernels(fn: () => void, top = 15): Promise<{ totalKernelMs: number; wallMs: number; kernels: KernelCost[] }> {
  const t0 = performance.now();
  const info = await tf.profile(() => {
    fn();
    return [] as tf.Tensor[];
  });
  const wallMs = performance.now() - t0;
  const by = new Map<string, { ms: number; calls: number }>();
  // Only registered kernels: tf.profile also lists wrappers (`fusedMatMul__op`, customGrad scopes named after
  // their function) whose time is already counted in the kernels they ran.
  const registered = new Set(tf.getKernelsForBackend(tf.getBackend()).map((k) => k.kernelName));
  for (const k of info.kernels) {
    if (!registered.has(k.name)) continue;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
  const kernels = [...by.entries()]
    .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls, share: total > 0 ? e.ms / total : 0 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
  return { totalKernelMs: total, wallMs, kernels };
}
