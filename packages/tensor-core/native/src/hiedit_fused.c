/*
 * Fused kernels for the tfjs wasm backend: LayerNorm and RMSNorm (forward and backward), rotary embeddings,
 * tanh-GELU, SiLU(gate) * up and GELU(gate) * up (forward and backward, vectorised, see below). Like gemm they work directly on the wasm heap,
 * addressed by byte offsets, so one kernel replaces the 5-10 small wasm kernels (and their per-op tfjs
 * dispatch) of the composite form.
 *
 * Row statistics accumulate in double, which keeps the fused norms within the tests' 1e-5 (relative) of the
 * float32 composite on widths up to 16384.
 *
 * Every offset and extent is checked against the heap length before anything is read or written.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hiedit_fused.h"

/* 2 sqrt(2/pi): 0.5 (1 + tanh(z)) == sigmoid(2 z), so gelu_tanh(x) = x * sigmoid(x (GA + GB x^2)). */
#define GELU_A 1.5957691216057308
#define GELU_B (0.044715 * GELU_A)

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "HIEDIT_FUSED", msg);
  return NULL;
}

typedef struct {
  char *base;
  uint64_t len;
} heap_t;

static int read_heap(napi_env env, napi_value v, heap_t *h) {
  bool is_ab = false;
  void *data = NULL;
  size_t len = 0;
  if (napi_is_arraybuffer(env, v, &is_ab) != napi_ok || !is_ab) return 0;
  if (napi_get_arraybuffer_info(env, v, &data, &len) != napi_ok) return 0;
  h->base = (char *)data;
  h->len = len;
  return 1;
}

static int read_u32(napi_env env, napi_value v, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0) || d > 4294967295.0 || d != floor(d)) return 0;
  *out = (uint32_t)d;
  return 1;
}

/* A float32 array of `elems` values at byte offset `off`, or NULL when it does not fit in the heap. */
static float *at(const heap_t *h, uint32_t off, uint64_t elems) {
  if (off % 4 != 0 || off > h->len || elems > (h->len - off) / 4) return NULL;
  return (float *)(h->base + off);
}

/*
 * Reads argv[0] (heap), then `n_u32` unsigned integers, then optionally one double (eps, finite and >= 0) and after
 * it optionally one more (offset, finite).
 */
static int read_args2(napi_env env, napi_callback_info info, heap_t *h, uint32_t *u, size_t n_u32, double *eps, double *offset) {
  napi_value argv[16];
  size_t argc = 16;
  size_t want = 1 + n_u32 + (eps ? 1 : 0) + (offset ? 1 : 0);
  if (want > 16 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return 0;
  if (!read_heap(env, argv[0], h)) return 0;
  for (size_t i = 0; i < n_u32; i++)
    if (!read_u32(env, argv[1 + i], &u[i])) return 0;
  if (eps) {
    if (napi_get_value_double(env, argv[1 + n_u32], eps) != napi_ok || !(*eps >= 0) || !isfinite(*eps)) return 0;
  }
  if (offset) {
    if (napi_get_value_double(env, argv[1 + n_u32 + 1], offset) != napi_ok || !isfinite(*offset)) return 0;
  }
  return 1;
}

static int read_args(napi_env env, napi_callback_info info, heap_t *h, uint32_t *u, size_t n_u32, double *eps) {
  return read_args2(env, info, h, u, n_u32, eps, NULL);
}

/*
 * The weight the norm multiplies by: w itself for offset 0, else a fresh buffer of (float)offset + w[j] (Gemma's
 * (1 + w), rounded to float exactly as the composite's Add), which the caller frees when it is not w. NULL when out
 * of memory.
 */
static const float *offset_weight(const float *w, uint32_t d, double offset) {
  if (offset == 0) return w;
  float *o = (float *)malloc((size_t)(d ? d : 1) * sizeof(float));
  if (!o) return NULL;
  const float f = (float)offset;
  for (uint32_t j = 0; j < d; j++) o[j] = f + w[j];
  return o;
}

/* Mean and 1 / sqrt(biased variance + eps) of one row, in double (two passes: numerically safe). */
static void row_stats(const float *xr, uint32_t d, double eps, double *mean, double *rstd) {
  double s = 0;
  for (uint32_t j = 0; j < d; j++) s += xr[j];
  const double m = s / d;
  double v = 0;
  for (uint32_t j = 0; j < d; j++) {
    const double c = xr[j] - m;
    v += c * c;
  }
  *mean = m;
  *rstd = 1.0 / sqrt(v / d + eps);
}

/* layerNorm(heap, x, gamma, beta, y, rows, d, eps): y = (x - mean) / sqrt(var + eps) * gamma + beta per row. */
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  heap_t h;
  uint32_t u[6];
  double eps;
  if (!read_args(env, info, &h, u, 6, &eps))
    return fail(env, "hiedit_fused.layerNorm: expected (heap, xOff, gammaOff, betaOff, yOff, rows, d, eps)");
  const uint32_t rows = u[4], d = u[5];
  const uint64_t total = (uint64_t)rows * d;
  const float *x = at(&h, u[0], total), *g = at(&h, u[1], d), *b = at(&h, u[2], d);
  float *y = at(&h, u[3], total);
  if (!x || !g || !b || !y) return fail(env, "hiedit_fused.layerNorm: operand out of heap bounds");
  if (d == 0) return NULL;
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (uint64_t)r * d;
    float *yr = y + (uint64_t)r * d;
    double mean, rs;
    row_stats(xr, d, eps, &mean, &rs);
    const float rstd = (float)rs;
    const float m = (float)mean;
    for (uint32_t j = 0; j < d; j++) yr[j] = (xr[j] - m) * rstd * g[j] + b[j];
  }
  return NULL;
}

/*
 * layerNormGrad(heap, x, gamma, dy, dx, dgamma, dbeta, rows, d, eps), with xhat = (x - mean) rstd and
 * gd = dy * gamma:  dx = rstd (gd - mean(gd) - xhat mean(gd xhat)),  dgamma = sum_rows dy xhat,
 * dbeta = sum_rows dy. The statistics are recomputed from x (one pass over a row is cheaper than saving them
 * as extra outputs through the autodiff engine).
 */
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  heap_t h;
  uint32_t u[8];
  double eps;
  if (!read_args(env, info, &h, u, 8, &eps))
    return fail(env, "hiedit_fused.layerNormGrad: expected (heap, xOff, gammaOff, dyOff, dxOff, dgammaOff, dbetaOff, rows, d, eps)");
  const uint32_t rows = u[6], d = u[7];
  const uint64_t total = (uint64_t)rows * d;
  const float *x = at(&h, u[0], total), *g = at(&h, u[1], d), *dy = at(&h, u[2], total);
  float *dx = at(&h, u[3], total), *dg = at(&h, u[4], d), *db = at(&h, u[5], d);
  if (!x || !g || !dy || !dx || !dg || !db) return fail(env, "hiedit_fused.layerNormGrad: operand out of heap bounds");
  if (d == 0) return NULL;
  double *acc = (double *)calloc(2 * (size_t)d, sizeof(double));
  if (!acc) return fail(env, "hiedit_fused.layerNormGrad: out of memory");
  double *accg = acc, *accb = acc + d;
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (uint64_t)r * d, *dyr = dy + (uint64_t)r * d;
    float *dxr = dx + (uint64_t)r * d;
    double mean, rstd;
    row_stats(xr, d, eps, &mean, &rstd);
    double sg = 0, sgx = 0;
    for (uint32_t j = 0; j < d; j++) {
      const double xh = (xr[j] - mean) * rstd;
      const double gd = (double)dyr[j] * g[j];
      sg += gd;
      sgx += gd * xh;
      accg[j] += dyr[j] * xh;
      accb[j] += dyr[j];
    }
    const double mg = sg / d, mgx = sgx / d;
    for (uint32_t j = 0; j < d; j++) {
      const double xh = (xr[j] - mean) * rstd;
      dxr[j] = (float)(rstd * ((double)dyr[j] * g[j] - mg - xh * mgx));
    }
  }
  for (uint32_t j = 0; j < d; j++) {
    dg[j] = (float)accg[j];
    db[j] = (float)accb[j];
  }
  free(acc);
  return NULL;
}

/*
 * rmsNorm(heap, x, w, y, rows, d, eps, offset): y = x / sqrt(mean(x^2) + eps) * (offset + w) per row (offset 0:
 * Llama's norm; 1: Gemma's (1 + w), without a separate Add kernel per norm).
 */
static napi_value rms_norm(napi_env env, napi_callback_info info) {
  heap_t h;
  uint32_t u[5];
  double eps, offset;
  if (!read_args2(env, info, &h, u, 5, &eps, &offset))
    return fail(env, "hiedit_fused.rmsNorm: expected (heap, xOff, wOff, yOff, rows, d, eps, offset)");
  const uint32_t rows = u[3], d = u[4];
  const uint64_t total = (uint64_t)rows * d;
  const float *x = at(&h, u[0], total), *w0 = at(&h, u[1], d);
  float *y = at(&h, u[2], total);
  if (!x || !w0 || !y) return fail(env, "hiedit_fused.rmsNorm: operand out of heap bounds");
  if (d == 0) return NULL;
  const float *w = offset_weight(w0, d, offset);
  if (!w) return fail(env, "hiedit_fused.rmsNorm: out of memory");
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (uint64_t)r * d;
    float *yr = y + (uint64_t)r * d;
    double s = 0;
    for (uint32_t j = 0; j < d; j++) s += (double)xr[j] * xr[j];
    const float rr = (float)(1.0 / sqrt(s / d + eps));
    for (uint32_t j = 0; j < d; j++) yr[j] = xr[j] * rr * w[j];
  }
  if (w != w0) free((void *)w);
  return NULL;
}

/*
 * rmsNormGrad(heap, x, w, dy, dx, dw, rows, d, eps, offset), r = 1 / sqrt(mean(x^2) + eps), W = offset + w:
 * dx = r (dy W) - x r^3 mean(dy W x),  dw = sum_rows dy x r (the offset is a constant: dW/dw = 1).
 */
static napi_value rms_norm_grad(napi_env env, napi_callback_info info) {
  heap_t h;
  uint32_t u[7];
  double eps, offset;
  if (!read_args2(env, info, &h, u, 7, &eps, &offset))
    return fail(env, "hiedit_fused.rmsNormGrad: expected (heap, xOff, wOff, dyOff, dxOff, dwOff, rows, d, eps, offset)");
  const uint32_t rows = u[5], d = u[6];
  const uint64_t total = (uint64_t)rows * d;
  const float *x = at(&h, u[0], total), *w0 = at(&h, u[1], d), *dy = at(&h, u[2], total);
  float *dx = at(&h, u[3], total), *dw = at(&h, u[4], d);
  if (!x || !w0 || !dy || !dx || !dw) return fail(env, "hiedit_fused.rmsNormGrad: operand out of heap bounds");
  if (d == 0) return NULL;
  const float *w = offset_weight(w0, d, offset);
  double *accw = (double *)calloc((size_t)d, sizeof(double));
  if (!w || !accw) {
    if (w != w0) free((void *)w);
    free(accw);
    return fail(env, "hiedit_fused.rmsNormGrad: out of memory");
  }
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (uint64_t)r * d, *dyr = dy + (uint64_t)r * d;
    float *dxr = dx + (uint64_t)r * d;
    double s = 0, sgx = 0;
    for (uint32_t j = 0; j < d; j++) {
      s += (double)xr[j] * xr[j];
      sgx += (double)dyr[j] * w[j] * xr[j];
    }
    const double rr = 1.0 / sqrt(s / d + eps);
    const double k = rr * rr * rr * (sgx / d);
    for (uint32_t j = 0; j < d; j++) {
      dxr[j] = (float)(rr * ((double)dyr[j] * w[j]) - xr[j] * k);
      accw[j] += (double)dyr[j] * xr[j] * rr;
    }
  }
  for (uint32_t j = 0; j < d; j++) dw[j] = (float)accw[j];
  free(accw);
  if (w != w0) free((void *)w);
  return NULL;
}

/*
 * GELU and SwiGLU: one pass each, forward and backward, with the sigmoid computed in place.
 *
 * glibc's expf is scalar, so a loop over it is slower than the wasm backend's vectorised Sigmoid kernel. The
 * exponential below is branch-free (round to the nearest power of two, a degree-7 polynomial on the remainder,
 * the power built from its exponent bits), so the compiler vectorises the loops; on x86-64 Linux with GCC each
 * loop is also compiled for AVX2 and AVX-512 and the best one is picked at load time (target_clones). The
 * build uses -ffp-contract=off, so every clone computes bit-identical results: the CPU changes the speed, not
 * the numbers. Relative error of sigmoid: below 1e-6 for arguments above -87; below that the exponential is
 * clamped, so the sigmoid stays at ~1.6e-38 where the exact value is smaller still (absolute error < 2e-38).
 */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

/* e^t for t in float range: e^t stays a normal float inside +-87, and beyond it e^t is 0 or overflows anyway. */
static inline float exp_f(float t) {
  t = t < -87.0f ? -87.0f : (t > 87.0f ? 87.0f : t); /* one select: two separate ones vectorise 3x slower (GCC 12) */
  const float n = (t * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(t / ln 2), 1.5 * 2^23 trick */
  const float r = (t - n * 0.693145751953125f) - n * 1.42860682030941723e-06f; /* t - n ln 2, two-part ln 2 */
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float two_n;
  memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

static inline float sigmoid_f(float z) { return 1.0f / (1.0f + exp_f(-z)); }

/* gelu_tanh(x) = x sigmoid(x (A + B x^2)). */
VECTOR_CLONES static void gelu_loop(const float *restrict x, float *restrict y, uint32_t n) {
  const float a = (float)GELU_A, b = (float)GELU_B;
  for (size_t i = 0; i < (size_t)n; i++) {
    const float v = x[i];
    y[i] = v * sigmoid_f(v * (a + b * v * v));
  }
}

/* d gelu_tanh / dx = s + x s (1 - s) (A + 3 B x^2), s = sigmoid(x (A + B x^2)). */
VECTOR_CLONES static void gelu_backward_loop(const float *restrict x, const float *restrict dy, float *restrict dx, uint32_t n) {
  const float a = (float)GELU_A, b = (float)GELU_B;
  for (size_t i = 0; i < (size_t)n; i++) {
    const float v = x[i];
    const float s = sigmoid_f(v * (a + b * v * v));
    dx[i] = dy[i] * (s + v * s * (1.0f - s) * (a + 3.0f * b * v * v));
  }
}

/* GeGLU: gelu_tanh(g) u, rounded as gelu_loop's output times u (the fused GELU then a Mul, bit for bit). */
VECTOR_CLONES static void geglu_loop(const float *restrict g, const float *restrict u, float *restrict y, uint32_t n) {
  const float a = (float)GELU_A, b = (float)GELU_B;
  for (size_t i = 0; i < (size_t)n; i++) {
    const float v = g[i];
    const float gelu = v * sigmoid_f(v * (a + b * v * v));
    y[i] = gelu * u[i];
  }
}

/* d/dg = dy u gelu_tanh'(g), d/du = dy gelu_tanh(g) (gelu_tanh' as in gelu_backward_loop). */
VECTOR_CLONES static void geglu_backward_loop(const float *restrict g, const float *restrict u, const float *restrict dy,
                                              float *restrict dg, float *restrict du, uint32_t n) {
  const float a = (float)GELU_A, b = (float)GELU_B;
  for (size_t i = 0; i < (size_t)n; i++) {
    const float v = g[i];
    const float s = sigmoid_f(v * (a + b * v * v));
    dg[i] = (dy[i] * u[i]) * (s + v * s * (1.0f - s) * (a + 3.0f * b * v * v));
    du[i] = dy[i] * (v * s);
  }
}

/* silu(g) u = g sigmoid(g) u. */
VECTOR_CLONES static void swiglu_loop(const float *restrict g, const float *restrict u, float *restrict y, uint32_t n) {
  for (size_t i = 0; i < (size_t)n; i++) y[i] = g[i] * sigmoid_f(g[i]) * u[i];
}

/* d/dg = dy u s (1 + g (1 - s)), d/du = dy g s, s = sigmoid(g). */
VECTOR_CLONES static void swiglu_backward_loop(const float *restrict g, const float *restrict u, const float *restrict dy,
                                               float *restrict dg, float *restrict du, uint32_t n) {
  for (size_t i = 0; i < (size_t)n; i++) {
    const float s = sigmoid_f(g[i]);
    const float gs = g[i] * s;
    dg[i] = dy[i] * u[i] * (s + gs * (1.0f - s));
    du[i] = dy[i] * gs;
  }
}

/* Two runs of n floats that share no element. */
static int disjoint(const float *a, const float *b, uint32_t n) {
  return a + n <= b || b + n <= a;
}

/*
 * The arguments of an elementwise kernel: (heap, the offsets of `n_in` inputs, then of `n_out` outputs, n). Every
 * operand is n floats inside the heap, and no output overlaps an input or another output (the loops are compiled
 * as if they did not: restrict). On failure it throws `usage` or the reason and returns 0.
 */
#define MAX_ELEMENTWISE 5
static int elementwise_args(napi_env env, napi_callback_info info, const char *name, const char *usage, size_t n_in,
                            size_t n_out, const float **in, float **out, uint32_t *n) {
  heap_t h;
  uint32_t u[MAX_ELEMENTWISE + 1];
  char msg[160];
  if (!read_args(env, info, &h, u, n_in + n_out + 1, NULL)) {
    fail(env, usage);
    return 0;
  }
  *n = u[n_in + n_out];
  float *ops[MAX_ELEMENTWISE];
  for (size_t i = 0; i < n_in + n_out; i++) {
    ops[i] = at(&h, u[i], *n);
    if (!ops[i]) {
      snprintf(msg, sizeof msg, "%s: operand out of heap bounds", name);
      fail(env, msg);
      return 0;
    }
  }
  for (size_t o = n_in; o < n_in + n_out; o++)
    for (size_t i = 0; i < n_in + n_out; i++)
      if (i != o && !disjoint(ops[o], ops[i], *n)) {
        snprintf(msg, sizeof msg, "%s: an output overlaps another operand", name);
        fail(env, msg);
        return 0;
      }
  for (size_t i = 0; i < n_in; i++) in[i] = ops[i];
  for (size_t o = 0; o < n_out; o++) out[o] = ops[n_in + o];
  return 1;
}

/* gelu(heap, x, y, n): y = gelu_tanh(x). */
static napi_value gelu(napi_env env, napi_callback_info info) {
  const float *in[1];
  float *out[1];
  uint32_t n;
  if (elementwise_args(env, info, "hiedit_fused.gelu", "hiedit_fused.gelu: expected (heap, xOff, yOff, n)", 1, 1, in, out, &n))
    gelu_loop(in[0], out[0], n);
  return NULL;
}

/* geluBackward(heap, x, dy, dx, n): dx = dy * gelu_tanh'(x). */
static napi_value gelu_backward(napi_env env, napi_callback_info info) {
  const float *in[2];
  float *out[1];
  uint32_t n;
  if (elementwise_args(env, info, "hiedit_fused.geluBackward", "hiedit_fused.geluBackward: expected (heap, xOff, dyOff, dxOff, n)", 2, 1, in, out, &n))
    gelu_backward_loop(in[0], in[1], out[0], n);
  return NULL;
}

typedef void (*gated_loop_t)(const float *restrict, const float *restrict, float *restrict, uint32_t);
typedef void (*gated_backward_loop_t)(const float *restrict, const float *restrict, const float *restrict, float *restrict,
                                      float *restrict, uint32_t);

/* A gated product's forward, (heap, gate, up, y, n), running `loop` on checked operands. */
static napi_value gated(napi_env env, napi_callback_info info, const char *name, const char *usage, gated_loop_t loop) {
  const float *in[2];
  float *out[1];
  uint32_t n;
  if (elementwise_args(env, info, name, usage, 2, 1, in, out, &n)) loop(in[0], in[1], out[0], n);
  return NULL;
}

/* A gated product's backward, (heap, gate, up, dy, dgate, dup, n). */
static napi_value gated_backward(napi_env env, napi_callback_info info, const char *name, const char *usage, gated_backward_loop_t loop) {
  const float *in[3];
  float *out[2];
  uint32_t n;
  if (elementwise_args(env, info, name, usage, 3, 2, in, out, &n)) loop(in[0], in[1], in[2], out[0], out[1], n);
  return NULL;
}

/* geglu(heap, gate, up, y, n): y = gelu_tanh(gate) * up (Gemma's MLP). */
static napi_value geglu(napi_env env, napi_callback_info info) {
  return gated(env, info, "hiedit_fused.geglu", "hiedit_fused.geglu: expected (heap, gateOff, upOff, yOff, n)", geglu_loop);
}

/* gegluBackward(heap, gate, up, dy, dgate, dup, n). */
static napi_value geglu_backward(napi_env env, napi_callback_info info) {
  return gated_backward(env, info, "hiedit_fused.gegluBackward",
                        "hiedit_fused.gegluBackward: expected (heap, gateOff, upOff, dyOff, dgateOff, dupOff, n)", geglu_backward_loop);
}

/* swiglu(heap, gate, up, y, n): y = silu(gate) * up. */
static napi_value swiglu(napi_env env, napi_callback_info info) {
  return gated(env, info, "hiedit_fused.swiglu", "hiedit_fused.swiglu: expected (heap, gateOff, upOff, yOff, n)", swiglu_loop);
}

/* swigluBackward(heap, gate, up, dy, dgate, dup, n). */
static napi_value swiglu_backward(napi_env env, napi_callback_info info) {
  return gated_backward(env, info, "hiedit_fused.swigluBackward",
                        "hiedit_fused.swigluBackward: expected (heap, gateOff, upOff, dyOff, dgateOff, dupOff, n)", swiglu_backward_loop);
}

/*
 * Softmax cross-entropy over rows of V logits, forward and backward. The composite form (softmax, two Max, Log,
 * a gather, and in the backward a (P, V) one-hot) is about ten wasm kernels over a vocabulary-wide matrix;
 * these are three vectorised passes per row. Sums of exponentials go through float lanes in blocks and a
 * double total, so a 50k-wide row keeps the composite's precision.
 */
#define CE_LANES 16
#define CE_BLOCK 1024

VECTOR_CLONES static float row_max(const float *restrict x, uint32_t v) {
  float lanes[CE_LANES];
  for (int l = 0; l < CE_LANES; l++) lanes[l] = -INFINITY;
  size_t i = 0;
  for (; i + CE_LANES <= v; i += CE_LANES)
    for (int l = 0; l < CE_LANES; l++) lanes[l] = x[i + l] > lanes[l] ? x[i + l] : lanes[l];
  float m = -INFINITY;
  for (int l = 0; l < CE_LANES; l++) m = lanes[l] > m ? lanes[l] : m;
  for (; i < v; i++) m = x[i] > m ? x[i] : m;
  return m;
}

/* sum_j e^(x_j - m), and e^(x_j - m) written to out when out is not NULL. */
VECTOR_CLONES static double row_exp_sum(const float *restrict x, float m, float *restrict out, uint32_t v) {
  double total = 0;
  for (size_t b = 0; b < v; b += CE_BLOCK) {
    const size_t end = b + CE_BLOCK < v ? b + CE_BLOCK : v;
    float lanes[CE_LANES] = {0};
    size_t i = b;
    for (; i + CE_LANES <= end; i += CE_LANES)
      for (int l = 0; l < CE_LANES; l++) {
        const float e = exp_f(x[i + l] - m);
        if (out) out[i + l] = e;
        lanes[l] += e;
      }
    for (; i < end; i++) {
      const float e = exp_f(x[i] - m);
      if (out) out[i] = e;
      total += e;
    }
    for (int l = 0; l < CE_LANES; l++) total += lanes[l];
  }
  return total;
}

VECTOR_CLONES static void scale_row(float *restrict y, float s, uint32_t v) {
  for (size_t i = 0; i < (size_t)v; i++) y[i] *= s;
}

/* Labels are int32 row-wise; they must lie in [0, V) (checked; an invalid label is an error, not a NaN). */
static int labels_valid(const int32_t *labels, uint32_t rows, uint32_t v) {
  for (uint32_t r = 0; r < rows; r++)
    if (labels[r] < 0 || (uint32_t)labels[r] >= v) return 0;
  return 1;
}

/* softmaxCrossEntropy(heap, logits, labels, loss, rows, V): loss_r = logsumexp(x_r) - x_r[label_r]. */
static napi_value softmax_cross_entropy(napi_env env, napi_callback_info info) {
  heap_t h;
  uint32_t u[5];
  if (!read_args(env, info, &h, u, 5, NULL))
    return fail(env, "hiedit_fused.softmaxCrossEntropy: expected (heap, logitsOff, labelsOff, lossOff, rows, V)");
  const uint32_t rows = u[3], v = u[4];
  const float *x = at(&h, u[0], (uint64_t)rows * v);
  const int32_t *labels = (const int32_t *)at(&h, u[1], rows);
  float *loss = at(&h, u[2], rows);
  if (!x || !labels || !loss) return fail(env, "hiedit_fused.softmaxCrossEntropy: operand out of heap bounds");
  if (v == 0 || !labels_valid(labels, rows, v)) return fail(env, "hiedit_fused.softmaxCrossEntropy: a label is outside [0, V)");
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (uint64_t)r * v;
    const float m = row_max(xr, v);
    const double sum = row_exp_sum(xr, m, NULL, v);
    loss[r] = (float)((double)m + log(sum) - (double)xr[labels[r]]);
  }
  return NULL;
}

/* softmaxCrossEntropyGrad(heap, logits, labels, dy, dx, rows, V): dx_r = (softmax(x_r) - onehot(label_r)) dy_r. */
static napi_value softmax_cross_entropy_grad(napi_env env, napi_callback_info info) {
  heap_t h;
  uint32_t u[6];
  if (!read_args(env, info, &h, u, 6, NULL))
    return fail(env, "hiedit_fused.softmaxCrossEntropyGrad: expected (heap, logitsOff, labelsOff, dyOff, dxOff, rows, V)");
  const uint32_t rows = u[4], v = u[5];
  const uint64_t total = (uint64_t)rows * v;
  const float *x = at(&h, u[0], total), *dy = at(&h, u[2], rows);
  const int32_t *labels = (const int32_t *)at(&h, u[1], rows);
  float *dx = at(&h, u[3], total);
  if (!x || !labels || !dy || !dx) return fail(env, "hiedit_fused.softmaxCrossEntropyGrad: operand out of heap bounds");
  if (!disjoint(x, dx, (uint32_t)total)) /* total < 2^30: both fit in a 4 GiB heap */
    return fail(env, "hiedit_fused.softmaxCrossEntropyGrad: dx overlaps the logits");
  if (v == 0 || !labels_valid(labels, rows, v)) return fail(env, "hiedit_fused.softmaxCrossEntropyGrad: a label is outside [0, V)");
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (uint64_t)r * v;
    float *dr = dx + (uint64_t)r * v;
    const float m = row_max(xr, v);
    const double sum = row_exp_sum(xr, m, dr, v);
    scale_row(dr, (float)(dy[r] / sum), v);
    dr[labels[r]] -= dy[r];
  }
  return NULL;
}

/*
 * rope(heap, x, cos, sin, y, outer, T, half, inverse): rotary embedding in the rotate_half convention on
 * x (outer, T, 2 half) with tables (T, half): y1 = x1 c - x2 s, y2 = x2 c + x1 s. inverse = 1 rotates by the
 * opposite angle (s -> -s), which is the backward pass: the rotation is orthogonal, so dx = R^T dy.
 */
static napi_value rope(napi_env env, napi_callback_info info) {
  heap_t h;
  uint32_t u[8];
  if (!read_args(env, info, &h, u, 8, NULL))
    return fail(env, "hiedit_fused.rope: expected (heap, xOff, cosOff, sinOff, yOff, outer, T, half, inverse)");
  const uint32_t outer = u[4], T = u[5], half = u[6];
  const float sign = u[7] ? -1.0f : 1.0f;
  uint64_t total;
  if (__builtin_mul_overflow((uint64_t)outer * T, 2 * (uint64_t)half, &total)) return fail(env, "hiedit_fused.rope: operand out of heap bounds");
  const uint64_t table = (uint64_t)T * half;
  const float *x = at(&h, u[0], total), *c = at(&h, u[1], table), *sn = at(&h, u[2], table);
  float *y = at(&h, u[3], total);
  if (!x || !c || !sn || !y) return fail(env, "hiedit_fused.rope: operand out of heap bounds");
  for (uint64_t o = 0; o < outer; o++) {
    for (uint32_t t = 0; t < T; t++) {
      const uint64_t row = (o * T + t) * 2 * half;
      const float *x1 = x + row, *x2 = x1 + half, *ct = c + (uint64_t)t * half, *st = sn + (uint64_t)t * half;
      float *y1 = y + row, *y2 = y1 + half;
      for (uint32_t j = 0; j < half; j++) {
        const float a = x1[j], b = x2[j], cc = ct[j], ss = sign * st[j];
        y1[j] = a * cc - b * ss;
        y2[j] = b * cc + a * ss;
      }
    }
  }
  return NULL;
}

int hiedit_fused_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNorm", NULL, rms_norm, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNormGrad", NULL, rms_norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"gelu", NULL, gelu, NULL, NULL, NULL, napi_default, NULL},
      {"geluBackward", NULL, gelu_backward, NULL, NULL, NULL, napi_default, NULL},
      {"swiglu", NULL, swiglu, NULL, NULL, NULL, napi_default, NULL},
      {"geglu", NULL, geglu, NULL, NULL, NULL, napi_default, NULL},
      {"gegluBackward", NULL, geglu_backward, NULL, NULL, NULL, napi_default, NULL},
      {"swigluBackward", NULL, swiglu_backward, NULL, NULL, NULL, napi_default, NULL},
      {"rope", NULL, rope, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxCrossEntropy", NULL, softmax_cross_entropy, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxCrossEntropyGrad", NULL, softmax_cross_entropy_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
