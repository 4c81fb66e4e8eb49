// Debian's Chromium driven by playwright-core. Browser tests skip, loudly, where Chromium is not
// installed; CI sets REQUIRE_BROWSER=1 so a missing browser fails the run instead.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The reason browser tests cannot run here, or false when they can. */
export function browserUnavailable(): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  if (process.env.REQUIRE_BROWSER === '1')
    throw new Error(`REQUIRE_BROWSER=1 but no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`);
  const reason = `SKIPPED: no Chromium at ${CHROMIUM_PATH}; install it with "apt-get install chromium" to run browser tests`;
  process.stderr.write(`\n*** ${reason} ***\n\n`);
  return reason;
}

export async function launchChromium(
  options: { javaScriptEnabled?: boolean } = {},
): Promise<BrowserContext & { dispose(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'gatehouse-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    javaScriptEnabled: options.javaScriptEnabled ?? true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return Object.assign(context, {
    dispose: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  });
}

export interface RelyingPartyPage {
  page: Page;
  /** What the console said the page's CSP refused. */
  violations: string[];
  /** The URL the browser was sent back to at the relying party ('' until then). */
  callback(): string;
}

/**
 * A page that records CSP violations and answers the relying party's redirect URI itself:
 * nobody serves the relying party in these tests.
 */
export async function relyingPartyPage(browser: BrowserContext, redirectUri: string): Promise<RelyingPartyPage> {
  const page = await browser.newPage();
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  let callback = '';
  await page.route(`${redirectUri}**`, async (route) => {
    callback = route.request().url();
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' });
  });
  return { page, violations, callback: () => callback };
}
