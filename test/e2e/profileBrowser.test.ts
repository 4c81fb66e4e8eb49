// A new customer in Chromium, through every declared step: the sign-up form asks the profile
// schema's sign-up attribute, the terms screen asks to accept the terms (the purposes unticked),
// the profile screen asks what this client needs (a phone number, an address, a yes/no), and the
// relying party's userinfo then carries all of it — with no CSP violation on the way.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';
import { browserUnavailable, launchChromium, relyingPartyPage } from '../helpers/chromium.ts';
import { codeIn, createSmtpSink, mailTo, type SmtpSink } from '../helpers/smtpSink.ts';

const skip = browserUnavailable();

const PROFILE = `
attributes:
  - name: given_name
    ask:
      - { at: signup, required: true }
  - name: phone_number
    ask:
      - { at: sign_in, clients: [shop], when_claim_requested: true, required: true }
  - name: address
    ask:
      - { at: sign_in, clients: [shop] }
  - name: gift_wrap
    type: boolean
    label: Gift wrap by default
    scope: profile:shop
    ask:
      - { at: sign_in, clients: [shop] }
`;

const POLICIES = `
documents:
  - { id: terms, title: Terms of service, version: "1", url: "https://shop.example/terms" }
purposes:
  - { id: newsletter, label: Send me the newsletter, version: "1", ask_at_sign_in: true }
`;

describe('a new customer in Chromium, through sign-up, terms and profile', { skip }, () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-declared-'));
    writeFileSync(join(dir, 'profile.yaml'), PROFILE);
    writeFileSync(join(dir, 'policies.yaml'), POLICIES);
    server = await startTestServer(database, {
      SMTP_URL: sink.url,
      PROFILE_SCHEMA_FILE: join(dir, 'profile.yaml'),
      POLICIES_FILE: join(dir, 'policies.yaml'),
    });
    const registered = await createClient(database, server.config, { name: 'Shop', clientId: 'shop' });
    config = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  it('signs up, accepts the terms, gives the details the shop needs, and the shop reads them', async () => {
    const email = 'new-customer@example.com';
    const browser = await launchChromium();
    try {
      const { page, violations, callback: landedAt } = await relyingPartyPage(browser, RP_REDIRECT);
      const request = await authorizationRequest(config, { scope: 'openid email phone address profile:shop consents' });
      await page.goto(request.url.toString());
      await page.getByRole('link', { name: 'Create account' }).click();
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('violet rocket harbour lamp');
      await page.getByLabel('First name').fill('Nora');
      await page.getByRole('button', { name: 'Create account', exact: true }).click();
      const code = codeIn(await sink.waitForMail(mailTo(email, 'Verify your email address')));
      await page.getByLabel('Code').fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();

      await page.getByRole('heading', { name: 'Before you continue' }).waitFor();
      assert.equal(await page.getByLabel('Send me the newsletter').isChecked(), false, 'a purpose is never ticked in advance');
      await page.getByLabel(/I accept the Terms of service/).check();
      await page.getByRole('button', { name: 'Accept and continue' }).click();

      await page.getByRole('heading', { name: 'A few more details' }).waitFor();
      await page.getByLabel('Phone number').fill('+33 6 12 34 56 78');
      await page.getByLabel('Street address').fill('8 Rue du Bac');
      await page.getByLabel('Town or city').fill('Paris');
      await page.getByLabel('Country').fill('France');
      await page
        .getByRole('group', { name: /Gift wrap by default/ })
        .getByLabel('Yes')
        .check();
      await page.getByRole('button', { name: 'Continue' }).click();

      await page.getByRole('heading', { name: 'Allow access' }).waitFor();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${RP_REDIRECT}**`);

      const tokens = await exchangeCode(config, landedAt(), request);
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()?.sub as string);
      assert.equal(userinfo.phone_number, '+33612345678');
      assert.deepEqual(userinfo.address, {
        formatted: '8 Rue du Bac\nParis\nFrance',
        street_address: '8 Rue du Bac',
        locality: 'Paris',
        country: 'France',
      });
      assert.equal(userinfo.gift_wrap, true);
      assert.deepEqual(Object.keys(userinfo.consents as object), ['newsletter']);
      assert.equal((userinfo.consents as Record<string, { granted: boolean }>).newsletter.granted, false);
      const user = await database.db('users').where({ email }).first('id', 'profile');
      assert.equal(user.profile.given_name, 'Nora');
      const accepted = await database.db('policy_acceptances').where({ user_id: user.id });
      assert.deepEqual(
        accepted.map((a) => [a.document, a.version, a.decision, a.client_id]),
        [['terms', '1', 'accepted', 'shop']],
      );
      assert.deepEqual(violations, []);
    } finally {
      await browser.dispose();
    }
  });
});
