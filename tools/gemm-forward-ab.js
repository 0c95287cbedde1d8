#!/usr/bin/env node
'use strict';
// Runs gemm-forward-ab.ts from the TypeScript sources (esbuild transpiles each .ts file as it is required).
// Usage: node tools/gemm-forward-ab.js [gpt2|llama] [reps=15] [T=32]
const fs = require('fs');
const path = require('path');
const Module = require('module');

const repo = path.resolve(__dirname, '..');
const esbuild = require(require.resolve('esbuild', { paths: [repo] }));
const resolve0 = Module._resolveFilename;
Module._resolveFilename = function resolve(request, parent, ...rest) {
  const pkg = /^@hiedit\/([a-z-]+)$/.exec(request);
  if (pkg) {
    const src = path.join(repo, 'packages', pkg[1], 'src', 'index.ts');
    if (fs.existsSync(src)) return src;
  }
  if ((request.startsWith('.') || path.isAbsolute(request)) && parent && parent.filename && parent.filename.endsWith('.ts')) {
    const base = path.resolve(path.dirname(parent.filename), request);
    for (const cand of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(cand)) return cand;
  }
  return resolve0.call(this, request, parent, ...rest);
};
require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = esbuild.transformSync(fs.readFileSync(filename, 'utf8'), { loader: 'ts', format: 'cjs', target: 'node20', sourcefile: filename });
  module._compile(code, filename);
};
require('./gemm-forward-ab.ts')
  .main(process.argv.slice(2))
  .catch((e) => {
    process.stderr.write(`gemm-forward-ab: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
