// Signing in through an upstream OpenID Provider, end to end with real peers: a second
// oidc-provider as the upstream (test/helpers/upstreamProvider.ts) and openid-client as the
// relying party. The first sign-in creates the user with the mapped claims; the next finds the
// same user; a verified email that has an account links only after its owner signs in; an
// unverified one never links; cancelling, a forged or replayed state and a provider that does not
// answer end on a screen that says so, and the relying party gets access_denied or
// temporarily_unavailable.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import * as client from 'openid-client';
import { leaveFor as leaveForConnection, toRelyingParty as reachRelyingParty } from '../helpers/federatedSignIn.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, type AuthorizationRequest } from '../helpers/relyingParty.ts';
import { signInUpstream, startUpstreamProvider, type UpstreamProvider } from '../helpers/upstreamProvider.ts';
import { createUser } from '../../src/accounts/index.ts';
import { createConnection, unlinkIdentity } from '../../src/federation/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';
import { ConflictError } from '../../src/errors/index.ts';
import { confirmTotp, startTotpEnrolment } from '../../src/mfa/totp.ts';
import { generate } from 'otplib';

const box = createSecretBox(TEST_SECRET_KEY);
const PASSWORD = 'a long and unguessable passphrase';

/** A port nobody listens on: a provider that is down. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('federation: upstream OpenID Connect', () => {
  let database: TestDatabase;
  let server: TestServer;
  let upstream: UpstreamProvider;
  let rp: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    // A provider that hangs is given up on after 2 s here (10 s by default).
    server = await startTestServer(database, { UPSTREAM_TIMEOUT_SECONDS: '2' });
    upstream = await startUpstreamProvider(`${server.issuer}/federation/oidc/callback`);
    await createConnection(operator(database), box, {
      id: 'upstream-idp',
      type: 'oidc',
      display_name: 'Upstream ID',
      settings: { issuer: upstream.issuer, client_id: upstream.clientId, scopes: ['openid', 'email', 'profile'] },
      client_secret: upstream.clientSecret,
    });
    await createConnection(operator(database), box, {
      id: 'acme-sso',
      type: 'oidc',
      display_name: 'Acme SSO',
      domains: ['acme.test'],
      settings: { issuer: upstream.issuer, client_id: upstream.clientId },
      client_secret: upstream.clientSecret,
    });
    await createConnection(operator(database), box, {
      id: 'gone',
      type: 'oidc',
      display_name: 'Gone ID',
      settings: { issuer: `http://127.0.0.1:${await closedPort()}`, client_id: 'x' },
      client_secret: 'whatever-secret',
    });
    const registered = await createClient(database, server.config, { name: 'Federated App' });
    rp = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await upstream?.close();
    await server?.close();
    await database?.dispose();
  });

  const leaveFor = (connection: string, params: Record<string, string> = {}) => leaveForConnection(rp, connection, params);

  const toRelyingParty = (browser: Browser, page: Page, request: AuthorizationRequest) => reachRelyingParty(rp, browser, page, request);

  const userCount = async () => Number((await database.db('users').count({ n: '*' }).first())?.n);

  it('creates the user at the first sign-in with the mapped claims, and finds the same user the next time', async () => {
    upstream.people.ann = {
      email: 'ann@upstream.test',
      email_verified: true,
      given_name: 'Ann',
      family_name: 'Upstream',
      name: 'Ann Upstream',
    };
    const first = await leaveFor('upstream-idp');
    assert.ok(first.page.url.startsWith(upstream.issuer), `at the provider: ${first.page.url}`);
    const back = await signInUpstream(first.browser, first.page, 'ann');
    const tokens = await toRelyingParty(first.browser, back, first.request);
    const claims = tokens.claims();
    assert.deepEqual(claims?.amr, ['fed'], 'a provider that says nothing of how it signed the person in: fed');
    const userinfo = await client.fetchUserInfo(rp, tokens.access_token, claims?.sub as string);
    assert.equal(userinfo.email, 'ann@upstream.test');
    assert.equal(userinfo.email_verified, true);
    assert.equal(userinfo.given_name, 'Ann');
    assert.equal(userinfo.name, 'Ann Upstream');
    const identity = await database.db('federated_identities').where({ connection_id: 'upstream-idp', subject: 'ann' }).first();
    assert.equal(identity.user_id, claims?.sub);
    const event = await database.db('domain_events').where('type', 'gatehouse.user.provisioned').first();
    assert.equal(event.subject, claims?.sub);

    const users = await userCount();
    upstream.people.ann.given_name = 'Annie';
    const again = await leaveFor('upstream-idp');
    const second = await toRelyingParty(again.browser, await signInUpstream(again.browser, again.page, 'ann'), again.request);
    assert.equal(second.claims()?.sub, claims?.sub, 'the same user');
    assert.equal(await userCount(), users, 'no second account');
    const { profile } = await database.db('users').where('id', claims?.sub).first('profile');
    assert.equal(profile.given_name, 'Annie', 'mapped claims follow the provider (claims_update: on_sign_in)');
    const signedIn = await database.db('domain_events').where({ type: 'gatehouse.login.federated', subject: claims?.sub }).first();
    assert.deepEqual(signedIn.data, { connection: 'upstream-idp' });
  });

  it('carries the provider’s amr into the sign-in', async () => {
    upstream.people.carl = { email: 'carl@upstream.test', email_verified: true };
    upstream.amr = ['pwd', 'otp'];
    try {
      const { browser, request, page } = await leaveFor('upstream-idp');
      const tokens = await toRelyingParty(browser, await signInUpstream(browser, page, 'carl'), request);
      assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(tokens.claims()?.acr, 'urn:gatehouse:acr:mfa');
    } finally {
      upstream.amr = [];
    }
  });

  it('links a verified email that has an account only after its owner signs in to it', async () => {
    const bob = await createUser(operator(database), { email: 'bob@example.com', password: PASSWORD, email_verified: true }, 4);
    upstream.people['bob-upstream'] = { email: 'bob@example.com', email_verified: true };
    const { browser, request, page } = await leaveFor('upstream-idp');
    const asked = await signInUpstream(browser, page, 'bob-upstream');
    assert.match(asked.html, /id="login-notice">An account with bob@example.com already exists. Sign in to it to link Upstream ID/);
    assert.match(asked.html, /id="email"[^>]*value="bob@example.com"/);
    assert.equal(await database.db('federated_identities').where({ subject: 'bob-upstream' }).first(), undefined, 'nothing linked yet');

    const wrong = await browser.submit(asked, /\/password$/, { email: 'bob@example.com', password: 'not the password' });
    assert.equal(wrong.status, 401);
    assert.equal(await database.db('federated_identities').where({ subject: 'bob-upstream' }).first(), undefined);
    const confirm = await browser.submit(asked, /\/password$/, { email: 'bob@example.com', password: PASSWORD }, RP_REDIRECT);
    assert.match(confirm.html, /<h1 id="page-title">Link Upstream ID\?<\/h1>/);
    assert.match(confirm.html, /as <strong>bob@example.com<\/strong>/);
    const signedIn = await browser.submit(confirm, /\/identity_link$/, { decision: 'link' }, RP_REDIRECT);
    const tokens = await toRelyingParty(browser, signedIn, request);
    assert.equal(tokens.claims()?.sub, bob.id);
    const identity = await database.db('federated_identities').where({ subject: 'bob-upstream' }).first();
    assert.equal(identity.user_id, bob.id);
    assert.ok(await database.db('audit_events').where({ type: 'user.identity_linked', user_id: bob.id }).first());

    const next = await leaveFor('upstream-idp');
    const direct = await toRelyingParty(next.browser, await signInUpstream(next.browser, next.page, 'bob-upstream'), next.request);
    assert.equal(direct.claims()?.sub, bob.id, 'linked: the provider alone signs Bob in now');
  });

  it('links nothing until the account’s second factor is done too, and nothing when the person says not now', async () => {
    const dana = await createUser(operator(database), { email: 'dana@example.com', password: PASSWORD, email_verified: true }, 4);
    const { secret } = await startTotpEnrolment(operator(database), { box }, dana.id, { accountName: dana.email, issuer: 'Gatehouse' });
    assert.equal(
      await confirmTotp(operator(database), { box }, dana.id, await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 30 })),
      true,
    );
    upstream.people['dana-upstream'] = { email: 'dana@example.com', email_verified: true };

    const first = await leaveFor('upstream-idp');
    const asked = await signInUpstream(first.browser, first.page, 'dana-upstream');
    const mfa = await first.browser.submit(asked, /\/password$/, { email: 'dana@example.com', password: PASSWORD }, RP_REDIRECT);
    assert.match(mfa.html, /\/totp"/, 'the second factor is asked');
    assert.equal(
      await database.db('federated_identities').where({ subject: 'dana-upstream' }).first(),
      undefined,
      'the password alone links nothing',
    );

    const confirm = await first.browser.submit(
      mfa,
      /\/totp$/,
      { code: await generate({ secret, epoch: Math.floor(Date.now() / 1000) }) },
      RP_REDIRECT,
    );
    assert.match(confirm.html, /Link Upstream ID\?/);
    const declined = await first.browser.submit(confirm, /\/identity_link$/, { decision: 'skip' }, RP_REDIRECT);
    const tokens = await toRelyingParty(first.browser, declined, first.request);
    assert.equal(tokens.claims()?.sub, dana.id, 'signed in to the account all the same');
    assert.equal(
      await database.db('federated_identities').where({ subject: 'dana-upstream' }).first(),
      undefined,
      'not now: nothing linked',
    );
  });

  it('never links an unverified email to the account that has it, and creates no user', async () => {
    await createUser(operator(database), { email: 'cleo@example.com', password: PASSWORD, email_verified: true }, 4);
    upstream.people.mallory = { email: 'cleo@example.com', email_verified: false };
    const users = await userCount();
    const { browser, page } = await leaveFor('upstream-idp');
    const refused = await signInUpstream(browser, page, 'mallory');
    assert.equal(refused.status, 403);
    assert.match(refused.html, /An account with this email already exists here, and Upstream ID has not verified the address/);
    assert.equal(await database.db('federated_identities').where({ subject: 'mallory' }).first(), undefined);
    assert.equal(await userCount(), users);
    const back = await browser.submit(refused, /\/upstream\/give-up$/, {}, RP_REDIRECT);
    assert.equal(new URL(back.url).searchParams.get('error'), 'access_denied');
  });

  it('tells the person they cancelled at the provider, and the relying party gets access_denied', async () => {
    const { browser, page } = await leaveFor('upstream-idp');
    const uid = /\/interaction\/([^/"]+)/.exec(page.url)?.[1] as string;
    const cancelled = await browser.navigate(`${upstream.issuer}/interaction/${uid}/abort`, {}, RP_REDIRECT);
    assert.equal(cancelled.status, 400);
    assert.match(cancelled.html, /Signing in with Upstream ID was cancelled or refused/);
    const back = await browser.submit(cancelled, /\/upstream\/give-up$/, {}, RP_REDIRECT);
    assert.equal(new URL(back.url).searchParams.get('error'), 'access_denied');
  });

  it('refuses a forged state and a callback used twice, on a screen that says so', async () => {
    upstream.people.dora = { email: 'dora@upstream.test', email_verified: true };
    const { browser, request, page } = await leaveFor('upstream-idp');
    const login = await browser.submit(page, /\/interaction\/[^/]+$/, { prompt: 'login', login: 'dora', password: 'any' });
    const atCallback = login.html.includes('name="prompt" value="consent"')
      ? await browser.request(new URL(/action="([^"]+)"/.exec(login.html)?.[1] as string, login.url).href, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ prompt: 'consent' }),
        })
      : login.response;
    // Follow the provider's redirects by hand up to our callback, and keep its URL.
    let location = atCallback.headers.get('location') as string;
    let url = new URL(location, upstream.issuer).href;
    while (!url.startsWith(`${server.issuer}/federation/oidc/callback`)) {
      const next = await browser.request(url);
      location = next.headers.get('location') as string;
      url = new URL(location, url).href;
    }
    const forged = new URL(url);
    forged.searchParams.set('state', (forged.searchParams.get('state') as string).replace(/\.[^.]+$/, `.${'A'.repeat(32)}`));
    const refused = await browser.navigate(forged.href);
    assert.equal(refused.status, 400);
    assert.match(refused.html, /This sign-in was already used or has expired/);
    assert.equal(await database.db('users').where({ email: 'dora@upstream.test' }).first(), undefined);
    // Anyone may post a forged state to the callback (form_post comes without cookies): it uses
    // up nothing and keeps nothing, so the genuine answer still goes through, once.
    const records = async () => Number((await database.db('verification_records').count({ n: '*' }).first())?.n);
    const before = await records();
    const posted = await fetch(`${server.issuer}/federation/oidc/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ code: 'x', state: forged.searchParams.get('state') as string }),
      redirect: 'manual',
    });
    assert.equal(posted.status, 303);
    assert.equal(await records(), before, 'nothing kept for a post that found no trip');
    const genuine = await browser.navigate(url, {}, RP_REDIRECT);
    await toRelyingParty(browser, genuine, request);
    assert.ok(await database.db('users').where({ email: 'dora@upstream.test' }).first());
    const again = await browser.navigate(url);
    assert.equal(again.status, 400, 'a callback used twice');

    const malformed = await browser.navigate(`${server.issuer}/federation/oidc/callback?code=x&state=nonsense`);
    assert.equal(malformed.status, 400);
    assert.match(malformed.html, /This sign-in link is not valid/);
  });

  it('says a provider that cannot be reached is unavailable, and the relying party gets temporarily_unavailable', async () => {
    const { browser, page } = await leaveFor('gone');
    assert.equal(page.status, 503);
    assert.match(page.html, /Gone ID is not available right now/);
    const back = await browser.submit(page, /\/upstream\/give-up$/, {}, RP_REDIRECT);
    assert.equal(new URL(back.url).searchParams.get('error'), 'temporarily_unavailable');
  });

  it('gives up on a provider that accepts the connection and never answers, and the relying party gets temporarily_unavailable', async () => {
    await createConnection(operator(database), box, {
      id: 'hanging-idp',
      type: 'oidc',
      display_name: 'Hanging ID',
      settings: { issuer: upstream.issuer, client_id: upstream.clientId },
      client_secret: upstream.clientSecret,
    });
    upstream.down = true;
    try {
      const { browser, page } = await leaveFor('hanging-idp');
      assert.equal(page.status, 503);
      assert.match(page.html, /Hanging ID is not available right now/);
      const back = await browser.submit(page, /\/upstream\/give-up$/, {}, RP_REDIRECT);
      assert.equal(new URL(back.url).searchParams.get('error'), 'temporarily_unavailable');
    } finally {
      upstream.down = false;
    }
  });

  it('refuses to unlink the last way a user has to sign in', async () => {
    const ann = await database.db('federated_identities').where({ subject: 'ann' }).first();
    await assert.rejects(unlinkIdentity(operator(database), ann.user_id, 'upstream-idp', 'ann'), ConflictError);
    assert.ok(await database.db('federated_identities').where({ subject: 'ann' }).first(), 'still linked');
  });

  it('lets a signed-in user link identities on the Security page, refuses one that is someone else’s, and removes one unless it is the last way in', async () => {
    await createUser(operator(database), { email: 'erin@example.com', password: PASSWORD, email_verified: true }, 4);
    upstream.people['erin-work'] = { email: 'erin@work.test', email_verified: false };
    const browser = new Browser();
    let page = await browser.navigate(`${server.issuer}/account/security`);
    page = await browser.submit(page, /\/password$/, { email: 'erin@example.com', password: PASSWORD });
    assert.equal(page.url, `${server.issuer}/account/security`);
    assert.match(page.html, /No identity is linked/);

    const atProvider = await browser.submit(page, /\/identities\/upstream-idp\/link$/, {});
    page = await signInUpstream(browser, atProvider, 'erin-work');
    assert.equal(page.url, `${server.issuer}/account/security?done=identity-linked`);
    assert.match(page.html, /The identity was linked/);
    assert.match(page.html, /<strong>Upstream ID<\/strong> <span class="hint">erin@work.test<\/span>/);
    const erin = await database.db('users').where({ email: 'erin@example.com' }).first('id');
    assert.equal((await database.db('federated_identities').where({ subject: 'erin-work' }).first()).user_id, erin.id);

    // Ann's identity signs in to Ann's account: it cannot become Erin's too.
    const again = await browser.submit(page, /\/identities\/upstream-idp\/link$/, {});
    page = await signInUpstream(browser, again, 'ann');
    assert.equal(page.url, `${server.issuer}/account/security?problem=identity-taken`);
    assert.notEqual((await database.db('federated_identities').where({ subject: 'ann' }).first()).user_id, erin.id);

    page = await browser.submit(page, /\/identities\/upstream-idp\/unlink$/, {});
    assert.equal(page.url, `${server.issuer}/account/security?done=identity-removed`);
    assert.equal(await database.db('federated_identities').where({ subject: 'erin-work' }).first(), undefined);
  });

  it('sends an address of an enterprise domain to its provider from the sign-in screen (home-realm discovery), with the address as login_hint', async () => {
    upstream.people.frank = { email: 'frank@acme.test', email_verified: true };
    const browser = new Browser();
    const request = await authorizationRequest(rp);
    const login = await browser.navigate(request.url.toString());
    const atProvider = await browser.submit(login, /\/password$/, { email: 'Frank@ACME.test', password: '' });
    assert.ok(atProvider.url.startsWith(upstream.issuer), `sent to the provider: ${atProvider.url}`);
    const tokens = await toRelyingParty(browser, await signInUpstream(browser, atProvider, 'frank'), request);
    const identity = await database.db('federated_identities').where({ connection_id: 'acme-sso', subject: 'frank' }).first();
    assert.equal(tokens.claims()?.sub, identity.user_id);

    const elsewhere = new Browser();
    const other = await elsewhere.navigate((await authorizationRequest(rp)).url.toString());
    const stays = await elsewhere.submit(other, /\/password$/, { email: 'frank@elsewhere.test', password: '' });
    assert.equal(stays.status, 400, 'any other domain stays on the screen');
    assert.match(stays.html, /Enter your email and password/);
  });

  it('skips the sign-in screen for the connection a relying party names (connection= or idp_hint=), and ignores one not offered', async () => {
    for (const param of ['connection', 'idp_hint']) {
      const browser = new Browser();
      const request = await authorizationRequest(rp, { [param]: 'acme-sso' });
      const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
      assert.ok(page.url.startsWith(upstream.issuer), `${param}: straight to the provider (${page.url})`);
    }
    const unknown = await new Browser().navigate((await authorizationRequest(rp, { connection: 'nope' })).url.toString());
    assert.match(unknown.html, /<h1 id="page-title">Sign in<\/h1>/);
  });

  it('signs in through a plain OAuth 2.0 provider, reading who it is from its profile URL', async () => {
    await createConnection(operator(database), box, {
      id: 'plain-oauth',
      type: 'oauth2',
      display_name: 'Plain OAuth',
      settings: {
        client_id: upstream.clientId,
        authorization_endpoint: `${upstream.issuer}/auth`,
        token_endpoint: `${upstream.issuer}/token`,
        // The upstream's userinfo answers as a profile URL would: JSON for the access token.
        profile_url: `${upstream.issuer}/me`,
        scopes: ['openid', 'email', 'profile'],
        subject_claim: 'sub',
        email_verified_claim: 'email_verified',
        token_endpoint_auth_method: 'client_secret_basic',
      },
      client_secret: upstream.clientSecret,
    });
    upstream.people.gus = { email: 'gus@upstream.test', email_verified: true, name: 'Gus Plain' };
    const { browser, request, page } = await leaveFor('plain-oauth');
    assert.ok(page.url.startsWith(`${upstream.issuer}/interaction/`), page.url);
    const tokens = await toRelyingParty(browser, await signInUpstream(browser, page, 'gus'), request);
    const userinfo = await client.fetchUserInfo(rp, tokens.access_token, tokens.claims()?.sub as string);
    assert.equal(userinfo.email, 'gus@upstream.test');
    assert.equal(userinfo.email_verified, true);
    assert.equal(userinfo.name, 'Gus Plain');
    assert.equal((await database.db('federated_identities').where({ connection_id: 'plain-oauth' }).first()).subject, 'gus');
  });

  it('with the GitHub preset, takes the primary verified email from the emails list and GitHub’s names for standard claims', async () => {
    // api.github.com cannot be reached from here: this stand-in answers /user and /user/emails in
    // GitHub's documented shapes (numeric id, login, avatar_url; a list of emails). The OAuth 2.0
    // part (authorize, token, PKCE) is the real upstream provider's.
    const seen: string[] = [];
    const api = createHttpServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization?.startsWith('Bearer ') ? 'bearer' : 'none'}`);
      res.setHeader('content-type', 'application/json');
      if (req.url === '/user')
        return res.end(
          JSON.stringify({
            id: 583231,
            login: 'octocat',
            name: 'The Octocat',
            avatar_url: 'https://avatars.example/u/583231',
            email: 'octo@public.test',
          }),
        );
      if (req.url === '/user/emails')
        return res.end(
          JSON.stringify([
            { email: 'octo@public.test', primary: false, verified: false },
            { email: 'octocat@github.test', primary: true, verified: true },
          ]),
        );
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
    try {
      await createConnection(operator(database), box, {
        id: 'github',
        type: 'oauth2',
        display_name: 'GitHub',
        settings: {
          preset: 'github',
          client_id: upstream.clientId,
          authorization_endpoint: `${upstream.issuer}/auth`,
          token_endpoint: `${upstream.issuer}/token`,
          profile_url: `${apiUrl}/user`,
          emails_url: `${apiUrl}/user/emails`,
          scopes: ['openid'],
        },
        client_secret: upstream.clientSecret,
      });
      upstream.people.octo = {};
      const { browser, request, page } = await leaveFor('github');
      const tokens = await toRelyingParty(browser, await signInUpstream(browser, page, 'octo'), request);
      const userinfo = await client.fetchUserInfo(rp, tokens.access_token, tokens.claims()?.sub as string);
      assert.equal(userinfo.email, 'octocat@github.test', 'the primary verified email, not the unverified public one');
      assert.equal(userinfo.email_verified, true);
      assert.equal(userinfo.preferred_username, 'octocat');
      assert.equal(userinfo.picture, 'https://avatars.example/u/583231');
      assert.equal((await database.db('federated_identities').where({ connection_id: 'github' }).first()).subject, '583231');
      assert.deepEqual(seen, ['/user bearer', '/user/emails bearer']);
    } finally {
      await new Promise<void>((resolve) => api.close(() => resolve()));
    }
  });

  it('takes the code posted back (response_mode=form_post), as Apple sends it', async () => {
    await createConnection(operator(database), box, {
      id: 'posted-idp',
      type: 'oidc',
      display_name: 'Posted ID',
      settings: { issuer: upstream.issuer, client_id: upstream.clientId, response_mode: 'form_post' },
      client_secret: upstream.clientSecret,
    });
    upstream.people.hana = { email: 'hana@upstream.test', email_verified: true };
    const { browser, request, page } = await leaveFor('posted-idp');
    const posting = await signInUpstream(browser, page, 'hana');
    // The provider's page posts the code to our callback (no code or state in any URL).
    assert.match(posting.html, /action="http:\/\/localhost:\d+\/federation\/oidc\/callback"/);
    const back = await browser.submit(posting, /\/federation\/oidc\/callback$/, {}, RP_REDIRECT);
    const tokens = await toRelyingParty(browser, back, request);
    const identity = await database.db('federated_identities').where({ connection_id: 'posted-idp', subject: 'hana' }).first();
    assert.equal(tokens.claims()?.sub, identity.user_id);
  });
});
