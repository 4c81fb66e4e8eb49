// A real browser (Debian's Chromium) signs up through the hosted screens by their labels and
// button names: "Create account", the form, "Check your email", the code read from a real SMTP
// sink, consent, and the relying party's redirect with a code it redeems.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';
import { browserUnavailable, launchChromium, relyingPartyPage } from '../helpers/chromium.ts';
import { codeIn, createSmtpSink, mailTo, type SmtpSink } from '../helpers/smtpSink.ts';
import type { User } from '../../src/accounts/index.ts';

const skip = browserUnavailable();

describe('signing up in Chromium', { skip }, () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    server = await startTestServer(database, { SMTP_URL: sink.url });
    const registered = await createClient(database, server.config, { name: 'Browser App' });
    config = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  it('creates an account, types the emailed code and lands at the relying party with a code', async () => {
    const email = 'chromium-user@example.com';
    const browser = await launchChromium();
    try {
      const { page, violations, callback: landedAt } = await relyingPartyPage(browser, RP_REDIRECT);

      const request = await authorizationRequest(config, { scope: 'openid email' });
      await page.goto(request.url.toString());
      assert.equal(await page.title(), 'Sign in · Gatehouse');
      await page.getByRole('link', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Create account', exact: true }).waitFor();
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('violet rocket harbour lamp');
      await page.getByRole('button', { name: 'Create account', exact: true }).click();

      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      assert.match((await page.getByRole('status').textContent()) ?? '', new RegExp(`We sent a code and a link to ${email}`));
      const code = codeIn(await sink.waitForMail(mailTo(email, 'Verify your email address')));
      await page.getByLabel('Code').fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();

      await page.getByRole('heading', { name: 'Allow access' }).waitFor();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${RP_REDIRECT}**`);
      assert.ok(new URL(landedAt()).searchParams.get('code'), landedAt());

      const tokens = await exchangeCode(config, landedAt(), request);
      const user = (await database.db<User>('users').where({ email }).first()) as User;
      assert.equal(tokens.claims()?.sub, user.id);
      assert.equal(user.email_verified, true);
      assert.equal((await client.fetchUserInfo(config, tokens.access_token, user.id)).email_verified, true);
      assert.deepEqual(violations, []);
    } finally {
      await browser.dispose();
    }
  });
});
