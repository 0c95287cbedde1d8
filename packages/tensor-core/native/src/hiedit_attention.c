/*
 * Fused scaled-dot-product attention (forward and backward) for the tfjs wasm backend, working in place on the
 * wasm heap like hiedit_fused.c. One call replaces the ~9 tfjs kernels of the composite form (head split and
 * transposes, the two batched matmuls, the bias add, the scale, the softmax, the head merge) and one more call
 * the dozen kernels of its gradient.
 *
 * q, k and v are addressed per element as base + b*sb + t*st + h*sh + d (strides in floats), so a linear's
 * output viewed as (B, T, heads, hd), a (B, heads, T, hd) tensor, or the three parts of GPT-2's packed qkv row
 * are all read in place. For a fixed (b, h) each of them is a row-major (T x hd) matrix with leading dimension
 * st, which is what BLAS takes, so the per-head products are sgemm calls on strided views (no copies).
 * Query head h uses key/value head h / (H / kvH) (Hugging Face's repeat_kv).
 *
 * The forward saves the softmax probabilities P (B, H, Tq, Tk) as its second output; the backward reads them
 * instead of recomputing q k^T (T is small, so P is small).
 *
 * Every extent is checked against the heap length before anything is read or written.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef HIEDIT_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

#include "hiedit_attention.h"

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "HIEDIT_ATTENTION", msg);
  return NULL;
}

/* Element strides of one (B, T, heads, hd) operand. */
typedef struct {
  uint32_t sb, st, sh;
} strides_t;

/* Parameter vector layouts (Uint32Array from JS); see attention() and attention_grad(). */
enum {
  F_Q, F_K, F_V, F_BIAS, F_HAS_BIAS, F_BIAS_SB, F_Y, F_P,
  F_B, F_TQ, F_TK, F_H, F_KVH, F_HD,
  F_QS, F_KS = F_QS + 3, F_VS = F_KS + 3, F_COUNT = F_VS + 3
};
enum {
  G_Q, G_K, G_V, G_P, G_DY, G_DQ, G_DK, G_DV,
  G_B, G_TQ, G_TK, G_H, G_KVH, G_HD,
  G_QS, G_KS = G_QS + 3, G_VS = G_KS + 3, G_COUNT = G_VS + 3
};

typedef struct {
  char *base;
  uint64_t len;
} heap_t;

/* Reads (heap ArrayBuffer, params Uint32Array of at least `n`, scale number, softcap number: 0 or > 0). */
static int read_call(napi_env env, napi_callback_info info, heap_t *h, const uint32_t **p, size_t n, float *scale, float *softcap) {
  napi_value argv[4];
  size_t argc = 4;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return 0;
  bool is_ab = false;
  void *data = NULL;
  size_t len = 0;
  if (napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab) return 0;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return 0;
  h->base = (char *)data;
  h->len = len;
  bool is_ta = false;
  if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  size_t count;
  void *pd;
  if (napi_get_typedarray_info(env, argv[1], &type, &count, &pd, NULL, NULL) != napi_ok) return 0;
  if (type != napi_uint32_array || count < n) return 0;
  *p = (const uint32_t *)pd;
  double s;
  if (napi_get_value_double(env, argv[2], &s) != napi_ok || !isfinite(s)) return 0;
  *scale = (float)s;
  double c;
  if (napi_get_value_double(env, argv[3], &c) != napi_ok || !isfinite(c) || c < 0) return 0;
  *softcap = (float)c;
  return 1;
}

/* a b c d, or UINT64_MAX when the product overflows (such an extent is never inside a heap). */
static uint64_t prod4(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r) || __builtin_mul_overflow(r, c, &r) || __builtin_mul_overflow(r, d, &r)) return UINT64_MAX;
  return r;
}

/* `elems` floats at byte offset `off` lie inside the heap (written so that no step can overflow). */
static int fits(const heap_t *h, uint32_t off, uint64_t elems) {
  return off % 4 == 0 && off <= h->len && elems <= (h->len - off) / 4;
}

/*
 * The operand at byte offset `off` spanning (B, T, heads, hd) with strides `s`, or NULL when outside the heap or
 * when a row stride is shorter than a row (BLAS would refuse it and leave the output unwritten).
 */
static float *operand(const heap_t *h, uint32_t off, uint32_t B, uint32_t T, uint32_t heads, uint32_t hd, strides_t s) {
  if (prod4(B, T, heads, hd) == UINT64_MAX) return NULL;
  if (T > 1 && s.st < hd) return NULL;
  uint64_t extent = 0;
  if (B > 0 && T > 0 && heads > 0 && hd > 0) {
    /* Each term is below 2^64 (a product of two 32-bit values); their sum is checked. */
    const uint64_t terms[4] = {(uint64_t)(B - 1) * s.sb, (uint64_t)(T - 1) * s.st, (uint64_t)(heads - 1) * s.sh, hd};
    for (int i = 0; i < 4; i++)
      if (__builtin_add_overflow(extent, terms[i], &extent)) return NULL;
  }
  return fits(h, off, extent) ? (float *)(h->base + off) : NULL;
}

static float *dense(const heap_t *h, uint32_t off, uint64_t elems) {
  return elems != UINT64_MAX && fits(h, off, elems) ? (float *)(h->base + off) : NULL;
}

/* BLAS wants a leading dimension of at least the row length even for a single row, whose stride is unused. */
static strides_t single_row_safe(strides_t s, uint32_t T, uint32_t hd) {
  if (T <= 1 && s.st < hd) s.st = hd;
  return s;
}

static strides_t strides_at(const uint32_t *p) {
  strides_t s = {p[0], p[1], p[2]};
  return s;
}

/*
 * Per-head products. At GPT-2's T=32, hd=64 OpenBLAS sgemm took 18 + 16 us for the 12 heads' q k^T and P v where
 * these loops (vectorized by -O3) took 47 + 36 us, so BLAS is the default; HIEDIT_ATTN_LOOPS=1 selects the loops
 * (read once), kept as the measured alternative for a BLAS that is slow on tiny matrices.
 */
static int use_loops = -1;

static int loops(void) {
  int v = __atomic_load_n(&use_loops, __ATOMIC_RELAXED);
  if (v < 0) {
    const char *e = getenv("HIEDIT_ATTN_LOOPS");
    v = e != NULL && e[0] == '1';
    __atomic_store_n(&use_loops, v, __ATOMIC_RELAXED);
  }
  return v;
}

/* C (m x n, ldc) = alpha A (m x k, lda) B^T, B (n x k, ldb). */
static void mm_nt(uint32_t m, uint32_t n, uint32_t k, float alpha, const float *a, uint32_t lda, const float *b, uint32_t ldb,
                  float *c, uint32_t ldc) {
  if (!loops()) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
    return;
  }
  for (uint32_t i = 0; i < m; i++) {
    const float *ai = a + (uint64_t)i * lda;
    for (uint32_t j = 0; j < n; j++) {
      const float *bj = b + (uint64_t)j * ldb;
      /* Four partial sums: the compiler may not reassociate one float sum into vector lanes. */
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      uint32_t d = 0;
      for (; d + 4 <= k; d += 4) {
        s0 += ai[d] * bj[d];
        s1 += ai[d + 1] * bj[d + 1];
        s2 += ai[d + 2] * bj[d + 2];
        s3 += ai[d + 3] * bj[d + 3];
      }
      for (; d < k; d++) s0 += ai[d] * bj[d];
      c[(uint64_t)i * ldc + j] = alpha * ((s0 + s1) + (s2 + s3));
    }
  }
}

/* C (m x n, ldc) = alpha A B + beta C, A (m x k, lda), B (k x n, ldb); beta is 0 or 1. */
static void mm_nn(uint32_t m, uint32_t n, uint32_t k, float alpha, const float *a, uint32_t lda, const float *b, uint32_t ldb,
                  float beta, float *c, uint32_t ldc) {
  if (!loops()) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
    return;
  }
  for (uint32_t i = 0; i < m; i++) {
    float *ci = c + (uint64_t)i * ldc;
    if (beta == 0.0f) memset(ci, 0, n * sizeof(float));
    for (uint32_t j = 0; j < k; j++) {
      const float aij = alpha * a[(uint64_t)i * lda + j];
      const float *bj = b + (uint64_t)j * ldb;
      for (uint32_t d = 0; d < n; d++) ci[d] += aij * bj[d];
    }
  }
}

/* C (m x n, ldc) += alpha A^T B, A (k x m, lda), B (k x n, ldb). */
static void mm_tn_acc(uint32_t m, uint32_t n, uint32_t k, float alpha, const float *a, uint32_t lda, const float *b, uint32_t ldb,
                      float *c, uint32_t ldc) {
  if (!loops()) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, 1.0f, c, (int)ldc);
    return;
  }
  for (uint32_t r = 0; r < k; r++) {
    const float *ar = a + (uint64_t)r * lda, *br = b + (uint64_t)r * ldb;
    for (uint32_t i = 0; i < m; i++) {
      const float w = alpha * ar[i];
      float *ci = c + (uint64_t)i * ldc;
      for (uint32_t d = 0; d < n; d++) ci[d] += w * br[d];
    }
  }
}

/*
 * exp(x) for x <= 0 (softmax after max subtraction), Cephes' expf: x = n ln2 + r with |r| <= ln2 / 2, a degree-6
 * polynomial for exp(r), and 2^n added to the exponent bits; within 2 ulp of expf. Written without calls or
 * branches so the compiler vectorizes the row loop (libm's expf was half of the forward's time at T=32). Below
 * -86 (where 2^n would reach the denormals) it returns 0, as expf's result there is below 2e-38 anyway; NaN
 * propagates.
 */
static inline float exp_nonpos(float x) {
  const float xc = x < -86.0f ? -86.0f : x;
  /* Round-to-nearest of xc / ln2 by the 1.5 * 2^23 trick: no floorf call, no SSE4.1 needed. */
  const float t = xc * 1.44269504088896341f + 12582912.0f;
  const float nf = t - 12582912.0f;
  int32_t ni;
  memcpy(&ni, &t, 4);
  ni -= 0x4B400000;
  float r = xc - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  const float z = r * r;
  float y = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r
              + 1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
  int32_t yi;
  memcpy(&yi, &y, 4);
  yi += (int32_t)((uint32_t)ni << 23);
  memcpy(&y, &yi, 4);
  y = x < -86.0f ? 0.0f : y;
  return x != x ? x : y;
}

/*
 * tanh(x) without calls or branches, so the soft-capping loop vectorizes (libm's tanhf is scalar). For |x| >= 0.3 it
 * is (1 - e) / (1 + e) with e = exp(-2|x|) <= 0.55, where 1 - e loses no more than a couple of ulp; below, where that
 * difference would cancel, the odd Taylor series to x^11 (truncation below 1e-9 relative at 0.3). Within ~3 ulp of
 * tanh; NaN propagates.
 */
static inline float tanh_branchless(float x) {
  const float a = fabsf(x);
  const float e = exp_nonpos(-2.0f * a);
  const float big = (1.0f - e) / (1.0f + e);
  const float z = a * a;
  const float small = a + a * z * (-1.0f / 3.0f + z * (2.0f / 15.0f + z * (-17.0f / 315.0f + z * (62.0f / 2835.0f + z * (-1382.0f / 155925.0f)))));
  const float t = a < 0.3f ? small : big;
  return x != x ? x : copysignf(t, x);
}

/* s -> cap tanh(s / cap) on n scores (Gemma-2's attn_logit_softcapping). */
static void softcap_scores(float *s, uint64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (uint64_t e = 0; e < n; e++) s[e] = cap * tanh_branchless(s[e] * inv);
}

/* In-place softmax of each of `rows` rows of length n (stride n), with max subtraction. */
static void softmax_rows(float *s, uint32_t rows, uint32_t n) {
  for (uint32_t i = 0; i < rows; i++) {
    float *r = s + (uint64_t)i * n;
    float mx = r[0];
    for (uint32_t j = 1; j < n; j++) mx = r[j] > mx ? r[j] : mx;
    for (uint32_t j = 0; j < n; j++) r[j] = exp_nonpos(r[j] - mx);
    /* Four partial sums (a single float sum is a serial chain the compiler may not split into lanes). */
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t j = 0;
    for (; j + 4 <= n; j += 4) {
      s0 += r[j];
      s1 += r[j + 1];
      s2 += r[j + 2];
      s3 += r[j + 3];
    }
    for (; j < n; j++) s0 += r[j];
    const float inv = 1.0f / ((s0 + s1) + (s2 + s3));
    for (j = 0; j < n; j++) r[j] *= inv;
  }
}

/*
 * attention(heap, params, scale, softcap); params (Uint32Array): qOff, kOff, vOff, biasOff, hasBias, biasBatchStride,
 * yOff, pOff, B, Tq, Tk, H, kvH, hd, then (sb, st, sh) of q, of k and of v. Offsets are bytes, strides floats.
 *   s = scale q[b,i,h,:] . k[b,:,g(h),:], then cap(s) = softcap tanh(s / softcap) when softcap > 0 (else s)
 *   P[b,h,i,:] = softmax(cap(s) + bias[b,0,i,:])                              (B, H, Tq, Tk), dense
 *   y[b*Tq + i, h*hd + d] = sum_j P[b,h,i,j] v[b,j,g(h),d]                    (B*Tq, H*hd), dense
 * The bias is (B, 1, Tq, Tk) dense with batch stride biasBatchStride (0 broadcasts one (Tq, Tk) matrix).
 */
static napi_value attention(napi_env env, napi_callback_info info) {
  heap_t h;
  const uint32_t *p;
  float scale, softcap;
  if (!read_call(env, info, &h, &p, F_COUNT, &scale, &softcap))
    return fail(env, "hiedit_attention.attention: expected (heap, params Uint32Array(23), scale, softcap >= 0)");
  const uint32_t B = p[F_B], Tq = p[F_TQ], Tk = p[F_TK], H = p[F_H], kvH = p[F_KVH], hd = p[F_HD];
  if (kvH == 0 || H % kvH != 0) return fail(env, "hiedit_attention.attention: H must be a multiple of kvH > 0");
  if ((uint64_t)H * hd > UINT32_MAX) return fail(env, "hiedit_attention.attention: H * hd exceeds the 32-bit range");
  const strides_t qs = single_row_safe(strides_at(p + F_QS), Tq, hd), ks = single_row_safe(strides_at(p + F_KS), Tk, hd),
                  vs = single_row_safe(strides_at(p + F_VS), Tk, hd);
  const float *q = operand(&h, p[F_Q], B, Tq, H, hd, qs);
  const float *k = operand(&h, p[F_K], B, Tk, kvH, hd, ks);
  const float *v = operand(&h, p[F_V], B, Tk, kvH, hd, vs);
  float *y = dense(&h, p[F_Y], prod4(B, Tq, H, hd));
  float *P = dense(&h, p[F_P], prod4(B, H, Tq, Tk));
  const float *bias = NULL;
  if (p[F_HAS_BIAS]) {
    const uint64_t sb = p[F_BIAS_SB];
    if (sb != 0 && sb != (uint64_t)Tq * Tk) return fail(env, "hiedit_attention.attention: bias batch stride must be 0 or Tq*Tk");
    uint64_t n = 0;
    if (B > 0 && __builtin_add_overflow((uint64_t)(B - 1) * sb, (uint64_t)Tq * Tk, &n)) n = UINT64_MAX;
    bias = dense(&h, p[F_BIAS], n);
    if (!bias) return fail(env, "hiedit_attention.attention: bias out of heap bounds");
  }
  if (!q || !k || !v || !y || !P) return fail(env, "hiedit_attention.attention: an operand is out of heap bounds or has a row stride shorter than the head size");
  if ((uint64_t)B * Tq * H * hd == 0) return NULL;
  if (Tk == 0) {
    /* No key to attend to: an empty weighted sum. */
    memset(y, 0, (uint64_t)B * Tq * H * hd * sizeof(float));
    return NULL;
  }
  const uint32_t g = H / kvH, ldy = H * hd;
  for (uint32_t b = 0; b < B; b++) {
    for (uint32_t hh = 0; hh < H; hh++) {
      const uint32_t kh = hh / g;
      const float *qh = q + (uint64_t)b * qs.sb + (uint64_t)hh * qs.sh;
      const float *kh_ = k + (uint64_t)b * ks.sb + (uint64_t)kh * ks.sh;
      const float *vh = v + (uint64_t)b * vs.sb + (uint64_t)kh * vs.sh;
      float *S = P + ((uint64_t)b * H + hh) * Tq * Tk;
      mm_nt(Tq, Tk, hd, scale, qh, qs.st, kh_, ks.st, S, Tk);
      if (softcap > 0) softcap_scores(S, (uint64_t)Tq * Tk, softcap);
      if (bias) {
        const float *bb = bias + (uint64_t)b * p[F_BIAS_SB];
        for (uint64_t e = 0; e < (uint64_t)Tq * Tk; e++) S[e] += bb[e];
      }
      softmax_rows(S, Tq, Tk);
      mm_nn(Tq, hd, Tk, 1.0f, S, Tk, vh, vs.st, 0.0f, y + (uint64_t)b * Tq * ldy + (uint64_t)hh * hd, ldy);
    }
  }
  return NULL;
}

/* Zeroes a strided (B, T, heads, hd) operand. */
static void zero_operand(float *x, uint32_t B, uint32_t T, uint32_t heads, uint32_t hd, strides_t s) {
  for (uint32_t b = 0; b < B; b++)
    for (uint32_t t = 0; t < T; t++)
      for (uint32_t hh = 0; hh < heads; hh++)
        memset(x + (uint64_t)b * s.sb + (uint64_t)t * s.st + (uint64_t)hh * s.sh, 0, hd * sizeof(float));
}

/*
 * attentionGrad(heap, params, scale, softcap); params: qOff, kOff, vOff, pOff, dyOff, dqOff, dkOff, dvOff, B, Tq, Tk,
 * H, kvH, hd, then (sb, st, sh) of q, k and v; dq, dk and dv are written with the strides of q, k and v (they may
 * be three parts of one packed gradient). With dP = dy v^T and dS = P (dP - rowsum(P dP)):
 *   dq = scale dS k,   dk = scale sum_{heads of the group} dS^T q,   dv = sum_{heads of the group} P^T dy.
 * With a softcap, dS is first multiplied by the cap's derivative 1 - tanh^2(s / softcap); s is recomputed from q
 * and k (one more product per head) rather than saved by the forward, which keeps P its only saved output.
 */
static napi_value attention_grad(napi_env env, napi_callback_info info) {
  heap_t h;
  const uint32_t *p;
  float scale, softcap;
  if (!read_call(env, info, &h, &p, G_COUNT, &scale, &softcap))
    return fail(env, "hiedit_attention.attentionGrad: expected (heap, params Uint32Array(23), scale, softcap >= 0)");
  const uint32_t B = p[G_B], Tq = p[G_TQ], Tk = p[G_TK], H = p[G_H], kvH = p[G_KVH], hd = p[G_HD];
  if (kvH == 0 || H % kvH != 0) return fail(env, "hiedit_attention.attentionGrad: H must be a multiple of kvH > 0");
  if ((uint64_t)H * hd > UINT32_MAX) return fail(env, "hiedit_attention.attentionGrad: H * hd exceeds the 32-bit range");
  const strides_t qs = single_row_safe(strides_at(p + G_QS), Tq, hd), ks = single_row_safe(strides_at(p + G_KS), Tk, hd),
                  vs = single_row_safe(strides_at(p + G_VS), Tk, hd);
  const float *q = operand(&h, p[G_Q], B, Tq, H, hd, qs);
  const float *k = operand(&h, p[G_K], B, Tk, kvH, hd, ks);
  const float *v = operand(&h, p[G_V], B, Tk, kvH, hd, vs);
  float *dq = operand(&h, p[G_DQ], B, Tq, H, hd, qs);
  float *dk = operand(&h, p[G_DK], B, Tk, kvH, hd, ks);
  float *dv = operand(&h, p[G_DV], B, Tk, kvH, hd, vs);
  const float *P = dense(&h, p[G_P], prod4(B, H, Tq, Tk));
  const float *dy = dense(&h, p[G_DY], prod4(B, Tq, H, hd));
  if (!q || !k || !v || !dq || !dk || !dv || !P || !dy) return fail(env, "hiedit_attention.attentionGrad: an operand is out of heap bounds or has a row stride shorter than the head size");
  if (hd == 0) return NULL;
  zero_operand(dk, B, Tk, kvH, hd, ks);
  zero_operand(dv, B, Tk, kvH, hd, vs);
  if (Tk == 0) {
    zero_operand(dq, B, Tq, H, hd, qs);
    return NULL;
  }
  if ((uint64_t)B * Tq * H == 0) return NULL;
  float *dS = (float *)malloc((uint64_t)Tq * Tk * sizeof(float));
  float *S = softcap > 0 ? (float *)malloc((uint64_t)Tq * Tk * sizeof(float)) : NULL;
  if (!dS || (softcap > 0 && !S)) {
    free(dS);
    free(S);
    return fail(env, "hiedit_attention.attentionGrad: out of memory");
  }
  const uint32_t g = H / kvH, ldy = H * hd;
  for (uint32_t b = 0; b < B; b++) {
    for (uint32_t hh = 0; hh < H; hh++) {
      const uint32_t kh = hh / g;
      const uint64_t qo = (uint64_t)b * qs.sb + (uint64_t)hh * qs.sh;
      const uint64_t ko = (uint64_t)b * ks.sb + (uint64_t)kh * ks.sh;
      const uint64_t vo = (uint64_t)b * vs.sb + (uint64_t)kh * vs.sh;
      const float *Ph = P + ((uint64_t)b * H + hh) * Tq * Tk;
      const float *dyh = dy + (uint64_t)b * Tq * ldy + (uint64_t)hh * hd;
      mm_nt(Tq, Tk, hd, 1.0f, dyh, ldy, v + vo, vs.st, dS, Tk);
      for (uint32_t i = 0; i < Tq; i++) {
        const float *pr = Ph + (uint64_t)i * Tk;
        float *dr = dS + (uint64_t)i * Tk;
        double dot = 0;
        for (uint32_t j = 0; j < Tk; j++) dot += (double)pr[j] * dr[j];
        const float c = (float)dot;
        for (uint32_t j = 0; j < Tk; j++) dr[j] = pr[j] * (dr[j] - c);
      }
      if (S) {
        /* The same scores as the forward's (same product, same tanh), so the derivative matches P exactly. */
        mm_nt(Tq, Tk, hd, scale, q + qo, qs.st, k + ko, ks.st, S, Tk);
        const float inv = 1.0f / softcap;
        for (uint64_t e = 0; e < (uint64_t)Tq * Tk; e++) {
          const float t = tanh_branchless(S[e] * inv);
          dS[e] *= 1.0f - t * t;
        }
      }
      mm_nn(Tq, hd, Tk, scale, dS, Tk, k + ko, ks.st, 0.0f, dq + qo, qs.st);
      mm_tn_acc(Tk, hd, Tq, scale, dS, Tk, q + qo, qs.st, dk + ko, ks.st);
      mm_tn_acc(Tk, hd, Tq, 1.0f, Ph, Tk, dyh, ldy, dv + vo, vs.st);
    }
  }
  free(dS);
  free(S);
  return NULL;
}

int hiedit_attention_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"attention", NULL, attention, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, attention_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
