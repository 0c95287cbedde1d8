/*
 * gemmInfo() and setGemmKernel(name): which small-M GEMM kernel gemm() uses, and a switch for A/B measurements
 * and tests. The environment (HIEDIT_GEMM=blas|avx2|avx512|auto) sets the initial choice; see hiedit_gemm.c.
 */
#include "hiedit_gemm_napi.h"

#include <string.h>

#include "hiedit_gemm.h"

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "HIEDIT_GEMM", msg);
  return NULL;
}

#define CHECK(call)                                                              \
  do {                                                                           \
    if ((call) != napi_ok) return fail(env, "hiedit_gemm: N-API call failed: " #call); \
  } while (0)

/* gemmInfo(): { kernel: 'avx512' | 'avx2' | 'blas' (the one in use), threads, best: the fastest kernel this CPU can run }. */
static napi_value gemm_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  CHECK(napi_create_object(env, &obj));
  const hiedit_gemm_kernel kernel = hiedit_gemm_active();
  CHECK(napi_create_string_utf8(env, hiedit_gemm_kernel_name(kernel), NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, obj, "kernel", v));
  CHECK(napi_create_int32(env, kernel == HIEDIT_GEMM_BLAS ? 0 : hiedit_gemm_threads(), &v));
  CHECK(napi_set_named_property(env, obj, "threads", v));
  CHECK(napi_create_string_utf8(env, hiedit_gemm_kernel_name(hiedit_gemm_best()), NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, obj, "best", v));
  return obj;
}

/* setGemmKernel(name): 'blas' | 'avx2' | 'avx512' | 'auto'. Returns false (and changes nothing) when this CPU or
 * build cannot run that kernel; throws on an unknown name. */
static napi_value set_gemm_kernel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], res;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[16];
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok)
    return fail(env, "hiedit_gemm.setGemmKernel: expected a kernel name ('blas', 'avx2', 'avx512' or 'auto')");
  hiedit_gemm_kernel kernel;
  if (strcmp(name, "blas") == 0) kernel = HIEDIT_GEMM_BLAS;
  else if (strcmp(name, "avx2") == 0) kernel = HIEDIT_GEMM_AVX2;
  else if (strcmp(name, "avx512") == 0) kernel = HIEDIT_GEMM_AVX512;
  else if (strcmp(name, "auto") == 0) kernel = hiedit_gemm_auto();
  else return fail(env, "hiedit_gemm.setGemmKernel: unknown kernel name (expected 'blas', 'avx2', 'avx512' or 'auto')");
  CHECK(napi_get_boolean(env, hiedit_gemm_set_kernel(kernel) != 0, &res));
  return res;
}

int hiedit_gemm_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemmInfo", NULL, gemm_info, NULL, NULL, NULL, napi_default, NULL},
      {"setGemmKernel", NULL, set_gemm_kernel, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
