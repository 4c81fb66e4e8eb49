// The sign-in and consent screens against the spec's request parameters: prompt=login,
// prompt=none, prompt=consent, max_age, login_hint, Deny and Cancel, and wrong credentials.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, type Page } from '../helpers/browserForm.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';

describe('hosted sign-in and consent screens', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    await createAlice(database);
    const registered = await createClient(database, server.config, { name: 'Prompt App' });
    config = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const callbackParams = (page: Page) => new URL(page.url).searchParams;

  async function signIn(browser: Browser, params: Record<string, string> = {}) {
    const request = await authorizationRequest(config, params);
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    if (page.html.includes('action="/interaction/') && page.html.includes('/password"')) {
      page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password }, RP_REDIRECT);
    }
    if (page.html.includes('/consent"')) page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    assert.ok(page.url.startsWith(RP_REDIRECT), `ended at ${page.url}`);
    return { request, page };
  }

  it('gives one generic message for an unknown email and a wrong password, and keeps the typed email', async () => {
    const browser = new Browser();
    const request = await authorizationRequest(config);
    const login = await browser.navigate(request.url.toString());

    const unknown = await browser.submit(login, /\/password$/, { email: 'nobody@example.com', password: 'whatever-password' });
    const wrong = await browser.submit(login, /\/password$/, { email: ALICE.email, password: 'not the password' });
    for (const [page, email] of [
      [unknown, 'nobody@example.com'],
      [wrong, ALICE.email],
    ] as const) {
      assert.equal(page.status, 401);
      assert.match(page.html, /<p class="error" role="alert" id="login-error">Incorrect email or password.<\/p>/);
      assert.match(page.html, new RegExp(`id="email"[^>]*value="${email}"`));
      assert.doesNotMatch(page.html, /value="(whatever-password|not the password)"/);
    }
    const empty = await browser.submit(login, /\/password$/, { email: '', password: '' });
    assert.equal(empty.status, 400);
    assert.match(empty.html, /Enter your email and password./);
    const failures = await database.db('audit_events').where('type', 'login.failed').count('* as n').first();
    assert.equal(Number(failures?.n), 2);
  });

  it('prefills the email from login_hint', async () => {
    const request = await authorizationRequest(config, { login_hint: 'hinted@example.com' });
    const page = await new Browser().navigate(request.url.toString());
    assert.match(page.html, /id="email"[^>]*value="hinted@example.com"/);
  });

  it('answers prompt=none without a session with login_required at the client', async () => {
    const request = await authorizationRequest(config, { prompt: 'none' });
    const page = await new Browser().navigate(request.url.toString(), {}, RP_REDIRECT);
    assert.equal(callbackParams(page).get('error'), 'login_required');
    assert.equal(callbackParams(page).get('state'), request.state);
  });

  it('answers prompt=none with a session but no consent with consent_required', async () => {
    const browser = new Browser();
    const request = await authorizationRequest(config);
    const login = await browser.navigate(request.url.toString());
    await browser.submit(login, /\/password$/, { email: ALICE.email, password: ALICE.password });
    const silent = await authorizationRequest(config, { prompt: 'none' });
    const page = await browser.navigate(silent.url.toString(), {}, RP_REDIRECT);
    assert.equal(callbackParams(page).get('error'), 'consent_required');
  });

  it('signs in silently with prompt=none once there is a session and consent', async () => {
    const browser = new Browser();
    await signIn(browser);
    const silent = await authorizationRequest(config, { prompt: 'none' });
    const page = await browser.navigate(silent.url.toString(), {}, RP_REDIRECT);
    assert.ok(callbackParams(page).get('code'));
    const tokens = await exchangeCode(config, page.url, silent);
    assert.ok(tokens.id_token);
  });

  it('asks for the password again with prompt=login, and with max_age=0', async () => {
    const browser = new Browser();
    await signIn(browser);
    for (const params of [{ prompt: 'login' }, { max_age: '0' }] as Record<string, string>[]) {
      const request = await authorizationRequest(config, params);
      const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
      assert.match(page.html, /<h1 id="page-title">Sign in<\/h1>/, JSON.stringify(params));
    }
  });

  it('keeps a recent sign-in for a generous max_age and reports auth_time', async () => {
    const browser = new Browser();
    await signIn(browser);
    const request = await authorizationRequest(config, { max_age: '3600' });
    const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    const tokens = await exchangeCode(config, page.url, request);
    assert.equal(typeof tokens.claims()?.auth_time, 'number');
  });

  it('shows consent again with prompt=consent', async () => {
    const browser = new Browser();
    await signIn(browser);
    const request = await authorizationRequest(config, { prompt: 'consent' });
    const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    assert.match(page.html, /<h1 id="page-title">Allow access<\/h1>/);
  });

  it('returns access_denied to the client when the user denies consent', async () => {
    const browser = new Browser();
    const request = await authorizationRequest(config);
    const login = await browser.navigate(request.url.toString());
    const consent = await browser.submit(login, /\/password$/, { email: ALICE.email, password: ALICE.password });
    const page = await browser.submit(consent, /\/consent$/, { decision: 'deny' }, RP_REDIRECT);
    assert.equal(callbackParams(page).get('error'), 'access_denied');
    assert.equal(callbackParams(page).get('state'), request.state);
  });

  it('returns access_denied when the user cancels sign-in', async () => {
    const browser = new Browser();
    const request = await authorizationRequest(config);
    const login = await browser.navigate(request.url.toString());
    const page = await browser.submit(login, /\/abort$/, {}, RP_REDIRECT);
    assert.equal(callbackParams(page).get('error'), 'access_denied');
  });

  it('serves screens with a strict CSP, no-store and frame-ancestors none', async () => {
    const request = await authorizationRequest(config);
    const page = await new Browser().navigate(request.url.toString());
    const csp = page.response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.response.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(page.html, /<script(?![^>]*src=)/);
    assert.doesNotMatch(page.html, /style="/);
  });
});
