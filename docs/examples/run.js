#!/usr/bin/env node
/**
 * Runs a TypeScript example straight from the sources, without a build:
 *   node docs/examples/run.js docs/examples/01-load-and-forward.ts [args...]
 * .ts files are transpiled on the fly with the repository's TypeScript, and `@hiedit/<pkg>` imports
 * resolve to packages/<pkg>/src/index.ts, the same mapping the tests use.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');
const ts = require('typescript');

const ROOT = path.resolve(__dirname, '../..');

const originalResolve = Module._resolveFilename;
Module._resolveFilename = function resolve(request, parent, ...rest) {
  const m = /^@hiedit\/([a-z-]+)$/.exec(request);
  if (m) {
    const src = path.join(ROOT, 'packages', m[1], 'src', 'index.ts');
    if (fs.existsSync(src)) return src;
  }
  return originalResolve.call(this, request, parent, ...rest);
};

require.extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      sourceMap: false,
      inlineSourceMap: true,
    },
  });
  module._compile(outputText, filename);
};

const [script, ...args] = process.argv.slice(2);
if (!script) {
  process.stderr.write('usage: node docs/examples/run.js EXAMPLE.ts [args...]\n');
  process.exit(2);
}
process.argv = [process.argv[0], path.resolve(script), ...args];
const mod = require(path.resolve(script));
if (typeof mod.main !== 'function') {
  process.stderr.write(`${script} does not export main()\n`);
  process.exit(2);
}
Promise.resolve(mod.main(args)).then(
  (code) => { process.exitCode = typeof code === 'number' ? code : 0; },
  (err) => { process.stderr.write(`${err && err.stack ? err.stack : err}\n`); process.exitCode = 1; },
);
