/// <reference lib="dom" />
/**
 * The page in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core; no browser download): open
 * it, generate, apply an edit and see the new answer, roll it back and see the old one. Skipped only when
 * /usr/bin/chromium is absent (`apt-get install -y chromium`; .ci/run installs it).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { initBackend } from '@hiedit/tensor-core';
import { writeServeFixture } from '../../test/serveFixture';
import { RunningServer, startServer } from '../../test/serveHarness';

const CHROMIUM = '/usr/bin/chromium';
const present = fs.existsSync(CHROMIUM);
if (!present) process.stderr.write(`browser test skipped: ${CHROMIUM} is absent (apt-get install -y chromium)\n`);

// The page as the package build makes it, bundled from the current sources.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildPageHtml } = require('../../scripts/build-page.js') as { buildPageHtml(): Promise<string> };

let dir: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
/** Requests the page tried to send anywhere but its server (refused). */
const elsewhere: string[] = [];

(present ? describe : describe.skip)(`the page in headless Chromium (${present ? CHROMIUM : `skipped: ${CHROMIUM} is absent`})`, () => {
  beforeAll(async () => {
    await initBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-serve-page-'));
    const fixture = await writeServeFixture(dir);
    server = await startServer(fixture, path.join(dir, 'page.hjournal'), { page: await buildPageHtml() });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 900 });
    // The page must need nothing from elsewhere.
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      if (r.url().startsWith(server.base)) return void r.continue();
      elsewhere.push(r.url());
      return void r.abort();
    });
  }, 120000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const text = (selector: string): Promise<string> => page.$eval(selector, (e) => (e.textContent ?? '').trim());
  const waitText = (selector: string, wanted: string): Promise<unknown> =>
    page.waitForFunction((s, w) => document.querySelector(s)?.textContent?.trim() === w, { timeout: 30000 }, selector, wanted);

  async function generate(prompt: string): Promise<string> {
    await page.$eval('#prompt', (e, v) => { (e as HTMLInputElement).value = v; }, prompt);
    await page.$eval('#max-new-tokens', (e) => { (e as HTMLInputElement).value = '1'; });
    await page.$eval('#generation', (e) => { e.textContent = ''; });
    await page.click('#generate');
    await page.waitForFunction(() => { const t = document.querySelector('#generation')?.textContent; return !!t && t !== '…'; }, { timeout: 30000 });
    return text('#generation');
  }

  test('generate, correct, see the answer change, roll back, see the old answer', async () => {
    const failures: string[] = [];
    page.on('pageerror', (e) => failures.push(String(e)));
    await page.goto(server.base + '/', { waitUntil: 'networkidle0' });
    expect(await text('#model-info')).toMatch(/^gpt2, 2 layers, editor ft, 0 active edit\(s\)$/);

    const before = await generate('Alice plays the');
    expect(before).not.toBe('violin');

    await page.type('#edit-prompt', 'Alice plays the');
    await page.type('#edit-target', 'violin');
    await page.click('#apply');
    await waitText('#report-after', 'violin');
    expect(await text('#report-before')).toBe(before);
    expect(await text('#report-id')).toBe('e1');
    expect(await text('#report-modules')).toBe('h.0.mlp.c_proj, h.1.mlp.c_proj');
    await page.waitForSelector('button.rollback[data-id="e1"]');
    expect(await generate('Alice plays the')).toBe('violin');

    // One edit in detail: before / after on its prompt and the modules it touched.
    await page.click('#edits tr[data-id="e1"] td');
    await waitText('#detail-now', 'violin');
    expect(await text('#detail-before')).toBe(before);
    expect(await text('#detail-after')).toBe('violin');
    expect(await page.$$eval('#detail-modules li', (li) => li.map((x) => x.textContent))).toEqual([
      expect.stringMatching(/^h\.0\.mlp\.c_proj: \|ΔW\| /), expect.stringMatching(/^h\.1\.mlp\.c_proj: \|ΔW\| /)]);
    const shot = process.env.HIEDIT_SERVE_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot as `${string}.png`, fullPage: true });

    await page.click('button.rollback[data-id="e1"]');
    await page.waitForSelector('#edits tr.rolled-back[data-id="e1"]');
    await waitText('#detail-now', before);
    expect(await generate('Alice plays the')).toBe(before);
    expect(await text('#model-info')).toMatch(/0 active edit\(s\)$/);
    expect(await text('#status')).toBe('');
    expect(failures).toEqual([]);
    expect(elsewhere).toEqual([]);
  }, 120000);

  test('a refused request shows the field and the problem', async () => {
    await page.$eval('#edit-prompt', (e) => { (e as HTMLInputElement).value = 'Bob lives in'; });
    await page.$eval('#edit-target', (e) => { (e as HTMLInputElement).value = '   '; });
    await page.click('#apply');
    await waitText('#status', 'target is empty');
  }, 60000);
});
