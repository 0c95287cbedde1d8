#!/usr/bin/env node
'use strict';
// Runs gemma2-fused-ab.ts from the TypeScript sources (the perf suite's require hook, no build needed).
// Usage: node tools/gemma2-fused-ab.js [reps=15] [T=32]
require('./perf/src/ts-hook').runTsMain('gemma2-fused-ab', require('path').join(__dirname, 'gemma2-fused-ab.ts'));
