// Device authorization (RFC 8628) through the hosted pages: the user types the code shown on the
// device, signs in, confirms, and the device's polling gets tokens. Wrong codes are explained.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser } from '../helpers/browserForm.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { discover } from '../helpers/relyingParty.ts';

describe('device authorization grant pages', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;
  let aliceId: string;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    aliceId = (await createAlice(database)).id;
    const tv = await createClient(database, server.config, {
      name: 'Living Room TV',
      redirectUris: [],
      postLogoutRedirectUris: [],
      grantTypes: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      authMethod: 'none',
      applicationType: 'native',
    });
    config = await discover(server.issuer, tv.client_id);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  it('explains a wrong code and keeps the user on the entry page', async () => {
    const browser = new Browser();
    const entry = await browser.navigate(new URL('/device', server.issuer).toString());
    assert.equal(entry.status, 200);
    assert.match(entry.html, /<label for="user-code">Code<\/label>/);
    const wrong = await browser.submit(entry, /\/device$/, { user_code: 'BCDF-GHJK' });
    assert.match(wrong.html, /That code was not recognised. Check it and try again./);
    const empty = await browser.submit(entry, /\/device$/, { user_code: '' });
    assert.match(empty.html, /Enter the code shown on your device./);
  });

  it('signs the device in after the user enters the code, signs in and confirms', async () => {
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid email' });
    assert.match(authorization.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    const browser = new Browser();
    let page = await browser.navigate(authorization.verification_uri);
    page = await browser.submit(page, /\/device$/, { user_code: authorization.user_code.toLowerCase() });
    assert.match(page.html, /<h1 id="page-title">Confirm the device<\/h1>/);
    assert.match(page.html, /<strong>Living Room TV<\/strong> wants to sign in on a device./);
    assert.ok(page.html.includes(authorization.user_code));
    page = await browser.submit(page, /\/device$/, {});
    assert.match(page.html, /<h1 id="page-title">Sign in<\/h1>/);
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password });
    assert.match(page.html, /<h1 id="page-title">Allow access<\/h1>/);
    page = await browser.submit(page, /\/consent$/, { decision: 'allow' });
    assert.match(page.html, /<h1 id="page-title">Device connected<\/h1>/);

    const tokens = await client.pollDeviceAuthorizationGrant(config, { ...authorization, interval: 0 });
    assert.equal(tokens.claims()?.sub, aliceId);
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, aliceId);
    assert.equal(userinfo.email, ALICE.email);
  });
});
