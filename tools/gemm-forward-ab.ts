/**
 * Interleaved A/B of a whole model forward (and forward+backward) with the small-M GEMM on and off, in one
 * process through the real tfjs path: the accelerator's gemm() reads the kernel choice per call, so
 * setGemmKernel flips it between repetitions. Uses the perf suite's seeded random checkpoints.
 */
import { acceleratorStatus, initBackend, loadNativeBlas, median, tf } from '@hiedit/tensor-core';
import { loadModel } from '@hiedit/llm-loader';
import { ensureCheckpoint, PERF_SHAPES } from './perf/src/shapes';

export async function main(argv: string[]): Promise<void> {
  const shape = PERF_SHAPES[argv[0] ?? 'gpt2'];
  if (!shape) throw new Error(`gemm-forward-ab: unknown shape ${argv[0]} (gpt2 or llama)`);
  const reps = Number(argv[1] ?? 15);
  const T = Number(argv[2] ?? 32);
  await initBackend();
  const addon = loadNativeBlas().addon as unknown as { setGemmKernel?(k: string): boolean; gemmInfo?(): { best: string; threads: number } } | undefined;
  if (!addon?.setGemmKernel || !addon.gemmInfo) throw new Error('gemm-forward-ab: the native addon with setGemmKernel is not loaded');
  const best = addon.gemmInfo().best;
  const ck = await ensureCheckpoint(shape, 1);
  const model = await loadModel(ck.dir, { tokenizer: false });
  let s = 12345;
  const ids = Array.from({ length: T }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % shape.vocab;
  });
  const tuple = { ids, labels: [...ids.slice(1), -100] };
  const zeros = shape.gradModules.map((n) => tf.zeros([model.module(n).dIn, model.module(n).dOut]) as tf.Tensor2D);
  const fwd = (): void => model.forward([ids]).dispose();
  const fb = (): void => {
    const g = tf.tidy(() =>
      tf.grads((...sh: tf.Tensor[]) => model.lossUnderShifts([tuple], new Map(shape.gradModules.map((n, i) => [n, sh[i] as tf.Tensor2D]))))(zeros),
    );
    tf.dispose(g);
  };
  const kernels = ['blas', best];
  const logits: Record<string, Float32Array> = {};
  for (const k of kernels) {
    addon.setGemmKernel(k);
    const l = model.forward([ids]);
    logits[k] = l.dataSync() as Float32Array;
    l.dispose();
    fb();
  }
  let diff = 0;
  for (let i = 0; i < logits.blas.length; i++) diff = Math.max(diff, Math.abs(logits.blas[i] - logits[best][i]));
  const t: Record<string, { f: number[]; fb: number[] }> = { blas: { f: [], fb: [] }, [best]: { f: [], fb: [] } };
  for (let r = 0; r < reps; r++) {
    for (const k of r % 2 ? kernels : [...kernels].reverse()) {
      addon.setGemmKernel(k);
      let a = performance.now();
      fwd();
      t[k].f.push(performance.now() - a);
      a = performance.now();
      fb();
      t[k].fb.push(performance.now() - a);
    }
  }
  addon.setGemmKernel('auto');
  tf.dispose(zeros);
  const line = (what: string, a: number[], b: number[]): string =>
    `${what.padEnd(18)} blas ${median(a).toFixed(2).padStart(8)} ms   ${best} ${median(b).toFixed(2).padStart(8)} ms   ratio ${(median(b) / median(a)).toFixed(3)}`;
  console.log(`${shape.name} T=${T}, ${reps} interleaved reps; ${acceleratorStatus().reason}; small-M threads ${addon.gemmInfo().threads}`);
  console.log(line('forward', t.blas.f, t[best].f));
  console.log(line('forward+backward', t.blas.fb, t[best].fb));
  console.log(`max |logit difference| blas vs ${best}: ${diff.toExponential(2)}`);
}
