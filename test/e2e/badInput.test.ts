// Bad input, each answered with its specific error and never a 500: protocol errors per the
// RFCs, the friendly error page where no client can be told, 403/413/415 on our own forms.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { artefactDigest } from '../../src/oidc/storedArtefacts.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, findForm } from '../helpers/browserForm.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, basicAuth, discover, exchangeCode } from '../helpers/relyingParty.ts';

const INITIAL_ACCESS_TOKEN = 'initial-access-token-for-bad-input';

describe('bad input', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;
  let clientId: string;
  let clientSecret: string;
  let publicConfig: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { INITIAL_ACCESS_TOKEN });
    await createAlice(database);
    const registered = await createClient(database, server.config);
    clientId = registered.client_id;
    clientSecret = registered.client_secret as string;
    config = await discover(server.issuer, clientId, clientSecret);
    const spa = await createClient(database, server.config, { name: 'SPA', authMethod: 'none' });
    publicConfig = await discover(server.issuer, spa.client_id);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const url = (path: string) => new URL(path, server.issuer).toString();

  /** Signs Alice in and returns the callback URL carrying a fresh code. */
  async function obtainCode(cfg: client.Configuration, params: Record<string, string> = {}) {
    const browser = new Browser();
    const request = await authorizationRequest(cfg, params);
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password }, RP_REDIRECT);
    if (!page.url.startsWith(RP_REDIRECT)) page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    return { request, callback: page.url, code: new URL(page.url).searchParams.get('code') as string };
  }

  async function tokenRequest(body: Record<string, string>, auth = basicAuth(clientId, clientSecret)) {
    const response = await fetch(url('/token'), {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    });
    return { status: response.status, body: (await response.json()) as { error: string; error_description?: string } };
  }

  describe('authorization endpoint', () => {
    it('shows the error page for an unknown client, without redirecting', async () => {
      const response = await fetch(
        url(`/auth?client_id=no-such-client&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_REDIRECT)}`),
        { redirect: 'manual', headers: { accept: 'text/html' } },
      );
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('location'), null);
      const html = await response.text();
      assert.match(html, /Error code: <code>invalid_client<\/code>/);
    });

    it('shows the error page for an unregistered redirect URI, without redirecting', async () => {
      const request = await authorizationRequest(config, { redirect_uri: 'http://evil.test/callback' });
      const response = await fetch(request.url, { redirect: 'manual', headers: { accept: 'text/html' } });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('location'), null);
      assert.match(await response.text(), /Error code: <code>invalid_redirect_uri<\/code>/);
    });

    it('matches redirect URIs exactly (no prefix, no extra query)', async () => {
      for (const redirect of [`${RP_REDIRECT}/extra`, `${RP_REDIRECT}?x=1`, RP_REDIRECT.replace('http:', 'https:')]) {
        const request = await authorizationRequest(config, { redirect_uri: redirect });
        const response = await fetch(request.url, { redirect: 'manual', headers: { accept: 'text/html' } });
        assert.equal(response.status, 400, redirect);
        assert.match(await response.text(), /invalid_redirect_uri/);
      }
    });

    it('refuses a public client without PKCE, at the client', async () => {
      const target = client.buildAuthorizationUrl(publicConfig, { redirect_uri: RP_REDIRECT, scope: 'openid', state: 's1' });
      const response = await fetch(target, { redirect: 'manual' });
      assert.equal(response.status, 303);
      const location = new URL(response.headers.get('location') as string);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.match(location.searchParams.get('error_description') ?? '', /PKCE/i);
    });

    it('refuses the plain PKCE method', async () => {
      const target = client.buildAuthorizationUrl(publicConfig, {
        redirect_uri: RP_REDIRECT,
        scope: 'openid',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'plain',
      });
      const response = await fetch(target, { redirect: 'manual' });
      const location = new URL(response.headers.get('location') as string);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
    });
  });

  describe('token endpoint', () => {
    it('refuses a wrong PKCE verifier and a missing one', async () => {
      const { code } = await obtainCode(config);
      const wrong = await tokenRequest({
        grant_type: 'authorization_code',
        code,
        redirect_uri: RP_REDIRECT,
        code_verifier: 'w'.repeat(43),
      });
      assert.deepEqual([wrong.status, wrong.body.error], [400, 'invalid_grant']);
      const second = await obtainCode(config);
      const missing = await tokenRequest({ grant_type: 'authorization_code', code: second.code, redirect_uri: RP_REDIRECT });
      assert.deepEqual([missing.status, missing.body.error], [400, 'invalid_grant']);
    });

    it('refuses a replayed authorization code and revokes what it issued', async () => {
      const { request, callback, code } = await obtainCode(config);
      const tokens = await exchangeCode(config, callback, request);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
      const replay = await tokenRequest({
        grant_type: 'authorization_code',
        code,
        redirect_uri: RP_REDIRECT,
        code_verifier: request.verifier,
      });
      assert.deepEqual([replay.status, replay.body.error], [400, 'invalid_grant']);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
      assert.equal(Number((await database.db('audit_events').where('type', 'authorization_code.replayed').count('* as n').first())?.n), 1);
    });

    it('refuses an expired authorization code', async () => {
      const { request, code } = await obtainCode(config);
      const updated = await database
        .db('oidc_payloads')
        .where({ model: 'AuthorizationCode', id: artefactDigest(code) }) // rows are keyed by digest
        .update({ expires_at: new Date(Date.now() - 1000) });
      assert.equal(updated, 1, 'the code was moved into the past');
      const expired = await tokenRequest({
        grant_type: 'authorization_code',
        code,
        redirect_uri: RP_REDIRECT,
        code_verifier: request.verifier,
      });
      assert.deepEqual([expired.status, expired.body.error], [400, 'invalid_grant']);
    });

    it('refuses a wrong client secret and an unknown client with invalid_client', async () => {
      const wrong = await tokenRequest({ grant_type: 'client_credentials' }, basicAuth(clientId, 'wrong-secret'));
      assert.deepEqual([wrong.status, wrong.body.error], [401, 'invalid_client']);
      const unknown = await tokenRequest({ grant_type: 'client_credentials' }, basicAuth('nobody', 'secret'));
      assert.deepEqual([unknown.status, unknown.body.error], [401, 'invalid_client']);
    });

    it('refuses a grant type the client is not registered for', async () => {
      const result = await tokenRequest({ grant_type: 'client_credentials' });
      assert.deepEqual(result, {
        status: 400,
        body: { error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' },
      });
    });
  });

  describe('malformed bodies on every POST endpoint', () => {
    const malformedJson = (path: string) =>
      fetch(url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}`, accept: 'application/json' },
        body: '{"not json',
      });

    it('answers a malformed JSON body on protocol endpoints with 400 invalid_request', async () => {
      for (const path of ['/token', '/token/introspection', '/token/revocation', '/reg', '/device/auth']) {
        const response = await malformedJson(path);
        assert.equal(response.status, 400, path);
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_request', path);
      }
    });

    it('answers a JSON body on browser form endpoints with 415 and a clear message', async () => {
      for (const path of [
        '/device',
        '/session/end/confirm',
        '/interaction/some-uid/password',
        '/interaction/some-uid/consent',
        '/interaction/some-uid/abort',
      ]) {
        const response = await malformedJson(path);
        assert.equal(response.status, 415, path);
        const body = (await response.json()) as { title: string; detail: string };
        assert.equal(response.headers.get('content-type'), 'application/problem+json', path);
        assert.equal(body.detail, 'Send the form as application/x-www-form-urlencoded.', path);
      }
    });

    it('answers a malformed form body on the sign-in form with 403, changing nothing', async () => {
      const browser = new Browser();
      const login = await browser.navigate((await authorizationRequest(config)).url.toString());
      const form = findForm(login.html, /\/password$/);
      const response = await browser.request(url(form.action), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '%E0%A4%A&&=&_csrf[]=1',
      });
      assert.equal(response.status, 403);
      assert.match(await response.text(), /This form has expired/);
    });

    it('answers malformed form bodies on protocol endpoints with 400 and an RFC 6749 error', async () => {
      const expected: Record<string, string> = {
        '/token': "missing required parameter 'grant_type'",
        '/token/introspection': "missing required parameter 'token'",
        '/token/revocation': "missing required parameter 'token'",
      };
      for (const [path, description] of Object.entries(expected)) {
        const response = await fetch(url(path), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, clientSecret) },
          body: '%E0%A4%A&&=&grant_type[]=x&token[]=y',
        });
        assert.equal(response.status, 400, path);
        assert.deepEqual(await response.json(), { error: 'invalid_request', error_description: description }, path);
      }
    });

    it('answers an unsupported content type with 400, never 500', async () => {
      for (const path of ['/token', '/token/introspection', '/token/revocation', '/device/auth']) {
        const response = await fetch(url(path), {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: 'grant_type=client_credentials',
        });
        assert.equal(response.status, 400, path);
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_request', path);
      }
    });

    it('answers malformed and non-form bodies on the sign-in form with 400/415 pages', async () => {
      const browser = new Browser();
      const request = await authorizationRequest(config);
      const login = await browser.navigate(request.url.toString());
      const form = findForm(login.html, /\/password$/);
      const garbled = await browser.request(url(form.action), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email":',
      });
      assert.equal(garbled.status, 415);
      assert.match(await garbled.text(), /Unsupported content type/);
    });
  });

  describe('hosted forms', () => {
    it('refuses a sign-in without or with a wrong CSRF token, and keeps the session unchanged', async () => {
      const browser = new Browser();
      const request = await authorizationRequest(config);
      const login = await browser.navigate(request.url.toString());
      for (const csrf of [undefined, 'forged-token']) {
        const form = findForm(login.html, /\/password$/);
        const fields: Record<string, string> = { ...form.hidden, email: ALICE.email, password: ALICE.password };
        if (csrf === undefined) delete fields._csrf;
        else fields._csrf = csrf;
        const response = await browser.request(url(form.action), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields),
        });
        assert.equal(response.status, 403);
        assert.match(await response.text(), /This form has expired/);
      }
      // The interaction still waits on the login prompt: nothing was signed in.
      const again = await browser.navigate(
        new URL(findForm(login.html, /\/password$/).action, server.issuer).toString().replace(/\/password$/, ''),
      );
      assert.match(again.html, /<h1 id="page-title">Sign in<\/h1>/);
    });

    it('refuses a CSRF token minted for another interaction', async () => {
      const browser = new Browser();
      const first = await browser.navigate((await authorizationRequest(config)).url.toString());
      const second = await browser.navigate((await authorizationRequest(config)).url.toString());
      const firstForm = findForm(first.html, /\/password$/);
      const secondForm = findForm(second.html, /\/password$/);
      const response = await browser.request(url(secondForm.action), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...secondForm.hidden, _csrf: firstForm.hidden._csrf, email: ALICE.email, password: ALICE.password }),
      });
      // The second interaction is found (its cookie is sent); only the token is wrong for it, so
      // this is the CSRF refusal (403), not the expired sign-in (400) of a missing interaction.
      assert.equal(response.status, 403);
      assert.match(await response.text(), /This form has expired/);
      const again = await browser.navigate(new URL(secondForm.action, server.issuer).toString().replace(/\/password$/, ''));
      assert.match(again.html, /<h1 id="page-title">Sign in<\/h1>/, 'nothing was signed in');
    });

    it('answers an oversized sign-in form with 413, and a very long email with the generic message', async () => {
      const browser = new Browser();
      const login = await browser.navigate((await authorizationRequest(config)).url.toString());
      const huge = await browser.submit(login, /\/password$/, { email: ALICE.email, password: 'x'.repeat(40_000) });
      assert.equal(huge.status, 413);
      assert.match(huge.html, /Request too large/);
      const longEmail = await browser.submit(login, /\/password$/, {
        email: `${'a'.repeat(5000)}@example.com`,
        password: 'whatever-password',
      });
      assert.equal(longEmail.status, 401);
      assert.match(longEmail.html, /Incorrect email or password./);
      const longPassword = await browser.submit(login, /\/password$/, { email: ALICE.email, password: 'p'.repeat(5000) });
      assert.equal(longPassword.status, 401);
    });

    it('answers oversized bodies with 4xx everywhere, never 500', async () => {
      const big = `a=${'x'.repeat(2_000_000)}`;
      for (const path of ['/token', '/token/introspection', '/token/revocation', '/device/auth']) {
        const response = await fetch(url(path), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: big,
        });
        assert.equal(response.status, 400, path);
        assert.deepEqual(await response.json(), { error: 'invalid_request', error_description: 'failed to parse the request body' }, path);
      }
      const registration = await fetch(url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
        body: JSON.stringify({ redirect_uris: ['https://rp.example/cb'], client_name: 'x'.repeat(2_000_000) }),
      });
      assert.equal(registration.status, 400);
      for (const path of ['/device', '/session/end/confirm']) {
        const response = await fetch(url(path), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
          body: big,
        });
        assert.equal(response.status, 413, path);
        assert.match(await response.text(), /Request too large/, path);
      }
    });

    it('answers a device-code form posted without its browser session with the expired page', async () => {
      const response = await fetch(url('/device'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: 'user_code=BCDF-GHJK&xsrf=forged',
      });
      assert.equal(response.status, 400);
      assert.match(await response.text(), /This form has expired/);
    });

    it('shows the expired-session page for an unknown interaction', async () => {
      const response = await fetch(url('/interaction/does-not-exist'), { headers: { accept: 'text/html' } });
      assert.equal(response.status, 400);
      assert.match(await response.text(), /This sign-in has expired/);
    });
  });

  describe('NUL characters, which PostgreSQL cannot store', () => {
    it('treats them as unknown or invalid on every endpoint, never a 500', async () => {
      const authorize = await fetch(
        url(`/auth?client_id=a%00b&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_REDIRECT)}`),
        {
          headers: { accept: 'text/html' },
          redirect: 'manual',
        },
      );
      assert.equal(authorize.status, 400);
      assert.match(await authorize.text(), /invalid_client/);

      const withState = await authorizationRequest(config, { state: 'a\u0000b' });
      const stateResponse = await fetch(withState.url, { redirect: 'manual' });
      assert.equal(stateResponse.status, 303);
      assert.equal(new URL(stateResponse.headers.get('location') as string).searchParams.get('error'), 'invalid_request');

      const logout = await fetch(url('/session/end?client_id=a%00b'), { headers: { accept: 'text/html' } });
      assert.equal(logout.status, 400);

      const unauthenticated = await fetch(url('/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=a%00b&client_secret=x',
      });
      assert.equal(unauthenticated.status, 401);
      assert.equal(((await unauthenticated.json()) as { error: string }).error, 'invalid_client');

      const refresh = await tokenRequest({ grant_type: 'refresh_token', refresh_token: 'a\u0000b' });
      assert.deepEqual([refresh.status, refresh.body.error], [400, 'invalid_grant']);

      const introspection = await fetch(url('/token/introspection'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, clientSecret) },
        body: 'token=a%00b',
      });
      assert.deepEqual(await introspection.json(), { active: false });

      const userinfo = await fetch(url('/me'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'access_token=a%00b',
      });
      assert.equal(userinfo.status, 401);

      const browser = new Browser();
      const login = await browser.navigate((await authorizationRequest(config)).url.toString());
      const nulEmail = await browser.submit(login, /\/password$/, { email: 'a\u0000@example.com', password: 'whatever-password' });
      assert.equal(nulEmail.status, 400);
      assert.match(nulEmail.html, /The form contains characters we do not accept./);
    });
  });

  describe('dynamic client registration', () => {
    const register = (body: unknown, token?: string) =>
      fetch(url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const valid = { redirect_uris: ['https://rp.example/cb'], client_name: 'X' };

    it('refuses a registration without an initial access token', async () => {
      const response = await register(valid);
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: 'invalid_token', error_description: 'no access token provided' });
    });

    it('refuses a registration with a wrong initial access token', async () => {
      const response = await register(valid, 'wrong-initial-access-token');
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_token');
    });

    it('refuses invalid metadata with the RFC 7591 error codes', async () => {
      const cases: [unknown, string][] = [
        [{ redirect_uris: 'https://rp.example/cb' }, 'invalid_redirect_uri'],
        [{ redirect_uris: ['not a url'] }, 'invalid_redirect_uri'],
        [{ redirect_uris: ['https://rp.example/cb#fragment'] }, 'invalid_redirect_uri'],
        [{ redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'magic' }, 'invalid_client_metadata'],
        [{ redirect_uris: ['https://rp.example/cb'], grant_types: ['implicit'] }, 'invalid_client_metadata'],
      ];
      for (const [body, error] of cases) {
        const response = await register(body, INITIAL_ACCESS_TOKEN);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(((await response.json()) as { error: string }).error, error, JSON.stringify(body));
      }
      const count = await database.db('clients').where('registered_by', 'dynamic_registration').count('* as n').first();
      assert.equal(Number(count?.n), 0);
    });
  });
});
