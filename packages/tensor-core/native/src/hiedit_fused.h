/* The fused elementwise / normalization kernels (hiedit_fused.c), added to the addon's exports by init(). */
#ifndef HIEDIT_FUSED_H
#define HIEDIT_FUSED_H
#include <node_api.h>

/* Defines layerNorm, layerNormGrad, rmsNorm, rmsNormGrad, gelu, geluBackward, swiglu, swigluBackward, geglu, gegluBackward,
 * rope, softmaxCrossEntropy and softmaxCrossEntropyGrad on `exports`. Returns 1 on success. */
int hiedit_fused_define(napi_env env, napi_value exports);

#endif
