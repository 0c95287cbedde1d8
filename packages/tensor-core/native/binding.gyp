{
  "targets": [
    {
      "target_name": "hiedit_blas",
      "sources": ["src/hiedit_blas.c", "src/hiedit_fused.c", "src/hiedit_attention.c", "src/hiedit_gemm.c", "src/hiedit_gemm_napi.c"],
      "defines": ["<!@(node blas-config.js defines)"],
      "include_dirs": ["<!@(node blas-config.js include_dirs)"],
      "libraries": ["<!@(node blas-config.js libraries)", "-pthread"],
      "cflags": ["-O3", "-std=c99", "-Wall", "-pthread", "-fno-trapping-math", "-ffp-contract=off"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-std=c99", "-fno-trapping-math", "-ffp-contract=off"] }
    }
  ]
}
