#!/usr/bin/env node
'use strict';
// Locates a CBLAS for the native accelerator. Used by build.js (to explain a skipped build in one line)
// and by binding.gyp (through `node blas-config.js <field>`), so both always agree on the flags.
//
// Choice: HIEDIT_BLAS=openblas|accelerate|none; otherwise Accelerate on macOS, OpenBLAS elsewhere.
// A non-standard OpenBLAS prefix can be given with OPENBLAS_HOME (expects include/ and lib/ under it).
const fs = require('fs');
const path = require('path');

function exists(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function multiarchDirs(root) {
  try {
    return fs
      .readdirSync(root)
      .filter((d) => /-linux-gnu|-linux-musl/.test(d))
      .map((d) => path.join(root, d));
  } catch {
    return [];
  }
}

/**
 * @returns {{ ok: true, blas: string, defines: string[], includeDirs: string[], libraries: string[] }
 *   | { ok: false, reason: string }}
 */
function findBlas(env = process.env, platform = process.platform) {
  const choice = (env.HIEDIT_BLAS || '').toLowerCase();
  if (choice === 'none' || choice === 'off') return { ok: false, reason: 'HIEDIT_BLAS=none' };
  if (choice && !['openblas', 'accelerate'].includes(choice)) {
    return { ok: false, reason: `HIEDIT_BLAS=${env.HIEDIT_BLAS} is not one of openblas, accelerate, none` };
  }
  if (platform === 'darwin' && choice !== 'openblas') {
    return {
      ok: true,
      blas: 'Accelerate',
      defines: ['HIEDIT_ACCELERATE'],
      includeDirs: [],
      libraries: ['$(SDKROOT)/System/Library/Frameworks/Accelerate.framework'],
    };
  }
  if (choice === 'accelerate') return { ok: false, reason: 'HIEDIT_BLAS=accelerate is only available on macOS' };

  const prefixes = [];
  if (env.OPENBLAS_HOME) prefixes.push(env.OPENBLAS_HOME);
  if (platform === 'darwin') prefixes.push('/opt/homebrew/opt/openblas', '/usr/local/opt/openblas');
  prefixes.push('/opt/OpenBLAS');
  const includeCandidates = [];
  const libCandidates = [];
  for (const p of prefixes) {
    includeCandidates.push(path.join(p, 'include'), path.join(p, 'include', 'openblas'));
    libCandidates.push(path.join(p, 'lib'), path.join(p, 'lib64'));
  }
  includeCandidates.push('/usr/include/openblas', ...multiarchDirs('/usr/include'), '/usr/include', '/usr/local/include',
    '/usr/local/include/openblas');
  libCandidates.push(...multiarchDirs('/usr/lib'), '/usr/lib64', '/usr/lib', '/usr/local/lib', '/usr/local/lib64');

  const includeDir = includeCandidates.find((d) => exists(path.join(d, 'cblas.h')));
  if (!includeDir) return { ok: false, reason: 'cblas.h not found (install libopenblas-dev / openblas-devel / brew openblas)' };
  const libExt = platform === 'darwin' ? 'dylib' : 'so';
  const libDir = libCandidates.find((d) => exists(path.join(d, `libopenblas.${libExt}`)));
  if (!libDir) return { ok: false, reason: `libopenblas.${libExt} not found (install libopenblas-dev / openblas-devel / brew openblas)` };

  const systemLib = ['/usr/lib', '/usr/lib64', ...multiarchDirs('/usr/lib')].includes(libDir);
  const libraries = systemLib ? ['-lopenblas'] : [`-L${libDir}`, `-Wl,-rpath,${libDir}`, '-lopenblas'];
  return { ok: true, blas: 'OpenBLAS', defines: ['HIEDIT_OPENBLAS'], includeDirs: [includeDir], libraries };
}

module.exports = { findBlas };

if (require.main === module) {
  const field = process.argv[2];
  const cfg = findBlas();
  if (!cfg.ok) {
    // gyp expands this output into a list; an empty list keeps a direct `node-gyp rebuild` failing at compile
    // time with the compiler's own message, which is the most useful thing it can show.
    process.stdout.write('');
  } else if (field === 'defines') process.stdout.write(cfg.defines.join(' '));
  else if (field === 'include_dirs') process.stdout.write(cfg.includeDirs.join(' '));
  else if (field === 'libraries') process.stdout.write(cfg.libraries.join(' '));
  else process.stdout.write(JSON.stringify(cfg));
}
