// PKCE (S256) on every authorization code flow (OAuth 2.1, RFC 9700 §2.1.1), confidential clients
// included; an operator may let a legacy confidential client off, and nobody else can.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { authorizationRequest, discover, exchangeCode, RP_REDIRECT } from '../helpers/relyingParty.ts';
import { Browser } from '../helpers/browserForm.ts';

const PKCE_REQUIRED = 'Authorization Server policy requires PKCE to be used for this request';

describe('PKCE policy', () => {
  let database: TestDatabase;
  let server: TestServer;
  let modern: client.Configuration;
  let legacy: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    await createAlice(database);
    const modernClient = await createClient(database, server.config, { name: 'Modern app' });
    const legacyClient = await createClient(database, server.config, { name: 'Legacy app', allowCodeWithoutPkce: true });
    modern = await discover(server.issuer, modernClient.client_id, modernClient.client_secret);
    legacy = await discover(server.issuer, legacyClient.client_id, legacyClient.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const withoutPkce = (config: client.Configuration, state: string) =>
    client.buildAuthorizationUrl(config, { redirect_uri: RP_REDIRECT, scope: 'openid', state, nonce: `n-${state}` });

  it('sends a confidential client that omits PKCE back to its redirect URI with invalid_request', async () => {
    const response = await fetch(withoutPkce(modern, 'modern-1'), { redirect: 'manual' });
    assert.equal(response.status, 303);
    const location = new URL(response.headers.get('location') as string);
    assert.equal(`${location.origin}${location.pathname}`, RP_REDIRECT);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.equal(location.searchParams.get('error_description'), PKCE_REQUIRED);
    assert.equal(location.searchParams.get('state'), 'modern-1');
    assert.equal(location.searchParams.get('iss'), server.issuer);
  });

  it('lets the same client through with S256', async () => {
    const request = await authorizationRequest(modern, { scope: 'openid' });
    const response = await fetch(request.url, { redirect: 'manual' });
    assert.equal(response.status, 303);
    assert.match(response.headers.get('location') as string, /\/interaction\//);
  });

  it('lets a client the operator let off PKCE sign a user in without it', async () => {
    const browser = new Browser();
    let page = await browser.navigate(withoutPkce(legacy, 'legacy-1').toString());
    assert.equal(page.status, 200);
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password });
    page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    assert.ok(page.url.startsWith(RP_REDIRECT), page.url);
    const tokens = await client.authorizationCodeGrant(legacy, new URL(page.url), {
      expectedState: 'legacy-1',
      expectedNonce: 'n-legacy-1',
    });
    assert.ok(tokens.access_token);
    assert.ok(tokens.claims()?.sub);
  });

  it('still checks PKCE for that client when it does send a challenge', async () => {
    const browser = new Browser();
    const request = await authorizationRequest(legacy, { scope: 'openid' });
    let page = await browser.navigate(request.url.toString());
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password });
    page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    await assert.rejects(
      exchangeCode(legacy, page.url, { ...request, verifier: client.randomPKCECodeVerifier() }),
      (e: client.ResponseBodyError) => e.error === 'invalid_grant' && e.error_description === 'grant request is invalid',
    );
  });

  it('stores the opt-out as a column an operator can query', async () => {
    const rows = await database.db('clients').select('client_name', 'allow_code_without_pkce').orderBy('client_name');
    assert.deepEqual(
      rows.map((r) => [r.client_name, r.allow_code_without_pkce]),
      [
        ['Legacy app', true],
        ['Modern app', false],
        // The account area's built-in client: public, PKCE always.
        ['Your account', false],
      ],
    );
  });
});
