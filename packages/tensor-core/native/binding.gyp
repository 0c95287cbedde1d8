{
  "targets": [
    {
      "target_name": "hiedit_blas",
      "sources": ["src/hiedit_blas.c", "src/hiedit_fused.c"],
      "defines": ["<!@(node blas-config.js defines)"],
      "include_dirs": ["<!@(node blas-config.js include_dirs)"],
      "libraries": ["<!@(node blas-config.js libraries)"],
      "cflags": ["-O2", "-std=c99", "-Wall"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-std=c99"] }
    }
  ]
}
