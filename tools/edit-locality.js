#!/usr/bin/env node
'use strict';
// Runs edit-locality.ts from the TypeScript sources (the perf suite's require hook, no build needed).
// Usage: node tools/edit-locality.js [worldSeed=1] [N=15]
require('../packages/benchmarks/src/perf/ts-hook').installTsHook('edit-locality');

require('./edit-locality.ts')
  .main(process.argv.slice(2))
  .catch((e) => {
    process.stderr.write(`edit-locality: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
