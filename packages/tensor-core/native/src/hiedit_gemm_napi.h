/* JS controls for the small-M GEMM (hiedit_gemm.c), added to the addon's exports by init(). */
#ifndef HIEDIT_GEMM_NAPI_H
#define HIEDIT_GEMM_NAPI_H
#include <node_api.h>

/* Defines gemmInfo and setGemmKernel on `exports`. Returns 1 on success. */
int hiedit_gemm_define(napi_env env, napi_value exports);

#endif
