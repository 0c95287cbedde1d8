#!/usr/bin/env node
'use strict';
// Runs journal-bench.ts from the TypeScript sources (the perf suite's require hook, no build needed).
// Usage: node tools/journal-bench.js [--sizes 1000,10000,100000] [--dir DIR] [--out FILE]
require('./perf/src/ts-hook').runTsMain('journal-bench', require('path').join(__dirname, 'journal-bench.ts'));
