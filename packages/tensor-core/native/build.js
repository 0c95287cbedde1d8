#!/usr/bin/env node
'use strict';
// Builds the optional native accelerator (hiedit_blas.node) at install time.
// Contract: this script NEVER fails the install. Whatever goes wrong, it prints one line saying why the
// accelerator is not available and exits 0; the library then runs on the stock wasm kernels.
// Full compiler output goes to native/build.log.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { findBlas } = require('./blas-config');

const here = __dirname;
const addonPath = path.join(here, 'build', 'Release', 'hiedit_blas.node');
const logPath = path.join(here, 'build.log');
const PREFIX = '@hiedit/tensor-core:';

function say(line) {
  process.stdout.write(`${PREFIX} ${line}\n`);
}

// What this install decided, for `hiedit doctor` to repeat later: the reason printed here scrolls away with the
// npm output, and "not built" alone does not say whether a compiler, OpenBLAS or an opt-out was the cause.
const statusPath = path.join(here, 'build', 'install-status.json');

function record(built, line) {
  try {
    fs.mkdirSync(path.dirname(statusPath), { recursive: true });
    const tmp = `${statusPath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ built, line, at: new Date().toISOString() }) + '\n');
    fs.renameSync(tmp, statusPath);
  } catch {
    // The status is a convenience; a read-only install directory must not turn into a failure.
  }
}

function notBuilt(line) {
  say(line);
  record(false, line);
}

function onPath(cmd) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', '.bat', ''] : [''];
  return dirs.some((d) => exts.some((e) => {
    try {
      fs.accessSync(path.join(d, cmd + e), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }));
}

function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return fromNpm;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [here, process.cwd()] });
  } catch {
    return undefined;
  }
}

// node-gyp otherwise downloads headers, which fails offline; use the running Node's own headers when present.
function localNodeDir() {
  if (process.env.npm_config_nodedir) return undefined;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

// Load the fresh addon in a child process and multiply two 2x2 matrices: a build that links but cannot run
// (wrong BLAS ABI, missing shared library at runtime) must not be left in place to be picked up later.
function smokeTest() {
  const code = `
    const m = require(${JSON.stringify(addonPath)});
    const buf = new ArrayBuffer(64); const f = new Float32Array(buf);
    f.set([1, 2, 3, 4], 0); f.set([5, 6, 7, 8], 4);
    m.gemm(buf, false, false, 2, 2, 2, 1, 0, 16, 32, -1, 0, 0, 0);
    const want = [19, 22, 43, 50];
    for (let i = 0; i < 4; i++) if (f[8 + i] !== want[i]) throw new Error('wrong product ' + Array.from(f.slice(8, 12)));
    process.stdout.write(m.info().blas);`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) return { ok: false, reason: (r.stderr || 'smoke test failed').trim().split('\n').pop() };
  return { ok: true, blas: r.stdout.trim() };
}

function main() {
  const flag = (process.env.HIEDIT_ACCELERATOR || '').toLowerCase();
  if (flag === 'off' || flag === '0' || flag === 'false') {
    return notBuilt('native accelerator not built: HIEDIT_ACCELERATOR=off was set at install; using the wasm kernels.');
  }
  const blas = findBlas();
  if (!blas.ok) return notBuilt(`native accelerator not built: ${blas.reason}; using the wasm kernels.`);
  const cc = process.env.CC || ['cc', 'gcc', 'clang'].find(onPath);
  if (!cc || (process.env.CC && !onPath(process.env.CC) && !fs.existsSync(process.env.CC))) {
    return notBuilt('native accelerator not built: no C compiler found (cc/gcc/clang); using the wasm kernels.');
  }
  if (process.platform !== 'win32' && !onPath('make')) {
    return notBuilt('native accelerator not built: `make` not found; using the wasm kernels.');
  }
  if (!['python3', 'python'].some(onPath) && !process.env.npm_config_python && !process.env.PYTHON) {
    return notBuilt('native accelerator not built: node-gyp needs python3, which was not found; using the wasm kernels.');
  }
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) return notBuilt('native accelerator not built: node-gyp not found; using the wasm kernels.');

  const args = [nodeGyp, 'rebuild'];
  const nodedir = localNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8', timeout: 10 * 60 * 1000 });
  try {
    fs.writeFileSync(logPath, `$ node ${args.join(' ')}\n${r.stdout || ''}\n${r.stderr || ''}\n${r.error ? String(r.error) : ''}`);
  } catch {
    // The log is a convenience; a read-only install directory must not turn into a failure.
  }
  if (r.status !== 0 || !fs.existsSync(addonPath)) {
    const lines = `${r.stderr || ''}\n${r.error ? String(r.error) : ''}`.split('\n').map((l) => l.trim());
    const first = lines.find((l) => /error/i.test(l) && !/gyp ERR! (stack|cwd|node -v|node-gyp -v|System|command|not ok)/.test(l));
    return notBuilt(`native accelerator not built: node-gyp failed${first ? ` (${first.slice(0, 160)})` : ''}; see ${logPath}; using the wasm kernels.`);
  }
  const smoke = smokeTest();
  if (!smoke.ok) {
    try {
      fs.rmSync(addonPath, { force: true });
    } catch {
      // Leaving it is harmless: the runtime loader runs its own check before activating.
    }
    return notBuilt(`native accelerator built but unusable (${smoke.reason}); using the wasm kernels.`);
  }
  const line = `native accelerator built (${smoke.blas.slice(0, 80)}).`;
  say(line);
  record(true, line);
}

try {
  main();
} catch (e) {
  notBuilt(`native accelerator not built: ${e && e.message ? e.message : String(e)}; using the wasm kernels.`);
}
process.exitCode = 0;
