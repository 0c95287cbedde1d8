/*
 * Interleaved A/B timing of hiedit_gemm_small against OpenBLAS sgemm/sgemv on the GPT-2-small shapes.
 * Not part of the addon; build and run with native/bench/run-gemm-bench.sh.
 *
 * Per shape: the two implementations alternate (order flipped every rep) on the same operands, so drift in
 * machine load hits both alike; medians are reported. The "forward" rows run one GPT-2-small forward's 48
 * linears (12 layers with their own weights, so weights stream from memory as in a real forward) plus the tied
 * LM head, timed as a whole, again alternating.
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/hiedit_gemm.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((rng >> 40) * (1.0 / 16777216.0)) - 0.5f;
}

static float *alloc_rand(size_t count, int misalign) {
  /* Offsets like the wasm heap's: 4-byte aligned, not 64. */
  float *p = (float *)malloc((count + 16) * sizeof(float));
  if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
  p += misalign;
  for (size_t i = 0; i < count; i++) p[i] = frand();
  return p;
}

static void blas_gemm(int tb, int m, int n, int k, const float *a, const float *b, float *c, int acc) {
  if (m == 1) {
    if (tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, b, k, a, 1, acc ? 1.0f : 0.0f, c, 1);
    else cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, b, n, a, 1, acc ? 1.0f : 0.0f, c, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, k, b, tb ? k : n,
              acc ? 1.0f : 0.0f, c, n);
}

static void ours(int tb, int m, int n, int k, const float *a, const float *b, float *c, int acc) {
  if (!hiedit_gemm_small(tb, m, n, k, a, b, c, acc)) blas_gemm(tb, m, n, k, a, b, c, acc);
}

static int cmpd(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}
static double median(double *v, int n) {
  qsort(v, n, sizeof(double), cmpd);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct { int m, k, n, tb; const char *name; } shape_t;

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 30;
  int fwd_reps = argc > 2 ? atoi(argv[2]) : 20;
  const int T = argc > 3 ? atoi(argv[3]) : 32;
  if (!hiedit_gemm_set_kernel(HIEDIT_GEMM_AVX512) && !hiedit_gemm_set_kernel(HIEDIT_GEMM_AVX2)) {
    printf("no SIMD kernel on this CPU\n");
    return 0;
  }
  const hiedit_gemm_kernel kern = hiedit_gemm_active();
  printf("kernel %s, threads %d, OpenBLAS %s core %s threads %d, OPENBLAS_CORETYPE=%s, reps %d\n",
         hiedit_gemm_kernel_name(kern), hiedit_gemm_threads(), openblas_get_config(), openblas_get_corename(),
         openblas_get_num_threads(), getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "-", reps);

  const shape_t shapes[] = {
      {T, 768, 2304, 0, "qkv"},    {T, 768, 768, 0, "attn.proj"}, {T, 768, 3072, 0, "mlp.fc"},
      {T, 3072, 768, 0, "mlp.proj"}, {T, 768, 50257, 1, "lm_head(B^T)"},
      {1, 768, 2304, 0, "decode qkv"}, {1, 768, 3072, 0, "decode fc"}, {1, 3072, 768, 0, "decode proj"},
      {1, 768, 50257, 1, "decode lm_head"},
      {T, 64, T, 1, "attn q.k^T"},     {T, T, 64, 0, "attn p.v"},
      {T, 768, 2816, 0, "llama mlp"},  {T, 2816, 1024, 0, "llama down"}, {T, 1024, 32000, 1, "llama head"},
      {4, 768, 2304, 0, "M=4 qkv"},    {64, 768, 3072, 0, "M=64 fc"},
  };
  const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
  double *tb_ = malloc(sizeof(double) * reps), *to_ = malloc(sizeof(double) * reps);
  printf("%-16s %5s %5s %6s %3s | %9s %9s | %7s | %s\n", "shape", "M", "K", "N", "Bt", "blas ms", "ours ms", "ours/blas", "max|diff|");
  for (int s = 0; s < nshapes; s++) {
    const shape_t sh = shapes[s];
    float *a = alloc_rand((size_t)sh.m * sh.k, 1), *b = alloc_rand((size_t)sh.k * sh.n, 3);
    float *c1 = alloc_rand((size_t)sh.m * sh.n, 2), *c2 = alloc_rand((size_t)sh.m * sh.n, 1);
    blas_gemm(sh.tb, sh.m, sh.n, sh.k, a, b, c1, 0);
    ours(sh.tb, sh.m, sh.n, sh.k, a, b, c2, 0);
    double md = 0;
    for (size_t i = 0; i < (size_t)sh.m * sh.n; i++) {
      double d = c1[i] - c2[i];
      if (d < 0) d = -d;
      if (d > md) md = d;
    }
    for (int r = 0; r < reps; r++) {
      for (int h = 0; h < 2; h++) {
        const int which = (r + h) % 2;
        double t0 = now_ms();
        if (which == 0) blas_gemm(sh.tb, sh.m, sh.n, sh.k, a, b, c1, 1);
        else ours(sh.tb, sh.m, sh.n, sh.k, a, b, c2, 1);
        double t = now_ms() - t0;
        if (which == 0) tb_[r] = t; else to_[r] = t;
      }
    }
    double mb = median(tb_, reps), mo = median(to_, reps);
    printf("%-16s %5d %5d %6d %3d | %9.3f %9.3f | %7.3f | %.2e\n", sh.name, sh.m, sh.k, sh.n, sh.tb, mb, mo, mo / mb, md);
    free(a - 1); free(b - 3); free(c1 - 2); free(c2 - 1);
  }

  /* One forward: 12 layers of 4 linears with their own weights, then the LM head. */
  if (fwd_reps > 0) {
    const int L = 12, D = 768;
    float *w[12][4];
    const int wk[4] = {D, D, D, 4 * D}, wn[4] = {3 * D, D, 4 * D, D};
    for (int l = 0; l < L; l++)
      for (int j = 0; j < 4; j++) w[l][j] = alloc_rand((size_t)wk[j] * wn[j], (l + j) % 4);
    float *emb = alloc_rand((size_t)50257 * D, 1);
    float *x = alloc_rand((size_t)T * 4 * D, 3);
    float *out = alloc_rand((size_t)T * 50257, 2);
    double *fb = malloc(sizeof(double) * fwd_reps), *fo = malloc(sizeof(double) * fwd_reps);
    double *fbl = malloc(sizeof(double) * fwd_reps), *fol = malloc(sizeof(double) * fwd_reps);
    for (int r = 0; r < fwd_reps; r++) {
      for (int h = 0; h < 2; h++) {
        const int which = (r + h) % 2;
        void (*f)(int, int, int, int, const float *, const float *, float *, int) = which ? ours : blas_gemm;
        double t0 = now_ms();
        for (int l = 0; l < L; l++)
          for (int j = 0; j < 4; j++) f(0, T, wn[j], wk[j], x, w[l][j], out, 1);
        double t1 = now_ms();
        f(1, T, 50257, D, x, emb, out, 0);
        double t2 = now_ms();
        if (which) { fo[r] = t2 - t0; fol[r] = t1 - t0; } else { fb[r] = t2 - t0; fbl[r] = t1 - t0; }
      }
    }
    double mbl = median(fbl, fwd_reps), mol = median(fol, fwd_reps);
    double mb = median(fb, fwd_reps), mo = median(fo, fwd_reps);
    printf("forward T=%d, 48 linears:        blas %8.3f ms  ours %8.3f ms  ratio %.3f\n", T, mbl, mol, mol / mbl);
    printf("forward T=%d, 48 linears + head: blas %8.3f ms  ours %8.3f ms  ratio %.3f\n", T, mb, mo, mo / mb);
  }
  return 0;
}
