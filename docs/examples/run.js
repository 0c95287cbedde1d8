#!/usr/bin/env node
/**
 * Runs a TypeScript example straight from the sources, without a build:
 *   node docs/examples/run.js docs/examples/01-load-and-forward.ts [args...]
 *   node docs/examples/run.js --all        (every numbered example, in order)
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

/** Loads an example and runs its exported main(args). */
async function runExample(script, args) {
  const file = path.resolve(script);
  const mod = require(file);
  if (typeof mod.main !== 'function') throw new Error(`${script} does not export main()`);
  const code = await mod.main(args);
  return typeof code === 'number' ? code : 0;
}

async function cli(argv) {
  const [script, ...args] = argv;
  if (!script) {
    process.stderr.write('usage: node docs/examples/run.js EXAMPLE.ts [args...] | --all\n');
    return 2;
  }
  if (script === '--all') {
    // Every numbered example in order, in this one process (tfjs loads once).
    const all = fs.readdirSync(__dirname).filter((f) => /^\d\d-.*\.ts$/.test(f)).sort();
    for (const f of all) {
      process.stdout.write(`== ${f}\n`);
      const code = await runExample(path.join(__dirname, f), []);
      if (code !== 0) return code;
    }
    return 0;
  }
  process.argv = [process.argv[0], path.resolve(script), ...args];
  return runExample(script, args);
}

cli(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`${err && err.stack ? err.stack : err}\n`); process.exitCode = 1; },
);
