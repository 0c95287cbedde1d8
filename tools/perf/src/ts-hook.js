'use strict';
// A tiny esbuild-based require hook that runs the repository's TypeScript sources without a build: `@hiedit/<pkg>`
// resolves to packages/<pkg>/src/index.ts and extension-less relative imports of .ts files resolve to the file.
// Each .ts file is transpiled on its own, which keeps __dirname right for files that locate assets (tensor-core
// finds its native addon and tfjs-backend-wasm its .wasm files relative to themselves). Used by `npm run bench`
// (launch.js) and by tools that measure the sources (tools/gemm-forward-ab.js).
const fs = require('fs');
const path = require('path');
const Module = require('module');

/** The repository root (this file is tools/perf/src/ts-hook.js). */
const REPO = path.resolve(__dirname, '..', '..', '..');

/** Installs the hook once; `what` names the caller in the error printed when esbuild is missing. */
function installTsHook(what) {
  if (require.extensions['.ts']) return;
  let esbuild;
  try {
    esbuild = require(require.resolve('esbuild', { paths: [REPO] }));
  } catch {
    process.stderr.write(`${what}: esbuild is needed to run the TypeScript sources (npm ci installs it)\n`);
    process.exit(1);
  }
  const origResolve = Module._resolveFilename;
  Module._resolveFilename = function resolve(request, parent, ...rest) {
    const m = /^@hiedit\/([a-z-]+)$/.exec(request);
    if (m) {
      const src = path.join(REPO, 'packages', m[1], 'src', 'index.ts');
      if (fs.existsSync(src)) return src;
    }
    if ((request.startsWith('.') || path.isAbsolute(request)) && parent && parent.filename && parent.filename.endsWith('.ts')) {
      const base = path.resolve(path.dirname(parent.filename), request);
      for (const cand of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(cand)) return cand;
    }
    return origResolve.call(this, request, parent, ...rest);
  };
  require.extensions['.ts'] = function compileTs(module, filename) {
    const source = fs.readFileSync(filename, 'utf8');
    const { code } = esbuild.transformSync(source, { loader: 'ts', format: 'cjs', target: 'node20', sourcemap: 'inline', sourcefile: filename });
    module._compile(code, filename);
  };
}

/**
 * Runs `main(argv)` of the TypeScript module `file` under the hook: a numeric result becomes the exit code, an error
 * is printed as `what: <stack>` with exit code 1. The shared body of the TypeScript launchers (bench, tools).
 */
function runTsMain(what, file, argv = process.argv.slice(2)) {
  installTsHook(what);
  Promise.resolve()
    .then(() => require(file).main(argv))
    .then((code) => {
      if (typeof code === 'number') process.exitCode = code;
    })
    .catch((e) => {
      process.stderr.write(`${what}: ${e && e.stack ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    });
}

module.exports = { installTsHook, runTsMain, REPO };
