#!/usr/bin/env node
'use strict';
// Entry of `npm run bench`: runs the TypeScript perf suite straight from the sources of every package
// (a tiny esbuild-based require hook), so a benchmark never measures a stale dist/ build.
// Each .ts file is transpiled on its own, which keeps __dirname right for files that locate assets
// (tensor-core finds its native addon and tfjs-backend-wasm its .wasm files relative to themselves).
const fs = require('fs');
const path = require('path');
const Module = require('module');

const repo = path.resolve(__dirname, '..', '..', '..', '..');
let esbuild;
try {
  esbuild = require(require.resolve('esbuild', { paths: [repo] }));
} catch {
  process.stderr.write('bench: esbuild is needed to run the TypeScript sources (npm ci installs it)\n');
  process.exit(1);
}

const origResolve = Module._resolveFilename;
Module._resolveFilename = function resolve(request, parent, ...rest) {
  const m = /^@hiedit\/([a-z-]+)$/.exec(request);
  if (m) {
    const src = path.join(repo, 'packages', m[1], 'src', 'index.ts');
    if (fs.existsSync(src)) return src;
  }
  // Extension-less relative imports of .ts files.
  if ((request.startsWith('.') || path.isAbsolute(request)) && parent && parent.filename && parent.filename.endsWith('.ts')) {
    const base = path.resolve(path.dirname(parent.filename), request);
    for (const cand of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(cand)) return cand;
  }
  return origResolve.call(this, request, parent, ...rest);
};

require.extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = esbuild.transformSync(source, {
    loader: 'ts',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: filename,
  });
  module._compile(code, filename);
};

require('./main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((e) => {
    process.stderr.write(`bench: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
