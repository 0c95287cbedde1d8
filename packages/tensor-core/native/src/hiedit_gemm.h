#ifndef HIEDIT_GEMM_H
#define HIEDIT_GEMM_H

/*
 * hiedit_gemm: a small-M single-precision GEMM (C = A op(B), or C += A op(B)) for the transformer shapes
 * where M is the number of tokens (a few to 64) and B is a weight matrix. See hiedit_gemm.c for why it exists.
 */

/* Which kernel family hiedit_gemm_small() uses. */
typedef enum {
  HIEDIT_GEMM_BLAS = 0,   /* always decline: the caller's BLAS runs every product */
  HIEDIT_GEMM_AVX2 = 1,   /* AVX2 + FMA kernels */
  HIEDIT_GEMM_AVX512 = 2  /* AVX-512F kernels */
} hiedit_gemm_kernel;

/*
 * Computes C (m x n, row-major, ldc = n) = A (m x k, row-major, lda = k) times B, where B is k x n (ldb = n) when
 * trans_b is 0 and n x k (ldb = k) when it is 1. With accumulate != 0 the product is added to C (beta = 1), else
 * C is overwritten (beta = 0). Pointers need only 4-byte alignment.
 *
 * Returns 1 when it computed the product, 0 when it declined (kernel is BLAS, M outside 2..256 where it was
 * measured to beat OpenBLAS, an empty dimension, or no memory for its pack buffer): the caller must then run BLAS.
 * Results are bit-identical from call to call: every element is summed by one thread in a fixed order.
 */
int hiedit_gemm_small(int trans_b, int m, int n, int k, const float *a, const float *b, float *c, int accumulate);

/* The kernel in effect: HIEDIT_GEMM=blas|avx2|avx512|auto, read once per process (unset = auto; a kernel the CPU
 * lacks, or an unknown value, = blas), unless hiedit_gemm_set_kernel changed it. Shared by every thread. */
hiedit_gemm_kernel hiedit_gemm_active(void);

/* The best kernel this CPU and build can run (BLAS when none). */
hiedit_gemm_kernel hiedit_gemm_best(void);

/* What HIEDIT_GEMM unset (or "auto") selects: the AVX-512 kernel where the CPU has it, else BLAS. The AVX2 kernel
 * is never chosen automatically: OpenBLAS's own AVX2 kernels are as fast on AVX2-only CPUs. */
hiedit_gemm_kernel hiedit_gemm_auto(void);

/* Overrides the kernel (for A/B measurements and tests). Returns 0 when the CPU or build cannot run it. */
int hiedit_gemm_set_kernel(hiedit_gemm_kernel kernel);

/* A short name for a kernel: "blas", "avx2", "avx512". */
const char *hiedit_gemm_kernel_name(hiedit_gemm_kernel kernel);

/* How many threads the kernel splits N across (the calling thread included). */
int hiedit_gemm_threads(void);

#endif
