// Tests of the native small-M GEMM (native/src/hiedit_gemm.c) through the addon's gemm(): against a float64
// reference and against OpenBLAS on the same inputs, on awkward shapes and unaligned heap offsets, plus the
// HIEDIT_GEMM switch and bit-for-bit determinism across thread counts.
import { spawnSync } from 'child_process';
import { loadNativeBlas, NATIVE_ADDON_PATH, NativeBlas } from './accelerator';

/** The addon's small-M GEMM controls (hiedit_gemm_napi.c). */
interface GemmControls {
  gemmInfo(): { kernel: string; threads: number; best: string };
  setGemmKernel(name: string): boolean;
}
type Addon = NativeBlas & Partial<GemmControls>;

// xorshift32: a seeded generator local to this test.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const loaded = loadNativeBlas();
const addon = loaded.addon as Addon | undefined;
const skipReason = !addon
  ? `native addon unavailable (${loaded.reason})`
  : typeof addon.setGemmKernel !== 'function'
    ? 'the addon predates the small-M GEMM (rebuild it: node native/build.js)'
    : undefined;
if (skipReason) {
  // eslint-disable-next-line no-console
  console.log(`gemm-kernel tests skipped: ${skipReason}`);
}
const describeNative = skipReason ? describe.skip : describe;

const SENTINEL = -12345.5;

interface Case {
  m: number;
  n: number;
  k: number;
  transB: boolean;
  bias: 'none' | 'row' | 'scalar';
}

interface Layout {
  heap: ArrayBuffer;
  f: Float32Array;
  a: number; // float indices
  b: number;
  c: number;
  bias: number;
  cEnd: number;
}

/** Lays A, B, bias and C out in one buffer at offsets that are 4-byte but not 16- or 64-byte aligned. */
function layout(c: Case, next: () => number): Layout {
  const aN = c.m * c.k;
  const bN = c.k * c.n;
  const cN = c.m * c.n;
  const a = 3;
  const b = a + aN + 5;
  const bias = b + bN + 7;
  const cOff = bias + c.n + 9;
  const total = cOff + cN + 17;
  const heap = new ArrayBuffer(total * 4);
  const f = new Float32Array(heap);
  f.fill(SENTINEL);
  for (let i = 0; i < aN; i++) f[a + i] = next() * 2 - 1;
  for (let i = 0; i < bN; i++) f[b + i] = next() * 2 - 1;
  for (let i = 0; i < c.n; i++) f[bias + i] = next() * 2 - 1;
  return { heap, f, a, b, c: cOff, bias, cEnd: cOff + cN };
}

function run(addon: Addon, c: Case, l: Layout): Float32Array {
  l.f.fill(SENTINEL, l.c, l.cEnd);
  addon.gemm(l.heap, false, c.transB, c.m, c.n, c.k, 1, l.a * 4, l.b * 4, l.c * 4,
    c.bias === 'none' ? -1 : l.bias * 4, c.bias === 'scalar' ? 1 : c.n, 0, 0);
  return l.f.slice(l.c, l.cEnd);
}

/** float64 reference and, per element, the sum of |terms| that bounds float32 rounding error. */
function reference(c: Case, l: Layout): { ref: Float64Array; mag: Float64Array } {
  const ref = new Float64Array(c.m * c.n);
  const mag = new Float64Array(c.m * c.n);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = c.bias === 'none' ? 0 : l.f[l.bias + (c.bias === 'scalar' ? 0 : j)];
      let g = Math.abs(s);
      for (let p = 0; p < c.k; p++) {
        const bv = c.transB ? l.f[l.b + j * c.k + p] : l.f[l.b + p * c.n + j];
        const t = l.f[l.a + i * c.k + p] * bv;
        s += t;
        g += Math.abs(t);
      }
      ref[i * c.n + j] = s;
      mag[i * c.n + j] = g;
    }
  }
  return { ref, mag };
}

function expectClose(got: Float32Array, want: Float64Array | Float32Array, mag: Float64Array, k: number, what: string): void {
  // A float32 sum of k+1 terms is within (k+1) * 2^-24 * sum|terms| of the exact value; twice that covers two
  // independently rounded results. Wrong indexing errs by O(sum|terms|/sqrt(k)), far above this.
  const eps = 2 ** -24;
  for (let i = 0; i < got.length; i++) {
    const tol = 2 * (k + 2) * eps * mag[i] + 1e-30;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (tolerance ${tol})`);
    }
  }
}

function kernelsOnThisCpu(addon: Addon): string[] {
  const out: string[] = [];
  for (const name of ['avx512', 'avx2']) if (addon.setGemmKernel!(name)) out.push(name);
  addon.setGemmKernel!('auto');
  return out;
}

describeNative('small-M GEMM kernel (hiedit_gemm.c)', () => {
  const a = addon as Addon & GemmControls;
  afterAll(() => {
    a.setGemmKernel('auto');
  });

  test('extents whose byte size wraps 64 bits are refused before anything is written', () => {
    // 65536 x 65536 outputs x 2^30 batches, K = 0: the output extent overflows; the check must not wrap to "fits".
    const heap = new ArrayBuffer(1 << 16);
    expect(() => a.gemm(heap, false, false, 65536, 65536, 0, 2 ** 30, 0, 0, 0, -1, 0, 0, 0)).toThrow(/output out of heap bounds/);
    expect(() => a.gemm(heap, false, false, 4, 4, 4, 1, 0, 0, 2 ** 32 - 4, -1, 0, 0, 0)).toThrow(/output out of heap bounds/);
  });

  test('gemmInfo names the kernel and setGemmKernel validates its argument', () => {
    const info = a.gemmInfo();
    expect(['avx512', 'avx2', 'blas']).toContain(info.kernel);
    expect(['avx512', 'avx2', 'blas']).toContain(info.best);
    expect(a.setGemmKernel('blas')).toBe(true);
    expect(a.gemmInfo()).toMatchObject({ kernel: 'blas', threads: 0 });
    expect(() => a.setGemmKernel('sse9')).toThrow(/unknown kernel name/);
    a.setGemmKernel('auto');
    expect(a.gemmInfo().kernel).toBe(info.best === 'avx512' ? 'avx512' : 'blas');
  });

  const next = rng(20261125);
  const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const odd = (lo: number, hi: number): number => pick(lo, hi) | 1;
  const cases: Case[] = [];
  // Fixed edge shapes: row counts around the register blocks (8 and 4 rows; 6 and 3 on AVX2), a single column,
  // widths just under and over one 48-column panel, M = 257 above the small-M range (BLAS), M = 1 (sgemv).
  for (const [m, n, k] of [[2, 1, 1], [9, 47, 17], [8, 49, 16], [7, 97, 33], [65, 35, 19], [1, 33, 29], [64, 17, 15], [257, 9, 13]]) {
    for (const transB of [false, true]) cases.push({ m, n, k, transB, bias: 'row' });
  }
  const biases: Case['bias'][] = ['none', 'row', 'scalar'];
  for (let t = 0; t < 18; t++) {
    cases.push({ m: t % 6 === 5 ? pick(65, 256) : pick(1, 64), n: odd(1, 181), k: odd(1, 151), transB: t % 2 === 1, bias: biases[t % 3] });
  }

  test.each(cases)('M=$m N=$n K=$k transB=$transB bias=$bias matches float64 and OpenBLAS', (c) => {
    const l = layout(c, rng(c.m * 7919 + c.n * 104729 + c.k * 31 + (c.transB ? 1 : 0)));
    const { ref, mag } = reference(c, l);
    a.setGemmKernel('blas');
    const blas = run(a, c, l);
    expectClose(blas, ref, mag, c.k, 'OpenBLAS vs float64');
    for (const kernel of kernelsOnThisCpu(a)) {
      a.setGemmKernel(kernel);
      const got = run(a, c, l);
      expectClose(got, ref, mag, c.k, `${kernel} vs float64`);
      expectClose(got, blas, mag, c.k, `${kernel} vs OpenBLAS`);
      // Nothing outside C may be written (masked tails).
      for (let i = l.c - 9; i < l.c; i++) expect(l.f[i]).toBe(SENTINEL);
      for (let i = l.cEnd; i < l.f.length; i++) expect(l.f[i]).toBe(SENTINEL);
    }
  });

  // Large enough to use the thread pool, several K blocks (64 rows) and column blocks (1536), odd everywhere.
  const big: Case[] = [
    { m: 37, n: 1703, k: 203, transB: false, bias: 'row' },
    { m: 33, n: 1201, k: 261, transB: true, bias: 'none' },
    // Few rows but a large B: threaded because reading B dominates.
    { m: 3, n: 2049, k: 131, transB: false, bias: 'scalar' },
    { m: 2, n: 2001, k: 141, transB: true, bias: 'row' },
  ];
  test.each(big)('threaded M=$m N=$n K=$k transB=$transB is correct and bit-identical from call to call', (c) => {
    const l = layout(c, rng(99 + c.n));
    const { ref, mag } = reference(c, l);
    for (const kernel of kernelsOnThisCpu(a)) {
      a.setGemmKernel(kernel);
      const first = run(a, c, l);
      expectClose(first, ref, mag, c.k, kernel);
      for (let r = 0; r < 3; r++) expect(Buffer.from(run(a, c, l).buffer).equals(Buffer.from(first.buffer))).toBe(true);
    }
  });

  // A child process: thread count and HIEDIT_GEMM are read once per process.
  function childDigest(env: Record<string, string>): { kernel: string; threads: number; digest: string } {
    const code = `
      const m = require(${JSON.stringify(NATIVE_ADDON_PATH)});
      const M = 32, N = 1001, K = 333;
      const f = new Float32Array(3 + M * K + N * K + M * N);
      let s = 12345;
      for (let i = 0; i < f.length; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; f[i] = s / 4294967296 - 0.5; }
      const out = [];
      for (const tb of [false, true]) {
        m.gemm(f.buffer, false, tb, M, N, K, 1, 12, 12 + M * K * 4, 12 + (M * K + N * K) * 4, -1, 0, 0, 0);
        out.push(Buffer.from(f.buffer, 12 + (M * K + N * K) * 4, M * N * 4).toString('base64'));
      }
      const crypto = require('crypto');
      process.stdout.write(JSON.stringify({ ...m.gemmInfo(), digest: crypto.createHash('sha256').update(out.join()).digest('hex') }));`;
    const r = spawnSync(process.execPath, ['-e', code], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  test('HIEDIT_GEMM=blas forces OpenBLAS; results do not depend on the thread count', () => {
    const blas = childDigest({ HIEDIT_GEMM: 'blas' });
    expect(blas.kernel).toBe('blas');
    const best = a.gemmInfo().best;
    if (best === 'blas') return;
    const one = childDigest({ HIEDIT_GEMM: best, HIEDIT_GEMM_THREADS: '1' });
    const two = childDigest({ HIEDIT_GEMM: best, HIEDIT_GEMM_THREADS: '2' });
    const three = childDigest({ HIEDIT_GEMM: best, HIEDIT_GEMM_THREADS: '3' });
    expect(one).toMatchObject({ kernel: best, threads: 1 });
    expect(two).toMatchObject({ kernel: best, threads: 2 });
    expect(three.threads).toBe(3);
    expect(two.digest).toBe(one.digest);
    expect(three.digest).toBe(one.digest);
    // And the kernel really ran: OpenBLAS sums in another order, so its bits differ on this shape.
    expect(blas.digest).not.toBe(one.digest);
  });
});
