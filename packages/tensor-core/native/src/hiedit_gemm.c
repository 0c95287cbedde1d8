/*
 * hiedit_gemm: a small-M SGEMM for transformer linears (M = tokens, B = weights).
 *
 * Why: some machines pin OpenBLAS to OPENBLAS_CORETYPE=Haswell (old OpenBLAS builds miscompute with their own
 * AVX-512 kernels on newer CPUs; this project's reference machine is one), so OpenBLAS runs AVX2 kernels on CPUs
 * that have AVX-512, and even unpinned it measured slower on these shapes (docs/performance.md); its static thread split
 * stalls whenever one of its threads loses its core on a shared machine. These kernels use AVX-512 (AVX2 + FMA
 * when asked), read B = K x N through small packed blocks and B = N x K (the tied LM head) in place, and split
 * N into chunks that a small pool of persistent threads claims dynamically.
 *
 * Determinism: each output element is computed by exactly one thread, and its summation order depends only on
 * K (never on the block, panel or thread that computes it), so the same inputs give the same bits however the
 * threads are scheduled or N is split.
 */
#define _GNU_SOURCE
#include "hiedit_gemm.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__)) && defined(__linux__)
#define HIEDIT_GEMM_X86 1
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#else
#define HIEDIT_GEMM_X86 0
#endif

/* M = 1 stays with sgemv (a matrix-vector product is memory-bound: measured equal). Up to 256 rows this kernel
 * measured 35-60% faster than OpenBLAS (Haswell kernels) on GPT-2/Llama shapes; larger M is untested here. */
#ifndef SMALL_M_MIN
#define SMALL_M_MIN 2
#endif
#ifndef SMALL_M_MAX
#define SMALL_M_MAX 256
#endif

#if HIEDIT_GEMM_X86

/* ------------------------------------------------------------------------------------------------------------
 * AVX-512 kernels
 * ---------------------------------------------------------------------------------------------------------- */
#define T512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))
#define INL __attribute__((always_inline)) inline

/* NN register block: up to 8 rows x 48 columns of C (24 accumulators). */
#define NN512_MR 8
#define NN512_NV 3

/*
 * Packed NN path. In a forward every weight matrix streams in from DRAM, and reading B a 48-column panel at a
 * time touches a new page on every row (rows are N*4 bytes apart), which defeats the hardware prefetchers. So
 * B is copied in blocks of KC rows x NC columns, row by row (long sequential reads), into a panel-major buffer
 * that then serves every row block of A from L1/L2. C holds the running sums between K blocks (a float store
 * and reload is exact, so the summation order is still fixed by K alone).
 */
#ifndef NN_KC
#define NN_KC 64
#endif
#ifndef NN_NC
#define NN_NC 1536
#endif
#define NN512_PANEL (16 * NN512_NV)

/* One pack buffer per thread (pool workers, the caller, any other thread that calls in), freed at thread exit. */
static pthread_key_t g_pack_key;
static pthread_once_t g_pack_once = PTHREAD_ONCE_INIT;
static int g_pack_key_ok;

static void pack_key_init(void) { g_pack_key_ok = pthread_key_create(&g_pack_key, free) == 0; }

static float *pack_buffer(void) {
  pthread_once(&g_pack_once, pack_key_init);
  if (!g_pack_key_ok) return NULL;
  float *buf = (float *)pthread_getspecific(g_pack_key);
  if (buf == NULL) {
    void *p = NULL;
    if (posix_memalign(&p, 64, sizeof(float) * NN_KC * (NN_NC + NN512_PANEL)) != 0) return NULL;
    if (pthread_setspecific(g_pack_key, p) != 0) {
      free(p);
      return NULL;
    }
    buf = (float *)p;
  }
  return buf;
}

/* kc x w block of B (row stride ldb) into panels of 48 columns, each kc x 48 contiguous, zero-padded. */
static T512 void pack512(int kc, int w, const float *b, int ldb, float *dst) {
  const int np = (w + NN512_PANEL - 1) / NN512_PANEL;
  for (int p = 0; p < kc; p++) {
    const float *src = b + (size_t)p * ldb;
    for (int q = 0; q < np; q++) {
      float *d = dst + ((size_t)q * kc + p) * NN512_PANEL;
      const int left = w - q * NN512_PANEL;
#pragma GCC unroll 3
      for (int v = 0; v < NN512_NV; v++) {
        const int cnt = left - 16 * v;
        const __mmask16 mk = (__mmask16)(cnt >= 16 ? 0xFFFF : (cnt <= 0 ? 0 : (1u << cnt) - 1));
        _mm512_store_ps(d + 16 * v, _mm512_maskz_loadu_ps(mk, src + q * NN512_PANEL + 16 * v));
      }
    }
  }
}

/* mr x 48 block over one packed panel: C (+)= A[:, kc block] * panel, masked on the last vector's columns. */
static T512 INL void nnp512_block(const int mr, const __mmask16 *mks, int kc, const float *a, int lda, const float *bp,
                                  float *c, int ldc, int load_c) {
  __m512 acc[NN512_MR][NN512_NV];
#pragma GCC unroll 8
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 3
    for (int v = 0; v < NN512_NV; v++) {
      const __mmask16 mk = mks[v];
      acc[i][v] = load_c ? _mm512_maskz_loadu_ps(mk, c + (size_t)i * ldc + 16 * v) : _mm512_setzero_ps();
    }
  for (int p = 0; p < kc; p++) {
    const float *row = bp + (size_t)p * NN512_PANEL;
    __m512 bv[NN512_NV];
#pragma GCC unroll 3
    for (int v = 0; v < NN512_NV; v++) bv[v] = _mm512_load_ps(row + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
      const __m512 ai = _mm512_set1_ps(a[(size_t)i * lda + p]);
#pragma GCC unroll 3
      for (int v = 0; v < NN512_NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 3
    for (int v = 0; v < NN512_NV; v++) {
      _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16 * v, mks[v], acc[i][v]);
    }
}

#define NNP512_ROWS(MR)                                                                                       \
  static T512 void nnp512_rows##MR(const __mmask16 *mks, int kc, const float *a, int lda, const float *bp, float *c, \
                                   int ldc, int load_c) {                                                     \
    if (load_c) nnp512_block(MR, mks, kc, a, lda, bp, c, ldc, 1);                                             \
    else nnp512_block(MR, mks, kc, a, lda, bp, c, ldc, 0);                                                    \
  }
NNP512_ROWS(1)
NNP512_ROWS(2)
NNP512_ROWS(3)
NNP512_ROWS(4)
NNP512_ROWS(5)
NNP512_ROWS(6)
NNP512_ROWS(7)
NNP512_ROWS(8)

typedef void (*nnp512_fn)(const __mmask16 *, int, const float *, int, const float *, float *, int, int);
static const nnp512_fn nnp512_table[NN512_MR + 1] = {NULL,           nnp512_rows1, nnp512_rows2,
                                                     nnp512_rows3,   nnp512_rows4, nnp512_rows5,
                                                     nnp512_rows6,   nnp512_rows7, nnp512_rows8};

/* C[:, j0:j1] for B = K x N. */
static T512 void nn512(int m, int n, int k, const float *a, const float *b, float *c, int accumulate, int j0,
                       int j1) {
  /* Never NULL here: callers without a buffer do not run NN chunks (see worker_main, hiedit_gemm_small). */
  float *buf = pack_buffer();
  for (int jc = j0; jc < j1; jc += NN_NC) {
    const int nc = j1 - jc < NN_NC ? j1 - jc : NN_NC;
    const int np = (nc + NN512_PANEL - 1) / NN512_PANEL;
    for (int pc = 0; pc < k; pc += NN_KC) {
      const int kc = k - pc < NN_KC ? k - pc : NN_KC;
      pack512(kc, nc, b + (size_t)pc * n + jc, n, buf);
      const int load_c = accumulate || pc > 0;
      /* While this block computes, pull the next block's rows towards L2 so the next pack reads from cache. */
      int next_pc = pc + NN_KC, next_jc = jc;
      if (next_pc >= k) {
        next_pc = 0;
        next_jc = jc + NN_NC;
      }
      const int has_next = next_jc < j1;
      const int next_kc = has_next ? (k - next_pc < NN_KC ? k - next_pc : NN_KC) : 0;
      const int next_nc = has_next ? (j1 - next_jc < NN_NC ? j1 - next_jc : NN_NC) : 0;
      for (int q = 0; q < np; q++) {
        if (has_next) {
          const int r0 = (int)((int64_t)next_kc * q / np), r1 = (int)((int64_t)next_kc * (q + 1) / np);
          for (int r = r0; r < r1; r++) {
            const char *row = (const char *)(b + (size_t)(next_pc + r) * n + next_jc);
            for (int off = 0; off < next_nc * 4; off += 64) _mm_prefetch(row + off, _MM_HINT_T1);
            _mm_prefetch(row + next_nc * 4 - 4, _MM_HINT_T1);
          }
        }
        const int w = nc - q * NN512_PANEL < NN512_PANEL ? nc - q * NN512_PANEL : NN512_PANEL;
        /* Columns past the last real one are masked off; the panel's zero padding keeps its loads harmless. */
        __mmask16 mks[NN512_NV];
        for (int v = 0; v < NN512_NV; v++) {
          const int cnt = w - 16 * v;
          mks[v] = (__mmask16)(cnt >= 16 ? 0xFFFF : (cnt <= 0 ? 0 : (1u << cnt) - 1));
        }
        const float *bp = buf + (size_t)q * kc * NN512_PANEL;
        for (int i = 0; i < m; i += NN512_MR) {
          const int mr = m - i < NN512_MR ? m - i : NN512_MR;
          nnp512_table[mr](mks, kc, a + (size_t)i * k + pc, k, bp, c + (size_t)i * n + jc + q * NN512_PANEL, n, load_c);
        }
      }
    }
  }
}

/* NT (B = N x K, e.g. the tied LM head): dot products along K. Each accumulator holds 16 partial sums (lane l
 * sums k = l mod 16, K tail zero-filled) reduced at the end by one fixed shuffle sequence. */
#define NT512_MR 4
#define NT512_NR 6

static T512 INL float hsum512(__m512 v) {
  __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

static T512 INL void nt512_block(const int mr, const int nr, int k, const float *a, int lda, const float *b, int ldb,
                                 float *c, int ldc, int accumulate) {
  __m512 acc[NT512_MR][NT512_NR];
#pragma GCC unroll 4
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 6
    for (int j = 0; j < nr; j++) acc[i][j] = _mm512_setzero_ps();
  int p = 0;
  for (; p + 16 <= k; p += 16) {
    __m512 av[NT512_MR];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) av[i] = _mm512_loadu_ps(a + (size_t)i * lda + p);
#pragma GCC unroll 6
    for (int j = 0; j < nr; j++) {
      const __m512 bj = _mm512_loadu_ps(b + (size_t)j * ldb + p);
#pragma GCC unroll 4
      for (int i = 0; i < mr; i++) acc[i][j] = _mm512_fmadd_ps(av[i], bj, acc[i][j]);
    }
  }
  if (p < k) {
    const __mmask16 mk = (__mmask16)((1u << (k - p)) - 1);
    __m512 av[NT512_MR];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) av[i] = _mm512_maskz_loadu_ps(mk, a + (size_t)i * lda + p);
#pragma GCC unroll 6
    for (int j = 0; j < nr; j++) {
      const __m512 bj = _mm512_maskz_loadu_ps(mk, b + (size_t)j * ldb + p);
#pragma GCC unroll 4
      for (int i = 0; i < mr; i++) acc[i][j] = _mm512_fmadd_ps(av[i], bj, acc[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 6
    for (int j = 0; j < nr; j++) {
      const float s = hsum512(acc[i][j]);
      float *cij = c + (size_t)i * ldc + j;
      *cij = accumulate ? *cij + s : s;
    }
}

#define NT512_ROWS(MR)                                                                                        \
  static T512 void nt512_rows##MR(int nr, int k, const float *a, int lda, const float *b, int ldb, float *c,  \
                                  int ldc, int accumulate) {                                                  \
    switch (nr) {                                                                                             \
      case 6: nt512_block(MR, 6, k, a, lda, b, ldb, c, ldc, accumulate); break;                              \
      case 5: nt512_block(MR, 5, k, a, lda, b, ldb, c, ldc, accumulate); break;                              \
      case 4: nt512_block(MR, 4, k, a, lda, b, ldb, c, ldc, accumulate); break;                              \
      case 3: nt512_block(MR, 3, k, a, lda, b, ldb, c, ldc, accumulate); break;                              \
      case 2: nt512_block(MR, 2, k, a, lda, b, ldb, c, ldc, accumulate); break;                              \
      default: nt512_block(MR, 1, k, a, lda, b, ldb, c, ldc, accumulate); break;                             \
    }                                                                                                         \
  }
NT512_ROWS(1)
NT512_ROWS(2)
NT512_ROWS(3)
NT512_ROWS(4)

typedef void (*nt512_fn)(int, int, const float *, int, const float *, int, float *, int, int);
static const nt512_fn nt512_table[NT512_MR + 1] = {NULL, nt512_rows1, nt512_rows2, nt512_rows3, nt512_rows4};

static T512 void nt512(int m, int n, int k, const float *a, const float *b, float *c, int accumulate, int j0, int j1) {
  for (int j = j0; j < j1; j += NT512_NR) {
    const int nr = j1 - j < NT512_NR ? j1 - j : NT512_NR;
    for (int i = 0; i < m; i += NT512_MR) {
      const int mr = m - i < NT512_MR ? m - i : NT512_MR;
      nt512_table[mr](nr, k, a + (size_t)i * k, k, b + (size_t)j * k, k, c + (size_t)i * n + j, n, accumulate);
    }
  }
}

/* ------------------------------------------------------------------------------------------------------------
 * AVX2 + FMA kernels (8 lanes, 16 registers). Only run when HIEDIT_GEMM=avx2 asks: NN reads B in place without
 * packing, and on AVX2-only CPUs OpenBLAS runs its own native AVX2 kernels anyway.
 * ---------------------------------------------------------------------------------------------------------- */
#define T256 __attribute__((target("avx2,fma")))
/* The AVX2 NN kernel reads B in place; rows of B prefetched ahead while the first row block streams a panel. */
#define NN_PF_ROWS 6
#define NN256_MR 6
#define NN256_NV 2

static T256 INL __m256i mask8(int count) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), idx);
}

static T256 INL void nn256_block(const int mr, const int nv, __m256i tail, int k, const float *a, int lda,
                                 const float *b, int ldb, float *c, int ldc, int accumulate, int prefetch) {
  __m256 acc[NN256_MR][NN256_NV];
#pragma GCC unroll 6
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) acc[i][v] = _mm256_setzero_ps();
  for (int p = 0; p < k; p++) {
    const float *bp = b + (size_t)p * ldb;
    __m256 bv[NN256_NV];
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) bv[v] = v == nv - 1 ? _mm256_maskload_ps(bp + 8 * v, tail) : _mm256_loadu_ps(bp + 8 * v);
    if (prefetch && p + NN_PF_ROWS < k) _mm_prefetch((const char *)(bp + (size_t)NN_PF_ROWS * ldb), _MM_HINT_T0);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
      const __m256 ai = _mm256_broadcast_ss(a + (size_t)i * lda + p);
#pragma GCC unroll 2
      for (int v = 0; v < nv; v++) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  const __m256i full = _mm256_set1_epi32(-1);
#pragma GCC unroll 6
  for (int i = 0; i < mr; i++) {
    float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) {
      const __m256i mk = v == nv - 1 ? tail : full;
      __m256 r = acc[i][v];
      if (accumulate) r = _mm256_add_ps(_mm256_maskload_ps(ci + 8 * v, mk), r);
      _mm256_maskstore_ps(ci + 8 * v, mk, r);
    }
  }
}

#define NN256_ROWS(MR)                                                                                        \
  static T256 void nn256_rows##MR(int nv, __m256i tail, int k, const float *a, int lda, const float *b,       \
                                  int ldb, float *c, int ldc, int accumulate, int prefetch) {                 \
    if (nv == 2) nn256_block(MR, 2, tail, k, a, lda, b, ldb, c, ldc, accumulate, prefetch);                   \
    else nn256_block(MR, 1, tail, k, a, lda, b, ldb, c, ldc, accumulate, prefetch);                           \
  }
NN256_ROWS(1)
NN256_ROWS(2)
NN256_ROWS(3)
NN256_ROWS(4)
NN256_ROWS(5)
NN256_ROWS(6)

typedef void (*nn256_fn)(int, __m256i, int, const float *, int, const float *, int, float *, int, int, int);
static const nn256_fn nn256_table[NN256_MR + 1] = {NULL,        nn256_rows1, nn256_rows2, nn256_rows3,
                                                   nn256_rows4, nn256_rows5, nn256_rows6};

static T256 void nn256(int m, int n, int k, const float *a, const float *b, float *c, int accumulate, int j0,
                       int j1) {
  const int panel = 8 * NN256_NV;
  for (int j = j0; j < j1; j += panel) {
    const int w = j1 - j < panel ? j1 - j : panel;
    const int nv = (w + 7) / 8;
    const __m256i tail = mask8(w - 8 * (nv - 1));
    for (int i = 0; i < m; i += NN256_MR) {
      const int mr = m - i < NN256_MR ? m - i : NN256_MR;
      nn256_table[mr](nv, tail, k, a + (size_t)i * k, k, b + j, n, c + (size_t)i * n + j, n, accumulate, i == 0);
    }
  }
}

#define NT256_MR 3
#define NT256_NR 4

static T256 INL float hsum256(__m256 v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

static T256 INL void nt256_block(const int mr, const int nr, int k, const float *a, int lda, const float *b, int ldb,
                                 float *c, int ldc, int accumulate) {
  __m256 acc[NT256_MR][NT256_NR];
#pragma GCC unroll 3
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) acc[i][j] = _mm256_setzero_ps();
  int p = 0;
  for (; p + 8 <= k; p += 8) {
    __m256 av[NT256_MR];
#pragma GCC unroll 3
    for (int i = 0; i < mr; i++) av[i] = _mm256_loadu_ps(a + (size_t)i * lda + p);
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) {
      const __m256 bj = _mm256_loadu_ps(b + (size_t)j * ldb + p);
#pragma GCC unroll 3
      for (int i = 0; i < mr; i++) acc[i][j] = _mm256_fmadd_ps(av[i], bj, acc[i][j]);
    }
  }
  if (p < k) {
    const __m256i mk = mask8(k - p);
    __m256 av[NT256_MR];
#pragma GCC unroll 3
    for (int i = 0; i < mr; i++) av[i] = _mm256_maskload_ps(a + (size_t)i * lda + p, mk);
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) {
      const __m256 bj = _mm256_maskload_ps(b + (size_t)j * ldb + p, mk);
#pragma GCC unroll 3
      for (int i = 0; i < mr; i++) acc[i][j] = _mm256_fmadd_ps(av[i], bj, acc[i][j]);
    }
  }
#pragma GCC unroll 3
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) {
      const float s = hsum256(acc[i][j]);
      float *cij = c + (size_t)i * ldc + j;
      *cij = accumulate ? *cij + s : s;
    }
}

#define NT256_ROWS(MR)                                                                                        \
  static T256 void nt256_rows##MR(int nr, int k, const float *a, int lda, const float *b, int ldb, float *c,  \
                                  int ldc, int accumulate) {                                                  \
    switch (nr) {                                                                                             \
      case 4: nt256_block(MR, 4, k, a, lda, b, ldb, c, ldc, accumulate); break;                              \
      case 3: nt256_block(MR, 3, k, a, lda, b, ldb, c, ldc, accumulate); break;                              \
      case 2: nt256_block(MR, 2, k, a, lda, b, ldb, c, ldc, accumulate); break;                              \
      default: nt256_block(MR, 1, k, a, lda, b, ldb, c, ldc, accumulate); break;                             \
    }                                                                                                         \
  }
NT256_ROWS(1)
NT256_ROWS(2)
NT256_ROWS(3)

typedef void (*nt256_fn)(int, int, const float *, int, const float *, int, float *, int, int);
static const nt256_fn nt256_table[NT256_MR + 1] = {NULL, nt256_rows1, nt256_rows2, nt256_rows3};

static T256 void nt256(int m, int n, int k, const float *a, const float *b, float *c, int accumulate, int j0, int j1) {
  for (int j = j0; j < j1; j += NT256_NR) {
    const int nr = j1 - j < NT256_NR ? j1 - j : NT256_NR;
    for (int i = 0; i < m; i += NT256_MR) {
      const int mr = m - i < NT256_MR ? m - i : NT256_MR;
      nt256_table[mr](nr, k, a + (size_t)i * k, k, b + (size_t)j * k, k, c + (size_t)i * n + j, n, accumulate);
    }
  }
}

/* ------------------------------------------------------------------------------------------------------------
 * Thread pool. N is cut into chunks that threads claim from a shared counter, so a worker that is slow to wake
 * (the machine is shared) costs nothing: the caller simply computes more chunks itself. Workers spin briefly after
 * a job (the next linear usually follows within microseconds), then sleep on a condition variable.
 *
 * Job hand-over: g_generation is odd while the caller rewrites g_job and even once it is ready. A worker announces
 * itself in g_in_job before re-reading the generation, and the caller waits for g_in_job == 0 after making the
 * generation odd, so no worker ever reads a job while it is being written (all of it sequentially consistent).
 * ---------------------------------------------------------------------------------------------------------- */
#define MAX_THREADS 16

typedef struct {
  hiedit_gemm_kernel kernel;
  int trans_b, m, n, k, accumulate;
  int unit;        /* columns per scheduling unit: whole panels */
  int per_chunk;   /* units per chunk */
  int chunks;
  int next;        /* next chunk to claim (atomic) */
  int done;        /* chunks finished (atomic) */
  const float *a, *b;
  float *c;
} job_t;

static job_t g_job;
static unsigned g_generation;     /* see the hand-over note above */
static int g_in_job;              /* workers currently reading g_job */
static int g_sleepers;            /* guarded by g_mutex */
static int g_busy;                /* 1 while a caller owns the pool */
static int g_workers = -1;        /* started workers; -1 until the pool is initialised */
static int g_spin_ns = 100000;
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void run_chunk(const job_t *job, int chunk) {
  const int j0 = chunk * job->per_chunk * job->unit;
  int j1 = j0 + job->per_chunk * job->unit;
  if (j1 > job->n) j1 = job->n;
  if (j0 >= j1) return;
  if (job->kernel == HIEDIT_GEMM_AVX512) {
    if (job->trans_b) nt512(job->m, job->n, job->k, job->a, job->b, job->c, job->accumulate, j0, j1);
    else nn512(job->m, job->n, job->k, job->a, job->b, job->c, job->accumulate, j0, j1);
  } else {
    if (job->trans_b) nt256(job->m, job->n, job->k, job->a, job->b, job->c, job->accumulate, j0, j1);
    else nn256(job->m, job->n, job->k, job->a, job->b, job->c, job->accumulate, j0, j1);
  }
}

static void claim_chunks(job_t *job) {
  for (;;) {
    const int chunk = __atomic_fetch_add(&job->next, 1, __ATOMIC_SEQ_CST);
    if (chunk >= job->chunks) return;
    run_chunk(job, chunk);
    __atomic_add_fetch(&job->done, 1, __ATOMIC_RELEASE);
  }
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin-waits for *p to equal `want`, yielding the core after a short spin because the thread we wait for may
 * need it. */
static void wait_for(const int *p, int want) {
  int spins = 0;
  while (__atomic_load_n(p, __ATOMIC_SEQ_CST) != want) {
    if (++spins < 2000) _mm_pause();
    else sched_yield();
  }
}

static void *worker_main(void *arg) {
  (void)arg;
  unsigned seen = 0;
  for (;;) {
    unsigned gen = __atomic_load_n(&g_generation, __ATOMIC_SEQ_CST);
    if (gen == seen || (gen & 1u)) {
      const int64_t until = now_ns() + g_spin_ns;
      int spins = 0;
      while ((gen = __atomic_load_n(&g_generation, __ATOMIC_SEQ_CST)) == seen || (gen & 1u)) {
        _mm_pause();
        if (++spins % 64 == 0 && now_ns() > until) break;
      }
      if (gen == seen || (gen & 1u)) {
        pthread_mutex_lock(&g_mutex);
        g_sleepers++;
        while ((gen = __atomic_load_n(&g_generation, __ATOMIC_SEQ_CST)) == seen || (gen & 1u))
          pthread_cond_wait(&g_cond, &g_mutex);
        g_sleepers--;
        pthread_mutex_unlock(&g_mutex);
      }
    }
    __atomic_add_fetch(&g_in_job, 1, __ATOMIC_SEQ_CST);
    const unsigned now = __atomic_load_n(&g_generation, __ATOMIC_SEQ_CST);
    if (now == gen) {
      /* A worker that cannot get a pack buffer leaves the AVX-512 NN chunks to the others. */
      if (g_job.trans_b || g_job.kernel != HIEDIT_GEMM_AVX512 || pack_buffer() != NULL) claim_chunks(&g_job);
      seen = gen;
    }
    __atomic_sub_fetch(&g_in_job, 1, __ATOMIC_SEQ_CST);
  }
  return NULL;
}

static int env_int(const char *name, int fallback) {
  const char *v = getenv(name);
  if (v == NULL || *v == 0) return fallback;
  char *end = NULL;
  long x = strtol(v, &end, 10);
  return (end != NULL && *end == 0 && x > 0 && x < 1000000000) ? (int)x : fallback;
}

static int g_threads = 1;

/*
 * In a forked child only the forking thread exists: with no workers every job runs on the caller, and the hand-off
 * state (possibly mid-job in the parent) starts clean. The mutex and condition variable are re-created because the
 * parent may have held them at the fork.
 */
static void pool_after_fork_child(void) {
  g_workers = 0;
  g_threads = 1;
  g_sleepers = 0;
  __atomic_store_n(&g_in_job, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_busy, 0, __ATOMIC_SEQ_CST);
  pthread_mutex_init(&g_mutex, NULL);
  pthread_cond_init(&g_cond, NULL);
}

static void pool_init(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = env_int("HIEDIT_GEMM_THREADS", env_int("OPENBLAS_NUM_THREADS", env_int("OMP_NUM_THREADS", (int)(cpus > 0 ? cpus : 1))));
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  const int spin_us = env_int("HIEDIT_GEMM_SPIN_US", 100);
  g_spin_ns = spin_us > 1000000 ? 1000000000 : spin_us * 1000; /* at most 1 s: keeps the product in int range */
  /* A child of fork() has none of these threads: it computes on the calling thread alone. */
  pthread_atfork(NULL, NULL, pool_after_fork_child);
  int started = 0;
  for (int t = 1; t < threads; t++) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int ok = pthread_create(&th, &attr, worker_main, NULL) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) break;
    started++;
  }
  g_workers = started;
  g_threads = started + 1;
}

static void run_job(job_t *job) {
  const int units = (job->n + job->unit - 1) / job->unit;
  /* Below ~8 MFLOP and 1 MB of B (tens of microseconds on one core) waking a worker can cost more than it saves:
   * a worker that went to sleep, or lost its core on a busy machine, takes ~100 us to join (measured). With few
   * rows the time goes into reading B, which two threads still speed up. A concurrent caller (another
   * worker_thread) runs alone. */
  const double flops = 2.0 * job->m * (double)job->n * job->k;
  const double b_elems = (double)job->n * job->k;
  if (g_workers <= 0 || (flops < 8e6 && b_elems < 262144.0) || units < 2 || __atomic_exchange_n(&g_busy, 1, __ATOMIC_ACQUIRE)) {
    job->per_chunk = units;
    job->chunks = 1;
    job->next = 0;
    job->done = 0;
    claim_chunks(job);
    return;
  }
  /* About 4 chunks per thread for balance, but chunks of at least 4 panels so packing reads long rows. */
  const int want = 4 * (g_workers + 1);
  int per = (units + want - 1) / want;
  if (!job->trans_b && per < 4) per = 4;
  if (per > units) per = units;
  job->per_chunk = per;
  job->chunks = (units + per - 1) / per;
  job->next = 0;
  job->done = 0;

  __atomic_add_fetch(&g_generation, 1, __ATOMIC_SEQ_CST); /* odd: g_job is being written */
  wait_for(&g_in_job, 0);
  g_job = *job;
  const unsigned gen = __atomic_add_fetch(&g_generation, 1, __ATOMIC_SEQ_CST); /* even: ready */
  (void)gen;
  pthread_mutex_lock(&g_mutex);
  if (g_sleepers > 0) pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_mutex);
  claim_chunks(&g_job);
  wait_for(&g_job.done, g_job.chunks);
  __atomic_store_n(&g_busy, 0, __ATOMIC_RELEASE);
}

static hiedit_gemm_kernel best_kernel(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return HIEDIT_GEMM_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return HIEDIT_GEMM_AVX2;
  return HIEDIT_GEMM_BLAS;
}

#endif /* HIEDIT_GEMM_X86 */

/* Whether HIEDIT_GEMM unset turns the kernel on: decided by interleaved measurements against OpenBLAS
 * (native/bench/gemm-bench.js and run-gemm-bench.sh reproduce them). */
#ifndef HIEDIT_GEMM_DEFAULT_ON
#define HIEDIT_GEMM_DEFAULT_ON 1
#endif

static int g_kernel = -1;

hiedit_gemm_kernel hiedit_gemm_best(void) {
#if HIEDIT_GEMM_X86
  return best_kernel();
#else
  return HIEDIT_GEMM_BLAS;
#endif
}

hiedit_gemm_kernel hiedit_gemm_auto(void) {
  return hiedit_gemm_best() == HIEDIT_GEMM_AVX512 ? HIEDIT_GEMM_AVX512 : HIEDIT_GEMM_BLAS;
}

static int cpu_can(hiedit_gemm_kernel kernel) {
  return kernel == HIEDIT_GEMM_BLAS || (int)kernel <= (int)hiedit_gemm_best();
}

/* g_kernel is read and written with relaxed atomics: set lazily or by setGemmKernel from any thread. */
hiedit_gemm_kernel hiedit_gemm_active(void) {
  const int current = __atomic_load_n(&g_kernel, __ATOMIC_RELAXED);
  if (current >= 0) return (hiedit_gemm_kernel)current;
  {
    const char *v = getenv("HIEDIT_GEMM");
    hiedit_gemm_kernel chosen;
    if (v == NULL || *v == 0) chosen = HIEDIT_GEMM_DEFAULT_ON ? hiedit_gemm_auto() : HIEDIT_GEMM_BLAS;
    else if (strcmp(v, "avx2") == 0) chosen = cpu_can(HIEDIT_GEMM_AVX2) ? HIEDIT_GEMM_AVX2 : HIEDIT_GEMM_BLAS;
    else if (strcmp(v, "avx512") == 0) chosen = cpu_can(HIEDIT_GEMM_AVX512) ? HIEDIT_GEMM_AVX512 : HIEDIT_GEMM_BLAS;
    else if (strcmp(v, "auto") == 0) chosen = hiedit_gemm_auto();
    else chosen = HIEDIT_GEMM_BLAS; /* "blas", and anything unrecognised: the escape hatch must never fail */
    __atomic_store_n(&g_kernel, (int)chosen, __ATOMIC_RELAXED);
    return chosen;
  }
}

int hiedit_gemm_set_kernel(hiedit_gemm_kernel kernel) {
  if (!cpu_can(kernel)) return 0;
  __atomic_store_n(&g_kernel, (int)kernel, __ATOMIC_RELAXED);
  return 1;
}

const char *hiedit_gemm_kernel_name(hiedit_gemm_kernel kernel) {
  switch (kernel) {
    case HIEDIT_GEMM_AVX512: return "avx512";
    case HIEDIT_GEMM_AVX2: return "avx2";
    default: return "blas";
  }
}

int hiedit_gemm_threads(void) {
#if HIEDIT_GEMM_X86
  pthread_once(&g_once, pool_init);
  return g_threads;
#else
  return 1;
#endif
}

int hiedit_gemm_small(int trans_b, int m, int n, int k, const float *a, const float *b, float *c, int accumulate) {
#if HIEDIT_GEMM_X86
  const hiedit_gemm_kernel kernel = hiedit_gemm_active();
  if (kernel == HIEDIT_GEMM_BLAS) return 0;
  if (m < SMALL_M_MIN || m > SMALL_M_MAX || n < 1 || k < 1) return 0;
  if (kernel == HIEDIT_GEMM_AVX512 && !trans_b && pack_buffer() == NULL) return 0; /* out of memory: BLAS */
  pthread_once(&g_once, pool_init);
  job_t job;
  job.kernel = kernel;
  job.trans_b = trans_b != 0;
  job.m = m;
  job.n = n;
  job.k = k;
  job.a = a;
  job.b = b;
  job.c = c;
  job.accumulate = accumulate != 0;
  /* Chunks are made of whole panels: 48 columns (AVX-512 NN), 16 (AVX2 NN), rows of B (NT). */
  job.unit = trans_b ? (kernel == HIEDIT_GEMM_AVX512 ? NT512_NR : NT256_NR) : (kernel == HIEDIT_GEMM_AVX512 ? NN512_PANEL : 8 * NN256_NV);
  run_job(&job);
  return 1;
#else
  (void)trans_b; (void)m; (void)n; (void)k; (void)a; (void)b; (void)c; (void)accumulate;
  return 0;
#endif
}
