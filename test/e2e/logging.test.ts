// Logs: one JSON line per event with the request id, and never a password, secret, token, code
// or cookie, even at the most verbose level.
import { captureLog, type LogCapture } from '../helpers/logCapture.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser } from '../helpers/browserForm.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';

describe('logging', () => {
  let database: TestDatabase;
  let server: TestServer;
  let log: LogCapture;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { LOG_LEVEL: 'silly' });
    log = captureLog();
  });

  after(async () => {
    log.stop();
    await server?.close();
    await database?.dispose();
  });

  it('never logs secrets during a full sign-in and token lifecycle', async () => {
    await createAlice(database);
    const registered = await createClient(database, server.config, { grantTypes: ['authorization_code', 'refresh_token'] });
    const config = await discover(server.issuer, registered.client_id, registered.client_secret);
    const browser = new Browser();
    const request = await authorizationRequest(config, { scope: 'openid email offline_access', prompt: 'consent' });
    let page = await browser.navigate(request.url.toString());
    await browser.submit(page, /\/password$/, { email: ALICE.email, password: 'a wrong password' });
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password });
    page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    const code = new URL(page.url).searchParams.get('code') as string;
    const tokens = await exchangeCode(config, page.url, request);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    await client.tokenIntrospection(config, refreshed.access_token);

    const secrets = {
      password: ALICE.password,
      wrongPassword: 'a wrong password',
      clientSecret: registered.client_secret as string,
      code,
      verifier: request.verifier,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token as string,
      idToken: tokens.id_token as string,
      refreshedToken: refreshed.refresh_token as string,
      // The session cookie (the interaction cookie only holds the uid that is in the URL anyway).
      sessionCookie: /(?:^|; )_session=([^;]+)/.exec(browser.jar.header())?.[1] as string,
      csrfCookie: /(?:^|; )gatehouse\.csrf=([^;]+)/.exec(browser.jar.header())?.[1] as string,
    };
    const all = log.lines.join('');
    assert.ok(log.lines.length > 10, 'requests were logged');
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value && value.length > 8, `${name} captured`);
      assert.ok(!all.includes(value), `${name} appears in the logs`);
    }

    const requests = log.lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'request');
    assert.ok(requests.some((l) => l.path === '/token' && l.status === 200));
    for (const line of requests) {
      assert.match(line.requestId, /^[0-9a-f-]{36}$/);
      assert.equal(line.path.includes('?'), false);
    }
    const audit = log.lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'audit');
    assert.deepEqual(
      audit.map((l) => l.event),
      ['user.created', 'client.created', 'login.failed', 'login.succeeded', 'consent.granted'],
    );
  });
});
