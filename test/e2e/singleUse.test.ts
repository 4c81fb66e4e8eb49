// Anything single-use stays single-use when an attacker sends it from many connections at once:
// authorization codes, refresh tokens, device codes, pushed request URIs, and the `jti` of client
// assertions and DPoP proofs. On the real PostgreSQL (CI) the requests truly run in parallel; on
// PGlite they interleave at every query, which still races the read-then-consume of each.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser } from '../helpers/browserForm.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, basicAuth, discover } from '../helpers/relyingParty.ts';

const PARALLEL = 8;

describe('single-use artefacts under parallel requests', () => {
  let database: TestDatabase;
  let server: TestServer;
  let app: { client_id: string; client_secret?: string };
  let rp: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    await createAlice(database);
    app = await createClient(database, server.config, { name: 'Race App' });
    rp = await discover(server.issuer, app.client_id, app.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const tokenEndpoint = () => new URL('/token', server.issuer).toString();

  function postToken(params: Record<string, string>, headers: Record<string, string> = {}, path = '/token') {
    return fetch(new URL(path, server.issuer), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(app.client_id, app.client_secret as string),
        ...headers,
      },
      body: new URLSearchParams(params),
    });
  }

  /** Alice signs in and allows; returns the code on the redirect and what redeems it. */
  async function authorizationCode(browser = new Browser(), extra: Record<string, string> = {}) {
    const request = await authorizationRequest(rp, { scope: 'openid email offline_access', prompt: 'consent', ...extra });
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    if (!page.url.startsWith(RP_REDIRECT))
      page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password }, RP_REDIRECT);
    if (!page.url.startsWith(RP_REDIRECT)) page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    const code = new URL(page.url).searchParams.get('code');
    assert.ok(code, `no code on ${page.url}`);
    return { code, verifier: request.verifier };
  }

  const redeem = (code: string, verifier: string) =>
    postToken({ grant_type: 'authorization_code', code, redirect_uri: RP_REDIRECT, code_verifier: verifier });

  async function introspect(token: string): Promise<boolean> {
    const response = await postToken({ token }, {}, '/token/introspection');
    assert.equal(response.status, 200);
    return ((await response.json()) as { active: boolean }).active;
  }

  async function auditCount(type: string): Promise<number> {
    const [{ count }] = await database.db('audit_events').where({ type }).count<{ count: string | number }[]>('* as count');
    return Number(count);
  }

  async function statusesAndBodies(responses: Response[]) {
    return Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> })));
  }

  it('redeems an authorization code sent by N parallel requests exactly once, then revokes what it bought', async () => {
    const { code, verifier } = await authorizationCode();
    const replaysBefore = await auditCount('authorization_code.replayed');
    const results = await statusesAndBodies(await Promise.all(Array.from({ length: PARALLEL }, () => redeem(code, verifier))));

    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1, `statuses: ${results.map((r) => r.status)}`);
    for (const loser of results.filter((r) => r.status !== 200)) {
      assert.equal(loser.status, 400);
      assert.equal(loser.body.error, 'invalid_grant');
    }
    // A replay means the code leaked: what it bought is revoked, as for a sequential replay.
    assert.equal(await introspect(winners[0].body.access_token), false);
    assert.equal(await introspect(winners[0].body.refresh_token), false);
    assert.ok((await auditCount('authorization_code.replayed')) > replaysBefore, 'the replay is audited');
  });

  it('leaves no usable refresh token after N parallel refreshes of one, and audits the reuse', async () => {
    const { code, verifier } = await authorizationCode();
    const first = (await (await redeem(code, verifier)).json()) as { refresh_token: string };
    const reusesBefore = await auditCount('refresh_token.reused');
    const refresh = () => postToken({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
    const results = await statusesAndBodies(await Promise.all(Array.from({ length: PARALLEL }, refresh)));

    // The winner passed every check before it consumed, so it is answered; the losers revoke.
    assert.equal(results.filter((r) => r.status === 200).length, 1, `statuses: ${results.map((r) => r.status)}`);
    for (const loser of results.filter((r) => r.status !== 200)) assert.equal(loser.body.error, 'invalid_grant');
    // Of every token handed out, none still works: the reuse revoked the grant.
    const rotated = results.filter((r) => r.status === 200).map((r) => r.body.refresh_token);
    let usable = 0;
    for (const token of [first.refresh_token, ...rotated]) {
      if ((await postToken({ grant_type: 'refresh_token', refresh_token: token })).status === 200) usable++;
    }
    assert.equal(usable, 0, `${usable} refresh tokens still work`);
    assert.ok((await auditCount('refresh_token.reused')) > reusesBefore, 'the reuse is audited');
  });

  it('gives tokens for one approved device code to exactly one of N parallel polls', async () => {
    const tv = await createClient(database, server.config, {
      name: 'Race TV',
      redirectUris: [],
      postLogoutRedirectUris: [],
      grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'],
      authMethod: 'none',
      applicationType: 'native',
    });
    const device = await client.initiateDeviceAuthorization(await discover(server.issuer, tv.client_id), { scope: 'openid' });
    const browser = new Browser();
    let page = await browser.navigate(device.verification_uri);
    page = await browser.submit(page, /\/device$/, { user_code: device.user_code });
    page = await browser.submit(page, /\/device$/, {});
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password });
    page = await browser.submit(page, /\/consent$/, { decision: 'allow' });
    assert.match(page.html, /Device connected/);

    const poll = () =>
      fetch(tokenEndpoint(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: device.device_code,
          client_id: tv.client_id,
        }),
      });
    const results = await statusesAndBodies(await Promise.all(Array.from({ length: PARALLEL }, poll)));
    assert.equal(results.filter((r) => r.status === 200).length, 1, `statuses: ${results.map((r) => r.status)}`);
    for (const loser of results.filter((r) => r.status !== 200)) assert.equal(loser.body.error, 'invalid_grant');
  });

  it('lets a pushed request URI start exactly one of N parallel authorizations', async () => {
    // Alice is signed in and has allowed these scopes, so an authorization answers at once.
    const browser = new Browser();
    await authorizationCode(browser);
    const request = await authorizationRequest(rp, { scope: 'openid email offline_access' });
    const pushed = await postToken(Object.fromEntries(request.url.searchParams), {}, '/request');
    assert.equal(pushed.status, 201);
    const { request_uri } = (await pushed.json()) as { request_uri: string };
    const authorize = () =>
      browser.request(new URL(`/auth?${new URLSearchParams({ client_id: app.client_id, request_uri })}`, server.issuer).toString());
    const locations = (await Promise.all(Array.from({ length: PARALLEL }, authorize))).map((r) => r.headers.get('location') ?? '');
    const withCode = locations.filter((l) => l.startsWith(RP_REDIRECT) && new URL(l).searchParams.has('code'));
    assert.equal(withCode.length, 1, `redirects: ${locations.join(' | ')}`);
    for (const other of locations.filter((l) => !withCode.includes(l))) {
      assert.equal(new URL(other).searchParams.get('error'), 'invalid_request_uri', other);
    }
  });

  it('accepts one client assertion sent by N parallel requests once; the rest are replays', async () => {
    const jwtApp = await createClient(database, server.config, { name: 'JWT App', authMethod: 'client_secret_jwt' });
    const assertion = await new jose.SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(jwtApp.client_id)
      .setSubject(jwtApp.client_id)
      .setAudience(server.issuer)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(jwtApp.client_secret));
    // A refresh token nobody issued: a request that gets past client authentication ends there.
    const send = () =>
      fetch(tokenEndpoint(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: 'not-a-token',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
    const results = await statusesAndBodies(await Promise.all(Array.from({ length: PARALLEL }, send)));
    const errors = results.map((r) => r.body.error).sort();
    assert.deepEqual(errors, [...Array(PARALLEL - 1).fill('invalid_client'), 'invalid_grant'], JSON.stringify(results));
  });

  it('accepts one DPoP proof sent by N parallel requests once; the rest are replays', async () => {
    const key = await jose.generateKeyPair('ES256');
    const dpop = client.getDPoPHandle(rp, key);
    const request = await authorizationRequest(rp, { scope: 'openid email', prompt: 'consent' });
    const browser = new Browser();
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password }, RP_REDIRECT);
    page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    const tokens = await client.authorizationCodeGrant(
      rp,
      new URL(page.url),
      { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce },
      undefined,
      { DPoP: dpop },
    );
    assert.equal(tokens.token_type, 'dpop');

    const userinfo = new URL('/me', server.issuer).toString();
    const jwk = await jose.exportJWK(key.publicKey);
    const proof = await new jose.SignJWT({
      htm: 'GET',
      htu: userinfo,
      ath: jose.base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(tokens.access_token)))),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .setJti(randomUUID())
      .setIssuedAt()
      .sign(key.privateKey);
    const call = () => fetch(userinfo, { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proof } });
    const statuses = (await Promise.all(Array.from({ length: PARALLEL }, call))).map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, ...Array(PARALLEL - 1).fill(401)]);
  });
});
