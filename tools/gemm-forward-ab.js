#!/usr/bin/env node
'use strict';
// Runs gemm-forward-ab.ts from the TypeScript sources (the perf suite's require hook, no build needed).
// Usage: node tools/gemm-forward-ab.js [gpt2|llama] [reps=15] [T=32]
require('../packages/benchmarks/src/perf/ts-hook').installTsHook('gemm-forward-ab');

require('./gemm-forward-ab.ts')
  .main(process.argv.slice(2))
  .catch((e) => {
    process.stderr.write(`gemm-forward-ab: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
