// The account area's passkeys in a real browser (Debian's Chromium) with the DevTools virtual
// authenticator: signing in through the hosted screens by their labels, adding a passkey with
// "Add a passkey" (the page's script and SimpleWebAuthn's bundle, under the strict CSP), which as
// the first second factor comes with recovery codes shown once, renaming it and removing it. The authenticator really holds the key the server stored.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CDPSession, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { operator } from '../helpers/fixtures.ts';
import { browserUnavailable, launchChromium } from '../helpers/chromium.ts';
import { createUser } from '../../src/accounts/index.ts';
import { listPasskeys } from '../../src/mfa/passkeys.ts';

const skip = browserUnavailable();
const PASSWORD = 'a long and unguessable passphrase';

async function virtualAuthenticator(cdp: CDPSession): Promise<string> {
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

/** What the page's CSP refused, as the console reports it. */
function cspViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  return violations;
}

describe('passkeys on the account area Security page, in Chromium', { skip }, () => {
  let database: TestDatabase;
  let server: TestServer;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  it('adds, renames and removes a passkey', async () => {
    const user = await createUser(operator(database), { email: 'passkeys@example.com', password: PASSWORD, email_verified: true }, 4);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const violations = cspViolations(page);
      const cdp = await browser.newCDPSession(page);
      const authenticatorId = await virtualAuthenticator(cdp);

      await page.goto(`${server.issuer}/account/security`);
      assert.equal(await page.title(), 'Sign in · Gatehouse');
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      // The sign-in may offer a passkey first; this test adds one on the Security page instead.
      const security = page.getByRole('heading', { name: 'Security', level: 1 });
      const notNow = page.getByRole('button', { name: 'Not now' });
      await security.or(notNow).waitFor();
      if (await notNow.isVisible()) await notNow.click();
      await security.waitFor();
      assert.equal(new URL(page.url()).pathname, '/account/security');
      await page.getByText('You have no passkeys yet.').waitFor();

      await page.getByLabel('Name for the new passkey (optional)').fill('My laptop');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      // The first second factor: recovery codes, shown once.
      await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
      await page.getByText('Your passkey was added.').waitFor();
      assert.equal(await page.locator('.recovery-codes code').count(), 10);
      await page.getByRole('link', { name: 'I have saved my codes' }).click();
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      await page.getByText('10 of 10 codes left').waitFor();
      const [stored] = await listPasskeys(database.db, user.id);
      assert.equal(stored?.name, 'My laptop');
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      assert.equal(credentials.length, 1);
      assert.equal(Buffer.from(credentials[0].credentialId, 'base64').toString('base64url'), stored.credentialId);
      assert.equal(credentials[0].isResidentCredential, true);

      const item = page.locator(`[data-passkey="${stored.id}"]`);
      await item.getByText('never used yet').waitFor();
      await item.getByLabel('Name').fill('Work laptop');
      await item.getByRole('button', { name: 'Rename' }).click();
      await page.getByText('Your passkey was renamed.').waitFor();
      assert.equal((await listPasskeys(database.db, user.id))[0]?.name, 'Work laptop');
      await page.locator(`[data-passkey="${stored.id}"] strong`, { hasText: 'Work laptop' }).waitFor();

      await page.locator(`[data-passkey="${stored.id}"]`).getByRole('button', { name: 'Remove passkey' }).click();
      await page.getByText('Your passkey was removed.').waitFor();
      assert.deepEqual(await listPasskeys(database.db, user.id), []);
      await page.getByText('You have no passkeys yet.').waitFor();
      assert.deepEqual(violations, []);
    } finally {
      await browser.dispose();
    }
  });
});
