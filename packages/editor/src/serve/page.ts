/** The page served at `/`: one self-contained HTML file that the package build bundles with esbuild (scripts/build-page.js). */
import * as fs from 'fs';
import * as path from 'path';

/** File name of the built page, next to the compiled server in dist/serve/. */
export const PAGE_FILE = 'page.html';

/**
 * The built page, or undefined when the package was not built. From dist/serve it sits alongside; from the sources
 * (tests, ts-node) it is read from the package's dist/serve.
 */
export function readBuiltPage(): string | undefined {
  for (const file of [path.join(__dirname, PAGE_FILE), path.join(__dirname, '..', '..', 'dist', 'serve', PAGE_FILE)]) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  }
  return undefined;
}
