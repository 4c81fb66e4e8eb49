// A relying party registers itself (RFC 7591), signs a user in through the hosted screens with
// authorization code + PKCE, and uses every token it gets: ID token, userinfo, refresh with
// rotation and reuse detection, introspection, revocation, then RP-initiated logout.
// Each case registers its own relying party and signs in with its own browser, so any one of
// them runs alone (`--test-name-pattern`) and none depends on what another left behind.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, findForm } from '../helpers/browserForm.ts';
import { ALICE, createAlice } from '../helpers/fixtures.ts';
import { RP_LOGOUT_REDIRECT, RP_REDIRECT, authorizationRequest, exchangeCode } from '../helpers/relyingParty.ts';
import type { User } from '../../src/accounts/index.ts';

const INITIAL_ACCESS_TOKEN = 'initial-access-token-for-tests';
const ALL_SCOPES = 'openid profile email offline_access';

describe('authorization code + PKCE for a dynamically registered client', () => {
  let database: TestDatabase;
  let server: TestServer;
  let alice: User;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { INITIAL_ACCESS_TOKEN });
    alice = await createAlice(database);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  /** A relying party of its own, registered the way an integrator's app registers itself. */
  function registerRelyingParty(): Promise<client.Configuration> {
    return client.dynamicClientRegistration(
      new URL(server.issuer),
      {
        client_name: 'Registered RP',
        redirect_uris: [RP_REDIRECT],
        post_logout_redirect_uris: [RP_LOGOUT_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      undefined,
      { initialAccessToken: INITIAL_ACCESS_TOKEN, execute: [client.allowInsecureRequests] },
    );
  }

  /** Alice signs in and allows every scope asked for; returns the tokens the code buys. */
  async function signIn(config: client.Configuration, browser: Browser, scope = ALL_SCOPES) {
    const request = await authorizationRequest(config, { scope, prompt: 'consent' });
    let page = await browser.navigate(request.url.toString());
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password });
    page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    return exchangeCode(config, page.url, request);
  }

  it('stores the registered client with its secret as a digest, not in plain', async () => {
    const meta = (await registerRelyingParty()).clientMetadata();
    assert.match(meta.client_id, /^dcr_[0-9a-f]{32}$/);
    assert.equal(typeof meta.client_secret, 'string');
    const row = await database.db('clients').where('client_id', meta.client_id).first();
    assert.equal(row.registered_by, 'dynamic_registration');
    assert.match(row.client_secret, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(row.client_secret, meta.client_secret);
  });

  it('signs in through the hosted screens and receives ID, access and refresh tokens', async () => {
    const config = await registerRelyingParty();
    const browser = new Browser();
    const request = await authorizationRequest(config, { scope: ALL_SCOPES, prompt: 'consent' });
    let page = await browser.navigate(request.url.toString());
    assert.equal(page.status, 200);
    assert.match(page.html, /<label for="email">Email<\/label>/);
    assert.match(page.html, /<label for="password">Password<\/label>/);
    assert.match(page.html, /to continue to <strong>Registered RP<\/strong>/);

    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password });
    assert.equal(page.status, 200);
    assert.match(page.html, /<strong>Registered RP<\/strong> is asking to:/);
    for (const scope of ['openid', 'profile', 'email', 'offline_access']) assert.match(page.html, new RegExp(`data-scope="${scope}"`));
    assert.match(page.html, />Allow<\/button>/);
    assert.match(page.html, />Deny<\/button>/);

    page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    assert.ok(page.url.startsWith(RP_REDIRECT), page.url);
    const tokens = await exchangeCode(config, page.url, request);

    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.sub, alice.id);
    assert.notEqual(claims.sub, ALICE.email);
    assert.equal(claims.iss, server.issuer);
    assert.equal(claims.aud, config.clientMetadata().client_id);
    assert.deepEqual(claims.amr, ['pwd']);
  });

  it('serves the standard claims from userinfo by granted scope', async () => {
    const config = await registerRelyingParty();
    const tokens = await signIn(config, new Browser());
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, alice.id);
    assert.equal(userinfo.sub, alice.id);
    assert.equal(userinfo.email, ALICE.email);
    assert.equal(userinfo.email_verified, true);
    assert.equal(userinfo.name, ALICE.name);
    assert.equal(userinfo.given_name, 'Alice');
  });

  it('releases only the claims of the scopes granted', async () => {
    const config = await registerRelyingParty();
    const browser = new Browser();
    await signIn(config, browser);
    const request = await authorizationRequest(config, { scope: 'openid email' });
    const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    assert.ok(page.url.startsWith(RP_REDIRECT), 'an existing session and consent go straight back');
    const narrow = await exchangeCode(config, page.url, request);
    const userinfo = await client.fetchUserInfo(config, narrow.access_token, alice.id);
    assert.equal(userinfo.email, ALICE.email);
    assert.equal(userinfo.name, undefined);
  });

  it('introspects an active access token', async () => {
    const config = await registerRelyingParty();
    const tokens = await signIn(config, new Browser());
    const result = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(result.active, true);
    assert.equal(result.sub, alice.id);
    assert.equal(result.client_id, config.clientMetadata().client_id);
  });

  it('rotates the refresh token, and a reused one revokes the whole grant', async () => {
    const config = await registerRelyingParty();
    const first = (await signIn(config, new Browser())).refresh_token as string;
    const refreshed = await client.refreshTokenGrant(config, first);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, first);
    assert.equal(refreshed.claims()?.sub, alice.id);
    assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, true);

    await assert.rejects(client.refreshTokenGrant(config, first), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
    // The reuse revoked the grant: the newest refresh token and its access token are dead too.
    await assert.rejects(
      client.refreshTokenGrant(config, refreshed.refresh_token as string),
      (e: client.ResponseBodyError) => e.error === 'invalid_grant',
    );
    assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, false);
    const events = await database
      .db('audit_events')
      .where({ type: 'refresh_token.reused', client_id: config.clientMetadata().client_id })
      .select('client_id');
    assert.equal(events.length, 1);
  });

  it('revokes an access token (RFC 7009)', async () => {
    const config = await registerRelyingParty();
    const tokens = await signIn(config, new Browser());
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
    await client.tokenRevocation(config, tokens.access_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
  });

  it('signs out through RP-initiated logout and ends the session', async () => {
    const config = await registerRelyingParty();
    const browser = new Browser();
    const tokens = await signIn(config, browser, 'openid');

    const logoutUrl = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: RP_LOGOUT_REDIRECT,
      state: 'bye',
    });
    let page = await browser.navigate(logoutUrl.toString());
    assert.equal(page.status, 200);
    assert.match(page.html, /<h1 id="page-title">Sign out<\/h1>/);
    assert.match(page.html, />Sign out<\/button>/);
    const form = findForm(page.html, /\/session\/end\/confirm$/);
    page = await browser.navigate(
      new URL(form.action, page.url).toString(),
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.hidden, logout: 'yes' }),
      },
      RP_LOGOUT_REDIRECT,
    );
    assert.equal(page.url, `${RP_LOGOUT_REDIRECT}?state=bye`);

    const silent = await authorizationRequest(config, { prompt: 'none' });
    page = await browser.navigate(silent.url.toString(), {}, RP_REDIRECT);
    const callback = new URL(page.url);
    assert.equal(callback.searchParams.get('error'), 'login_required');
  });
});
