#!/usr/bin/env node
/**
 * Bundles the page of `hiedit serve` (page/app.ts + page/style.css into page/index.html) with esbuild into one
 * self-contained HTML file, dist/serve/page.html. Run by the package build after tsc; tests call buildPageHtml().
 */
const fs = require('fs');
const path = require('path');

const PAGE_DIR = path.join(__dirname, '..', 'page');

/** The page as one HTML string: the bundled script and the stylesheet inlined. */
async function buildPageHtml() {
  const esbuild = require('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(PAGE_DIR, 'app.ts')],
    bundle: true, write: false, format: 'iife', platform: 'browser', target: 'es2020', minify: true, legalComments: 'none',
  });
  // Inside a <script> element only "</script" can end it early; the bundle holds no HTML, but user-facing strings might.
  const script = result.outputFiles[0].text.replace(/<\/(script)/gi, '<\\/$1');
  const style = fs.readFileSync(path.join(PAGE_DIR, 'style.css'), 'utf8').replace(/<\/(style)/gi, '<\\/$1');
  const template = fs.readFileSync(path.join(PAGE_DIR, 'index.html'), 'utf8');
  for (const mark of ['/*STYLE*/', '/*APP*/']) {
    if (!template.includes(mark)) throw new Error(`page/index.html: the ${mark} placeholder is missing`);
  }
  // Functions as replacements: a "$" in the bundle must not be read as a replacement pattern.
  return template.replace('/*STYLE*/', () => style).replace('/*APP*/', () => script);
}

/** Writes the page to `file` through a temporary file and a rename. */
async function writePage(file) {
  const html = await buildPageHtml();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, html);
  fs.renameSync(tmp, file);
  return html.length;
}

module.exports = { buildPageHtml, writePage };

if (require.main === module) {
  const file = path.join(__dirname, '..', 'dist', 'serve', 'page.html');
  writePage(file).then(
    (n) => process.stdout.write(`wrote ${path.relative(process.cwd(), file)} (${n} bytes)\n`),
    (e) => { process.stderr.write(`build-page: ${e.message}\n`); process.exitCode = 1; },
  );
}
