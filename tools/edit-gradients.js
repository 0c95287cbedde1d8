#!/usr/bin/env node
'use strict';
// Runs edit-gradients.ts from the TypeScript sources (the perf suite's require hook, no build needed).
// Usage: node tools/edit-gradients.js FILE N SUFFIX[,SUFFIX] LABEL=MODEL_DIR [LABEL=MODEL_DIR ...]
require('./perf/src/ts-hook').runTsMain('edit-gradients', require('path').join(__dirname, 'edit-gradients.ts'));
