// A real browser (Debian's Chromium) goes through the hosted sign-in and consent screens by their
// labels and button names, with and without JavaScript, and the strict CSP raises no violation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';
import { browserUnavailable, launchChromium, relyingPartyPage } from '../helpers/chromium.ts';

const skip = browserUnavailable();

describe('hosted screens in Chromium', { skip }, () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;
  let aliceId: string;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    aliceId = (await createAlice(database)).id;
    const registered = await createClient(database, server.config, { name: 'Browser App' });
    config = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  for (const javaScriptEnabled of [true, false]) {
    it(`signs in and consents ${javaScriptEnabled ? 'with' : 'without'} JavaScript`, async () => {
      const browser = await launchChromium({ javaScriptEnabled });
      try {
        const { page, violations, callback: landedAt } = await relyingPartyPage(browser, RP_REDIRECT);

        const request = await authorizationRequest(config, { scope: 'openid profile email' });
        await page.goto(request.url.toString());
        assert.equal(await page.title(), 'Sign in · Gatehouse');
        await page.getByLabel('Email').fill(ALICE.email);
        await page.getByLabel('Password').fill('not the password');
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        assert.equal(await page.getByRole('alert').textContent(), 'Incorrect email or password.');
        assert.equal(await page.getByLabel('Email').inputValue(), ALICE.email, 'the typed email is kept');

        await page.getByLabel('Password').fill(ALICE.password);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('heading', { name: 'Allow access' }).waitFor();
        assert.match((await page.locator('main').textContent()) ?? '', /Browser App is asking to:/);
        await page.getByRole('button', { name: 'Allow' }).click();
        await page.waitForURL(`${RP_REDIRECT}**`);

        const tokens = await exchangeCode(config, landedAt(), request);
        assert.equal(tokens.claims()?.sub, aliceId);
        assert.deepEqual(violations, []);
      } finally {
        await browser.dispose();
      }
    });
  }
});
