#!/usr/bin/env node
'use strict';
// Runs gate-prior-sweep.ts from the TypeScript sources (the perf suite's require hook, no build needed).
// Usage: node tools/gate-prior-sweep.js RUN_DIR W1,W2,... [EDITOR_NAME]
require('./perf/src/ts-hook').runTsMain('gate-prior-sweep', require('path').join(__dirname, 'gate-prior-sweep.ts'));
