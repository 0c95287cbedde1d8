#!/usr/bin/env node
'use strict';
// Entry of `npm run bench`: runs the TypeScript perf suite straight from the sources of every package (ts-hook.js),
// so a benchmark never measures a stale dist/ build.
require('./ts-hook').installTsHook('bench');

require('./main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((e) => {
    process.stderr.write(`bench: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
