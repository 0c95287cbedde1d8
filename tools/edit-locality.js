#!/usr/bin/env node
'use strict';
// Runs edit-locality.ts from the TypeScript sources (the perf suite's require hook, no build needed).
// Usage: node tools/edit-locality.js [worldSeed=1] [N=15]
require('./perf/src/ts-hook').runTsMain('edit-locality', require('path').join(__dirname, 'edit-locality.ts'));
