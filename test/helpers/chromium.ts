// Debian's Chromium driven by playwright-core. Browser tests skip, loudly, where Chromium is not
// installed; CI sets REQUIRE_BROWSER=1 so a missing browser fails the run instead.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

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
