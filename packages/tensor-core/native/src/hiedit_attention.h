/* The fused attention kernels (hiedit_attention.c), added to the addon's exports by init(). */
#ifndef HIEDIT_ATTENTION_H
#define HIEDIT_ATTENTION_H
#include <node_api.h>

/* Defines attention and attentionGrad on `exports`. Returns 1 on success. */
int hiedit_attention_define(napi_env env, napi_value exports);

#endif
