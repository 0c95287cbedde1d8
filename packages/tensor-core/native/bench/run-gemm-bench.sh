#!/usr/bin/env bash
# Builds and runs the interleaved hiedit_gemm vs OpenBLAS timing (see gemm_bench.c). Args: reps fwd_reps T.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
inc="$(node "$here/../blas-config.js" include_dirs)"
gcc -O3 -std=c99 -Wall -fno-trapping-math -ffp-contract=off -pthread ${GEMM_CFLAGS:-} ${inc:+-I$inc} \
  "$here/gemm_bench.c" "$here/../src/hiedit_gemm.c" -o "$out/gemm_bench" -lopenblas
"$out/gemm_bench" "$@"
