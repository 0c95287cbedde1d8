#!/usr/bin/env node
'use strict';
// Runs gemm-forward-ab.ts from the TypeScript sources (the perf suite's require hook, no build needed).
// Usage: node tools/gemm-forward-ab.js [gpt2|llama] [reps=15] [T=32]
require('./perf/src/ts-hook').runTsMain('gemm-forward-ab', require('path').join(__dirname, 'gemm-forward-ab.ts'));
