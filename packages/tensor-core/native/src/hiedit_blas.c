/*
 * hiedit_blas: a tiny N-API addon that runs single-precision GEMM through the system BLAS
 * (OpenBLAS or Apple Accelerate) directly on a caller-provided ArrayBuffer, which in practice is the
 * tfjs wasm backend's heap. Operands are addressed by byte offsets into that buffer so nothing is copied.
 *
 * Every offset and extent is checked against the buffer length before BLAS is called: a wrong offset from
 * JS must become a thrown error, never a write outside the wasm heap.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hiedit_fused.h"
#include "hiedit_attention.h"
#include "hiedit_gemm.h"
#include "hiedit_gemm_napi.h"

#ifdef HIEDIT_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

#define MAX_ACT 6

enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2, ACT_PRELU = 3, ACT_LEAKYRELU = 4, ACT_SIGMOID = 5, ACT_ELU = 6 };

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, "HIEDIT_BLAS", msg);
  return NULL;
}

#define CHECK_NAPI(call)                                                      \
  do {                                                                        \
    if ((call) != napi_ok) return throw_error(env, "hiedit_blas: N-API call failed: " #call); \
  } while (0)

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0) || d > 4294967295.0 || d != floor(d)) return 0;
  *out = (uint32_t)d;
  return 1;
}

static int get_bool(napi_env env, napi_value v, int *out) {
  bool b;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_boolean) {
    if (napi_get_value_bool(env, v, &b) != napi_ok) return 0;
    *out = b ? 1 : 0;
    return 1;
  }
  uint32_t u;
  if (!get_u32(env, v, &u)) return 0;
  *out = u != 0;
  return 1;
}

/* Either a number (one offset, used for every batch when stride is 0) or a Uint32Array of per-batch offsets. */
typedef struct {
  const uint32_t *list;
  uint32_t single;
} offsets_t;

static int get_offsets(napi_env env, napi_value v, uint32_t batch, offsets_t *out) {
  bool is_ta = false;
  out->list = NULL;
  out->single = 0;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok) return 0;
  if (is_ta) {
    napi_typedarray_type type;
    size_t length;
    void *data;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok) return 0;
    if (type != napi_uint32_array || length < batch) return 0;
    out->list = (const uint32_t *)data;
    return 1;
  }
  return get_u32(env, v, &out->single);
}

static inline uint32_t offset_at(const offsets_t *o, uint32_t i) { return o->list ? o->list[i] : o->single; }

/* `elems` floats at byte offset `off` lie inside a heap of `len` bytes (no step of the check can overflow). */
static int in_bounds(uint64_t off, uint64_t elems, uint64_t len) {
  if (off % 4 != 0 || off > len) return 0;
  return elems <= (len - off) / 4;
}

static void apply_epilogue(float *c, uint32_t m, uint32_t n, const float *bias, uint32_t bias_len, int act,
                           float alpha, const float *prelu, uint32_t prelu_len) {
  uint64_t total = (uint64_t)m * n;
  if (bias != NULL) {
    if (bias_len == 1) {
      float b0 = bias[0];
      for (uint64_t i = 0; i < total; i++) c[i] += b0;
    } else {
      for (uint32_t r = 0; r < m; r++) {
        float *row = c + (uint64_t)r * n;
        for (uint32_t j = 0; j < n; j++) row[j] += bias[j];
      }
    }
  }
  switch (act) {
    case ACT_RELU:
      for (uint64_t i = 0; i < total; i++) c[i] = c[i] > 0.f ? c[i] : 0.f;
      break;
    case ACT_RELU6:
      for (uint64_t i = 0; i < total; i++) c[i] = c[i] < 0.f ? 0.f : (c[i] > 6.f ? 6.f : c[i]);
      break;
    case ACT_PRELU:
      for (uint32_t r = 0; r < m; r++) {
        float *row = c + (uint64_t)r * n;
        for (uint32_t j = 0; j < n; j++) {
          float w = prelu_len == 1 ? prelu[0] : prelu[j];
          row[j] = row[j] < 0.f ? w * row[j] : row[j];
        }
      }
      break;
    case ACT_LEAKYRELU:
      for (uint64_t i = 0; i < total; i++) c[i] = c[i] < 0.f ? alpha * c[i] : c[i];
      break;
    case ACT_SIGMOID:
      for (uint64_t i = 0; i < total; i++) c[i] = 1.f / (1.f + expf(-c[i]));
      break;
    case ACT_ELU:
      for (uint64_t i = 0; i < total; i++) c[i] = c[i] < 0.f ? expm1f(c[i]) : c[i];
      break;
    default:
      break;
  }
}

/* HIEDIT_BLAS_NO_GEMV=1 (A/B measurements only), read once: gemm runs on every matmul. */
static int no_gemv_requested(void) {
  static int cached = -1;
  int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (v < 0) {
    const char *e = getenv("HIEDIT_BLAS_NO_GEMV");
    v = e != NULL && e[0] == '1';
    __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
  }
  return v;
}

/*
 * gemm(heap, transA, transB, M, N, K, batch, aOffsets, bOffsets, cOffset, biasOffset, biasLen, act, alpha
 *      [, preluOffset, preluLen])
 *   C[i] (M x N, row-major, contiguous at cOffset + i*M*N*4) = op(A[i]) * op(B[i]) (+ bias) (activation)
 *   A[i] is (M x K), or (K x M) when transA; B[i] is (K x N), or (N x K) when transB; all row-major, packed.
 *   biasOffset < 0 means no bias; biasLen is N (per column) or 1 (scalar). act 3 (prelu) takes its slopes
 *   from preluOffset (preluLen N or 1), like the bias.
 */
static napi_value gemm(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 14) return throw_error(env, "hiedit_blas.gemm: expected 14 arguments");

  bool is_ab = false;
  CHECK_NAPI(napi_is_arraybuffer(env, argv[0], &is_ab));
  if (!is_ab) return throw_error(env, "hiedit_blas.gemm: heap must be an ArrayBuffer");
  void *heap_data = NULL;
  size_t heap_len = 0;
  CHECK_NAPI(napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_len));

  int trans_a, trans_b, act;
  uint32_t m, n, k, batch, c_off, bias_len, act_u;
  double bias_off_d, alpha_d;
  offsets_t a_offs, b_offs;
  if (!get_bool(env, argv[1], &trans_a) || !get_bool(env, argv[2], &trans_b))
    return throw_error(env, "hiedit_blas.gemm: transA/transB must be booleans");
  if (!get_u32(env, argv[3], &m) || !get_u32(env, argv[4], &n) || !get_u32(env, argv[5], &k) ||
      !get_u32(env, argv[6], &batch))
    return throw_error(env, "hiedit_blas.gemm: M, N, K and batch must be non-negative integers");
  if (m > 0x7fffffffu || n > 0x7fffffffu || k > 0x7fffffffu)
    return throw_error(env, "hiedit_blas.gemm: a dimension exceeds the BLAS integer range");
  if (!get_offsets(env, argv[7], batch, &a_offs) || !get_offsets(env, argv[8], batch, &b_offs))
    return throw_error(env, "hiedit_blas.gemm: aOffsets/bOffsets must be a byte offset or a Uint32Array of length >= batch");
  if (!get_u32(env, argv[9], &c_off)) return throw_error(env, "hiedit_blas.gemm: cOffset must be a byte offset");
  if (napi_get_value_double(env, argv[10], &bias_off_d) != napi_ok || !get_u32(env, argv[11], &bias_len) ||
      !get_u32(env, argv[12], &act_u) || napi_get_value_double(env, argv[13], &alpha_d) != napi_ok)
    return throw_error(env, "hiedit_blas.gemm: bad bias/activation arguments");
  act = (int)act_u;
  if (act > MAX_ACT) return throw_error(env, "hiedit_blas.gemm: unsupported activation code");

  const uint64_t len = heap_len;
  const uint64_t a_elems = (uint64_t)m * k, b_elems = (uint64_t)k * n, c_elems = (uint64_t)m * n;
  uint64_t c_total;
  if (__builtin_mul_overflow(c_elems, (uint64_t)batch, &c_total) || !in_bounds(c_off, c_total, len))
    return throw_error(env, "hiedit_blas.gemm: output out of heap bounds");
  for (uint32_t i = 0; i < batch; i++) {
    if (!in_bounds(offset_at(&a_offs, i), a_elems, len) || !in_bounds(offset_at(&b_offs, i), b_elems, len))
      return throw_error(env, "hiedit_blas.gemm: operand out of heap bounds");
  }
  const float *bias = NULL;
  if (bias_off_d >= 0) {
    if (bias_len != 1 && bias_len != n) return throw_error(env, "hiedit_blas.gemm: biasLen must be 1 or N");
    if (bias_off_d != floor(bias_off_d) || !in_bounds((uint64_t)bias_off_d, bias_len, len))
      return throw_error(env, "hiedit_blas.gemm: bias out of heap bounds");
    bias = (const float *)((char *)heap_data + (uint64_t)bias_off_d);
  }

  const float *prelu = NULL;
  uint32_t prelu_len = 0;
  if (act == ACT_PRELU) {
    double prelu_off_d = -1;
    if (argc < 16 || napi_get_value_double(env, argv[14], &prelu_off_d) != napi_ok || !get_u32(env, argv[15], &prelu_len))
      return throw_error(env, "hiedit_blas.gemm: prelu needs preluOffset and preluLen");
    if (prelu_len != 1 && prelu_len != n) return throw_error(env, "hiedit_blas.gemm: preluLen must be 1 or N");
    if (!(prelu_off_d >= 0) || prelu_off_d != floor(prelu_off_d) || !in_bounds((uint64_t)prelu_off_d, prelu_len, len))
      return throw_error(env, "hiedit_blas.gemm: prelu weights out of heap bounds");
    prelu = (const float *)((char *)heap_data + (uint64_t)prelu_off_d);
  }

  char *base = (char *)heap_data;
  const int no_gemv = no_gemv_requested();
  const int lda = trans_a ? (int)m : (int)k;
  const int ldb = trans_b ? (int)k : (int)n;
  for (uint32_t i = 0; i < batch; i++) {
    float *c = (float *)(base + c_off) + c_elems * i;
    if (c_elems == 0) continue;
    if (k == 0) {
      /* Some BLAS builds leave C untouched when K == 0; the product of empty matrices is zero. */
      memset(c, 0, c_elems * sizeof(float));
    } else {
      const float *a = (const float *)(base + offset_at(&a_offs, i));
      const float *b = (const float *)(base + offset_at(&b_offs, i));
      /* A bias is written into C first and BLAS adds the product to it (beta = 1), as PyTorch's addmm does:
       * one pass over C less than adding it afterwards. */
      float beta = 0.0f;
      if (bias != NULL) {
        for (uint32_t r = 0; r < m; r++) {
          float *row = c + (uint64_t)r * n;
          if (bias_len == 1)
            for (uint32_t j = 0; j < n; j++) row[j] = bias[0];
          else
            memcpy(row, bias, (size_t)n * sizeof(float));
        }
        beta = 1.0f;
      }
      if (!trans_a && hiedit_gemm_small(trans_b, (int)m, (int)n, (int)k, a, b, c, beta != 0.0f)) {
        /* Small M (tokens x weights): hiedit_gemm.c's kernel did C (+)= A op(B); it declines other shapes. */
      } else if (m == 1 && !no_gemv) {
        /* One row (a decode step): a matrix-vector product is memory-bound and sgemv streams B once, where
         * sgemm (OpenBLAS 0.3.21) packs it first. A 1 x K row, or a K x 1 column when transA, is
         * contiguous either way, so the vector stride is 1. */
        if (trans_b)
          cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, 1.0f, b, (int)k, a, 1, beta, c, 1);
        else
          cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, 1.0f, b, (int)n, a, 1, beta, c, 1);
      } else
      cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m,
                  (int)n, (int)k, 1.0f, a, lda > 0 ? lda : 1, b, ldb > 0 ? ldb : 1, beta, c, n > 0 ? (int)n : 1);
      if (act != ACT_LINEAR) apply_epilogue(c, m, n, NULL, 0, act, (float)alpha_d, prelu, prelu_len);
      continue;
    }
    /* K == 0: C is zero, so the epilogue is the bias and the activation. */
    if (bias != NULL || act != ACT_LINEAR) apply_epilogue(c, m, n, bias, bias_len, act, (float)alpha_d, prelu, prelu_len);
  }
  return NULL;
}

#ifdef HIEDIT_OPENBLAS
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);
#endif

/* info(): which BLAS this build links and how many threads it uses. */
static napi_value blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  CHECK_NAPI(napi_create_object(env, &obj));
#if defined(HIEDIT_ACCELERATE)
  CHECK_NAPI(napi_create_string_utf8(env, "Accelerate", NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "blas", v));
  CHECK_NAPI(napi_get_undefined(env, &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "threads", v));
#elif defined(HIEDIT_OPENBLAS)
  char buf[256];
  snprintf(buf, sizeof buf, "%s", openblas_get_config());
  CHECK_NAPI(napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "blas", v));
  CHECK_NAPI(napi_create_int32(env, openblas_get_num_threads(), &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "threads", v));
  CHECK_NAPI(napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "core", v));
#else
  CHECK_NAPI(napi_create_string_utf8(env, "cblas", NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "blas", v));
  CHECK_NAPI(napi_get_undefined(env, &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "threads", v));
#endif
  return obj;
}

/* setThreads(n): returns true when the BLAS lets us change its thread count. */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], res;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t nt = 0;
  if (argc < 1 || !get_u32(env, argv[0], &nt) || nt == 0)
    return throw_error(env, "hiedit_blas.setThreads: expected a positive integer");
#if defined(HIEDIT_OPENBLAS)
  openblas_set_num_threads((int)nt);
  CHECK_NAPI(napi_get_boolean(env, true, &res));
#else
  CHECK_NAPI(napi_get_boolean(env, false, &res));
#endif
  return res;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, blas_info, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (!hiedit_fused_define(env, exports)) return NULL;
  if (!hiedit_attention_define(env, exports)) return NULL;
  if (!hiedit_gemm_define(env, exports)) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
