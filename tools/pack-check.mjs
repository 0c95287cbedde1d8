#!/usr/bin/env node
// Each package installs and works alone: packs every package with `npm pack`, installs each tarball with
// the tarballs of its @hiedit dependencies (and the tfjs peers from the npm registry or cache) into an empty
// project outside the workspace, runs the README's quick start as a program, and checks that
// `npm publish --dry-run` is clean. The README is the source of the program: the first ```js block under
// "## Quick start" is written to quick-start.mjs unchanged, so what users copy is what this runs.
//
// Only @hiedit/tensor-core's own project builds the native accelerator; the others install with
// HIEDIT_ACCELERATOR=off (the install-time opt-out of native/build.js), and the editor's project then checks
// that `hiedit doctor` says the accelerator is off, why, and how to get it, and that `hiedit serve` runs from the
// installed tarballs (fastify resolved as the editor's own dependency, the page bundled at build time shipped).
//
// usage: node tools/pack-check.mjs [--keep] [--only NAME[,NAME]]   (run `npm ci` first: it builds dist/)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = ['tensor-core', 'llm-loader', 'rl-hierarchy', 'editor', 'benchmarks'];
const NATIVE_BUILD_IN = new Set(['tensor-core']);
const STEP_TIMEOUT_MS = 10 * 60 * 1000;
// Build outputs a package reads at run time besides its modules: absent from the tarball, the feature breaks on npm.
const RUNTIME_ASSETS = { editor: ['dist/serve/page.html'] };

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set(String(args[onlyAt + 1] ?? '').split(',').filter(Boolean)) : undefined;
if (only) {
  for (const name of only) if (!PACKAGES.includes(name)) fail(`--only: unknown package ${name} (one of ${PACKAGES.join(', ')})`);
}

function fail(message) {
  process.stderr.write(`pack-check: ${message}\n`);
  process.exit(1);
}

function log(line) {
  process.stdout.write(`pack-check: ${line}\n`);
}

// The environment of a child npm/node: without the npm_* variables of an enclosing `npm run`, which would
// otherwise point the child at the workspace (its prefix, its workspaces) and hide a missing dependency.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'HIEDIT_ACCELERATOR') env[k] = v;
  }
  return { ...env, NX_DAEMON: 'false', ...extra };
}

function run(cmd, argv, cwd, what, env = cleanEnv()) {
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { cwd, env, encoding: 'utf8', timeout: STEP_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  const seconds = (Date.now() - t0) / 1000;
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`.trim();
    fail(`${what} failed (exit ${r.status ?? r.signal}) in ${cwd}:\n${out.split('\n').slice(-40).join('\n')}`);
  }
  return { stdout: r.stdout, stderr: r.stderr, seconds };
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** The first ```js block of the README's "## Quick start" section, verbatim. */
export function quickStart(readme, source) {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start\n'));
  if (!section) throw new Error(`${source}: no "## Quick start" section`);
  const m = section.match(/^```js\n([\s\S]*?)^```$/m);
  if (!m) throw new Error(`${source}: the Quick start section has no \`\`\`js block`);
  return m[1];
}

/** The @hiedit packages `name` depends on, directly or not, in dependency order. */
function hieditClosure(name, manifests) {
  const out = [];
  const visit = (n) => {
    for (const dep of Object.keys(manifests.get(n).dependencies ?? {})) {
      if (!dep.startsWith('@hiedit/')) continue;
      const short = dep.slice('@hiedit/'.length);
      if (!manifests.has(short)) fail(`${n} depends on ${dep}, which is not a package of this workspace`);
      if (!out.includes(short)) {
        visit(short);
        out.push(short);
      }
    }
  };
  visit(name);
  return out;
}

function checkManifest(name, manifest, packed) {
  const problems = [];
  for (const field of ['license', 'repository', 'homepage', 'bugs', 'keywords', 'engines', 'exports', 'files']) {
    if (manifest[field] === undefined) problems.push(`no "${field}"`);
  }
  for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
    if (dep.startsWith('@hiedit/') && !/^\^\d/.test(range)) problems.push(`${dep} is "${range}", not a caret range`);
    if (dep.startsWith('@tensorflow/')) problems.push(`${dep} is a dependency; tfjs and its backends are peers`);
  }
  const files = new Set(packed.files.map((f) => f.path));
  for (const must of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', ...(RUNTIME_ASSETS[name] ?? [])]) {
    if (!files.has(must)) problems.push(`the tarball lacks ${must}`);
  }
  for (const f of files) {
    if (/\.test\.(js|d\.ts)$/.test(f)) problems.push(`the tarball ships a test: ${f}`);
    if (f.endsWith('.map')) problems.push(`the tarball ships a source map of sources it does not ship: ${f}`);
    // A module left in dist/ by an earlier build of since-removed sources would be published too.
    const src = /^dist\/(.*)\.js$/.exec(f);
    if (src && !fs.existsSync(path.join(ROOT, 'packages', name, 'src', `${src[1]}.ts`))) problems.push(`${f} has no source (a stale build?)`);
  }
  for (const bin of Object.values(manifest.bin ?? {})) if (!files.has(bin.replace(/^\.\//, ''))) problems.push(`bin ${bin} is not in the tarball`);
  const readme = fs.readFileSync(path.join(ROOT, 'packages', name, 'README.md'), 'utf8');
  for (const m of readme.matchAll(/\]\((?!https?:|#)([^)]+)\)/g)) problems.push(`README links to ${m[1]}, which does not exist on npm`);
  if (problems.length) fail(`@hiedit/${name}: ${problems.join('; ')}`);
}

function pack(name, dest) {
  const dir = path.join(ROOT, 'packages', name);
  const { stdout } = run('npm', ['pack', '--json', '--pack-destination', dest], dir, `npm pack (${name})`);
  const info = JSON.parse(stdout)[0];
  return { file: path.join(dest, info.filename), info };
}

function publishDryRun(name) {
  const dir = path.join(ROOT, 'packages', name);
  const { stderr } = run('npm', ['publish', '--dry-run', '--ignore-scripts'], dir, `npm publish --dry-run (${name})`);
  // npm reports manifest fixes ("bin[...] script name was cleaned", "repository.url was normalized") as warnings.
  const warnings = stderr.split('\n').filter((l) => /^npm (warn|WARN|error|ERR)/.test(l) && !/This command requires you to be logged in|--dry-run/.test(l));
  if (warnings.length) fail(`npm publish --dry-run (${name}) is not clean:\n${warnings.join('\n')}`);
}

function installAlone(name, tarballs, work) {
  const dir = path.join(work, `use-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `use-${name}`, private: true, version: '1.0.0' }, null, 2));
  const native = NATIVE_BUILD_IN.has(name);
  const env = cleanEnv(native ? {} : { HIEDIT_ACCELERATOR: 'off' });
  const r = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', ...tarballs], dir,
    `npm install (${name})`, env);
  for (const dep of fs.readdirSync(path.join(dir, 'node_modules', '@hiedit'))) {
    const p = path.join(dir, 'node_modules', '@hiedit', dep);
    if (fs.lstatSync(p).isSymbolicLink()) fail(`${name}: node_modules/@hiedit/${dep} is a link, not an installed tarball`);
  }
  const buildLine = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => l.includes('@hiedit/tensor-core: native accelerator'));
  return { dir, seconds: r.seconds, buildLine: buildLine?.trim() ?? '(native/build.js printed nothing)' };
}

/** The packages the Quick start's `npm install` line names. */
function installLine(readme, source) {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start\n')) ?? '';
  const m = /^npm install ([^#\n]*)/m.exec(section);
  if (!m) throw new Error(`${source}: the Quick start section has no npm install line`);
  return m[1].trim().split(/\s+/);
}

function runQuickStart(name, dir) {
  const readmeFile = path.join(dir, 'node_modules', '@hiedit', name, 'README.md');
  const readme = fs.readFileSync(readmeFile, 'utf8');
  const program = quickStart(readme, readmeFile);
  // Whatever the program imports, the install line must name: a transitive dependency is not the user's to import.
  const installs = installLine(readme, readmeFile);
  for (const m of program.matchAll(/from '(@hiedit\/[a-z-]+)'/g)) {
    if (!installs.includes(m[1])) fail(`${readmeFile}: the quick start imports ${m[1]}, which its npm install line does not name`);
  }
  fs.writeFileSync(path.join(dir, 'quick-start.mjs'), program);
  return run(process.execPath, ['quick-start.mjs'], dir, `the README quick start of @hiedit/${name}`);
}

function runBins(name, dir) {
  const manifest = readJson(path.join(dir, 'node_modules', '@hiedit', name, 'package.json'));
  for (const bin of Object.keys(manifest.bin ?? {})) {
    run(path.join(dir, 'node_modules', '.bin', bin), ['--help'], dir, `${bin} --help (${name})`);
  }
}

// The editor's project was installed without the native build: doctor must say the accelerator is off,
// why (the install-time reason native/build.js recorded) and how to get it.
function checkDoctorWithoutNative(dir) {
  const { stdout } = run(path.join(dir, 'node_modules', '.bin', 'hiedit'), ['doctor'], dir, 'hiedit doctor');
  const line = stdout.split('\n').find((l) => l.startsWith('accelerator:')) ?? '';
  const says = ['inactive', 'HIEDIT_ACCELERATOR=off', 'npm rebuild @hiedit/tensor-core', 'libopenblas-dev'];
  const missing = says.filter((s) => !line.includes(s));
  if (missing.length) fail(`hiedit doctor without the native build does not say ${missing.join(', ')}:\n${stdout}`);
  return line;
}

// Run in the editor's installed project: a tiny model and an ft editor (no training) made with the installed
// packages, `hiedit serve --port 0` from node_modules/.bin, then the page, health and one generation over HTTP.
const SERVE_CHECK = `import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildWordLevelTokenizer, createTinyCheckpoint, loadModel, writeTokenizerFiles } from '@hiedit/llm-loader';
import { createEditor, defaultEditModules, saveEditorDir } from '@hiedit/editor';

const dir = fs.mkdtempSync(path.join(process.cwd(), 'serve-'));
const modelDir = path.join(dir, 'model');
const editorDir = path.join(dir, 'editor');
await createTinyCheckpoint(modelDir, { architecture: 'gpt2', seed: 5, config: { bos_token_id: 1, eos_token_id: 2 } });
writeTokenizerFiles(modelDir, buildWordLevelTokenizer({ words: ['Alice', 'plays', 'the', 'violin', 'piano'] }));
const model = await loadModel(modelDir);
const editor = createEditor('ft', model, defaultEditModules(model), {});
saveEditorDir(editorDir, editor, model);
editor.dispose();
model.dispose();

const child = spawn(path.join('node_modules', '.bin', 'hiedit'),
  ['serve', '--model', modelDir, '--editor', editorDir, '--journal', path.join(dir, 'edits.hjournal'), '--port', '0'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
let err = '';
child.stderr.on('data', (d) => { err += d; });
const exited = new Promise((resolve) => child.once('exit', resolve));
try {
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no "listening on" line within 120 s; stderr:\\n' + err)), 120000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\\/\\/[^/\\s]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exited.then((code) => { clearTimeout(timer); reject(new Error('hiedit serve exited (' + code + ') before listening; stderr:\\n' + err)); });
  });
  const page = await fetch(base + '/');
  const html = await page.text();
  if (page.status !== 200 || !/<html/i.test(html)) throw new Error('GET / answered ' + page.status + ': ' + html.slice(0, 300));
  const health = await (await fetch(base + '/api/health')).json();
  if (health.status !== 'ok') throw new Error('GET /api/health answered ' + JSON.stringify(health));
  const gen = await fetch(base + '/api/generate', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'Alice plays the', max_new_tokens: 2 }) });
  const answer = await gen.json();
  if (gen.status !== 200 || !Array.isArray(answer.ids) || answer.ids.length !== 2) {
    throw new Error('POST /api/generate answered ' + gen.status + ': ' + JSON.stringify(answer));
  }
  console.log('page ' + html.length + ' bytes, health ok, generate -> ' + JSON.stringify(answer.text));
} finally {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited;
  fs.rmSync(dir, { recursive: true, force: true });
}
`;

// `hiedit serve` from the editor's installed project: fastify and the built page must come with the tarball.
function checkServe(dir) {
  fs.writeFileSync(path.join(dir, 'serve-check.mjs'), SERVE_CHECK);
  const r = run(process.execPath, ['serve-check.mjs'], dir, 'hiedit serve from the installed editor');
  return { line: r.stdout.trim().split('\n').pop(), seconds: r.seconds };
}

function main() {
  const t0 = Date.now();
  const names = PACKAGES.filter((n) => !only || only.has(n));
  const manifests = new Map(PACKAGES.map((n) => [n, readJson(path.join(ROOT, 'packages', n, 'package.json'))]));
  for (const n of PACKAGES) {
    if (!fs.existsSync(path.join(ROOT, 'packages', n, 'dist', 'index.js'))) fail(`packages/${n}/dist is missing: run npm ci (it builds) first`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-pack-check-'));
  try {
    const tarDir = path.join(work, 'tarballs');
    fs.mkdirSync(tarDir);
    const tarballs = new Map();
    for (const n of PACKAGES) {
      const { file, info } = pack(n, tarDir);
      checkManifest(n, manifests.get(n), info);
      publishDryRun(n);
      tarballs.set(n, file);
      log(`@hiedit/${n}: packed ${path.basename(file)} (${info.entryCount} files, ${(info.size / 1024).toFixed(0)} kB); publish --dry-run clean`);
    }
    for (const n of names) {
      const wanted = [...hieditClosure(n, manifests), n].map((d) => tarballs.get(d));
      const installed = installAlone(n, wanted, work);
      log(`@hiedit/${n}: installed alone with ${wanted.length - 1} @hiedit dependencies in ${installed.seconds.toFixed(1)} s; ${installed.buildLine}`);
      const qs = runQuickStart(n, installed.dir);
      const shown = qs.stdout.trim().split('\n').slice(-3).join(' | ');
      log(`@hiedit/${n}: README quick start ran in ${qs.seconds.toFixed(1)} s: ${shown}`);
      runBins(n, installed.dir);
      if (n === 'editor') {
        log(`@hiedit/editor without the native build: hiedit doctor says "${checkDoctorWithoutNative(installed.dir)}"`);
        const served = checkServe(installed.dir);
        log(`@hiedit/editor: hiedit serve from the installed tarballs in ${served.seconds.toFixed(1)} s: ${served.line}`);
      }
    }
    log(`all ${names.length} packages install alone and run their quick start (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  } finally {
    if (keep) log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
