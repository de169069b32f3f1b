// A real headless Chromium (Debian's `chromium` package, scripts/setup-chromium.sh) driven
// by puppeteer-core, for tests that check what a person sees on the dashboard. Collects the
// page's console errors and uncaught exceptions so a test can require there are none.
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export function locateChromium(): string {
  const env = process.env['CHROMIUM_PATH'];
  if (env !== undefined && env !== '') {
    if (!existsSync(env)) throw new Error(`CHROMIUM_PATH=${env} does not exist`);
    return env;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(`Chromium not found (looked at ${CANDIDATES.join(', ')} and $CHROMIUM_PATH): run \`bash scripts/setup-chromium.sh\``);
  }
  return found;
}

export interface ConsoleProblem {
  readonly text: string;
  /** The URL the message points at, when Chromium gives one (a failed fetch names its URL). */
  readonly url: string | undefined;
}

export interface BrowserPage {
  readonly page: Page;
  /** Console errors and uncaught exceptions so far. */
  readonly problems: ConsoleProblem[];
}

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: locateChromium(),
    headless: true,
    // Root in CI: Chromium's sandbox needs user namespaces it may not get there.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
    defaultViewport: { width: 1440, height: 1000 },
  });
}

export async function openPage(browser: Browser): Promise<BrowserPage> {
  const page = await browser.newPage();
  const problems: ConsoleProblem[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push({ text: m.text(), url: m.location().url });
  });
  page.on('pageerror', (e) => problems.push({ text: e instanceof Error ? e.message : String(e), url: undefined }));
  return { page, problems };
}
