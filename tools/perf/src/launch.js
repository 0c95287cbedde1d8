#!/usr/bin/env node
'use strict';
// Entry of `npm run bench`: runs the TypeScript perf suite straight from the sources of every package (ts-hook.js),
// so a benchmark never measures a stale dist/ build.
require('./ts-hook').runTsMain('bench', require.resolve('./main.ts'));
