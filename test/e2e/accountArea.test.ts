// The account area at /account over real HTTP, as a browser without JavaScript uses it: it signs
// in through our own authorization endpoint as the built-in client (no consent screen, while
// other clients still get one), redeems its code once (of two parallel callbacks exactly one
// signs in), refuses a callback it did not start, signs out of the SSO session too, sends a factor
// change with an old sign-in through max_age first (changing nothing), sets up an authenticator
// app from the shown key, shows recovery codes once, and refuses forms without their CSRF token.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { Browser, decode, findForm, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover } from '../helpers/relyingParty.ts';
import { heading } from '../helpers/accountScreens.ts';
import { createUser, suspendUser, type User } from '../../src/accounts/index.ts';
import { confirmTotp, startTotpEnrolment, totpStatus } from '../../src/mfa/totp.ts';
import { recoveryCodesStatus } from '../../src/mfa/recoveryCodes.ts';
import { listDevices } from '../../src/mfa/devices.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { clearReadCaches } from '../../src/db/readCache.ts';
import { ACCOUNT_CLIENT } from '../../src/oidc/builtInClients.ts';
import { createClient as registerClient, deleteClient, updateClient } from '../../src/clients/index.ts';
import { commandContext } from '../../src/cli/context.ts';
import { ConflictError, ForbiddenError } from '../../src/errors/index.ts';
import { safeReturnTo } from '../../src/account/signIn.ts';

const PASSWORD = 'a long and unguessable passphrase';
const box = createSecretBox(TEST_SECRET_KEY);
const now = () => Math.floor(Date.now() / 1000);
/** The code an authenticator app shows now (Date may be mocked: the app's clock moves with it). */
const totpCode = (secret: string) => generate({ secret, epoch: now() });

describe('the account area', () => {
  let database: TestDatabase;
  let server: TestServer;
  let counter = 0;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const url = (path: string) => `${server.issuer}${path}`;

  async function newUser(): Promise<User> {
    counter += 1;
    return createUser(operator(database), { email: `account-${counter}@example.com`, password: PASSWORD, email_verified: true }, 4);
  }

  /** Answers the sign-in screens (password, an authenticator code when asked, no passkey offer) until they end. */
  async function answerSignIn(browser: Browser, page: Page, user: User, totpSecret?: string, stopAt?: string): Promise<Page> {
    let current = page;
    for (let step = 0; step < 5; step++) {
      if (/action="\/interaction\/[^"]+\/password"/.test(current.html)) {
        current = await browser.submit(current, /\/password$/, { email: user.email, password: PASSWORD }, stopAt);
      } else if (totpSecret && /action="\/interaction\/[^"]+\/totp"/.test(current.html)) {
        current = await browser.submit(current, /\/totp$/, { code: await totpCode(totpSecret) }, stopAt);
      } else if (/action="\/interaction\/[^"]+\/passkey_offer\/skip"/.test(current.html)) {
        // The sign-in offers to add a passkey: not now.
        current = await browser.submit(current, /\/passkey_offer\/skip$/, {}, stopAt);
      } else {
        return current;
      }
    }
    return current;
  }

  /** A browser signed in to the account area, on `path`. */
  async function signedIn(user: User, path = '/account/security', totpSecret?: string): Promise<{ browser: Browser; page: Page }> {
    const browser = new Browser();
    const page = await answerSignIn(browser, await browser.navigate(url(path)), user, totpSecret);
    assert.equal(page.url, url(path), `expected to land on ${path}: ${page.status} ${page.url}\n${page.html.slice(0, 1500)}`);
    return { browser, page };
  }

  /** Signs in up to the callback and stops there: the callback URL, not yet visited. */
  async function callbackUrl(browser: Browser, user: User): Promise<string> {
    const login = await browser.navigate(url('/account'), {}, url('/account/callback'));
    const landed = await answerSignIn(browser, login, user, undefined, url('/account/callback'));
    assert.ok(landed.url.startsWith(url('/account/callback?')), landed.url);
    return landed.url;
  }

  /** Fetches with the browser's cookies, without storing what comes back. */
  const rawRequest = (browser: Browser, target: string) =>
    fetch(target, { headers: { cookie: browser.jar.header(), accept: 'text/html' }, redirect: 'manual' });

  async function enrolledAuthenticator(user: User): Promise<string> {
    const { secret } = await startTotpEnrolment(operator(database), { box }, user.id, { accountName: user.email, issuer: 'Gatehouse' });
    const code = await generate({ secret, epoch: now() - 30 });
    assert.equal(await confirmTotp(operator(database), { box }, user.id, code), true);
    return secret;
  }

  it('signs in through the authorization endpoint as its own client, with PKCE, and shows the Security page', async () => {
    const user = await newUser();
    const browser = new Browser();
    const first = await browser.request(url('/account/security'));
    assert.equal(first.status, 303);
    const authorization = new URL(first.headers.get('location') as string, server.issuer);
    assert.equal(authorization.pathname, '/auth');
    const params = authorization.searchParams;
    assert.equal(params.get('client_id'), ACCOUNT_CLIENT.clientId);
    assert.equal(params.get('redirect_uri'), url('/account/callback'));
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('scope'), 'openid email profile');
    assert.equal(params.get('code_challenge_method'), 'S256');
    for (const name of ['state', 'nonce', 'code_challenge']) assert.match(params.get(name) ?? '', /^[\w-]{43,}$/, name);
    const pending = first.headers.getSetCookie().find((c) => c.startsWith('gatehouse.account_sign_in='));
    assert.match(pending ?? '', /; path=\/account;.*httponly/i);
    assert.match(pending ?? '', /samesite=lax/i);

    const login = await browser.navigate(authorization.toString(), {}, url('/account/callback'));
    assert.equal(heading(login.html), 'Sign in');
    const atCallback = await answerSignIn(browser, login, user, undefined, url('/account/callback'));
    // No consent screen on the way: the password form led straight back to the callback.
    assert.ok(atCallback.url.startsWith(url('/account/callback?')), atCallback.url);
    const callback = await browser.request(atCallback.url);
    assert.equal(callback.status, 303);
    assert.equal(callback.headers.get('location'), '/account/security');
    const session = callback.headers.getSetCookie().find((c) => c.startsWith('gatehouse.account='));
    assert.match(session ?? '', /; path=\/account;.*samesite=lax; httponly/i);
    assert.doesNotMatch(session ?? '', new RegExp(user.email.replace('@', '%40')), 'the session cookie is sealed');

    const security = await browser.navigate(url('/account/security'));
    assert.equal(security.status, 200);
    assert.equal(heading(security.html), 'Security');
    assert.match(security.html, new RegExp(`Signed in as <strong>${user.email}</strong>`));
    assert.match(security.html, /<a href="\/account\/security" aria-current="page">Security<\/a>/);
    assert.equal(security.response.headers.get('cache-control'), 'no-store');
    for (const box of ['Passkeys', 'Authenticator app', 'Recovery codes'])
      assert.match(security.html, new RegExp(`<h2 id="[^"]+">${box}</h2>`));

    const overview = await browser.navigate(url('/account'));
    assert.equal(heading(overview.html), 'Your account');
    assert.match(overview.html, new RegExp(`${user.email} <span class="badge ok">Verified</span>`));
  });

  it('still asks any other client for consent in the same browser', async () => {
    const user = await newUser();
    const { browser } = await signedIn(user);
    const app = await createClient(database, server.config, { name: 'Other App' });
    const config = await discover(server.issuer, app.client_id, app.client_secret);
    const request = await authorizationRequest(config);
    const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    assert.equal(heading(page.html), 'Allow access');
    assert.match(page.html, /<strong>Other App<\/strong> is asking to:/);
  });

  it('asks for consent when the built-in client is sent elsewhere than its own callback', async () => {
    const user = await newUser();
    const { browser } = await signedIn(user);
    // An altered registration (the services refuse to make one; the table can be edited).
    await database
      .db('clients')
      .where('client_id', ACCOUNT_CLIENT.clientId)
      .update({ redirect_uris: JSON.stringify([url('/account/callback'), RP_REDIRECT]) });
    clearReadCaches(database.db);
    try {
      const config = await discover(server.issuer, ACCOUNT_CLIENT.clientId);
      const request = await authorizationRequest(config);
      const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
      assert.equal(heading(page.html), 'Allow access');
    } finally {
      // A start puts the registration back as it must be.
      const restarted = await startTestServer(database, { ISSUER: server.issuer });
      await restarted.close();
      clearReadCaches(database.db);
    }
    const row = await database.db('clients').where('client_id', ACCOUNT_CLIENT.clientId).first();
    assert.deepEqual(row.redirect_uris, [url('/account/callback')]);
    // A start that finds it as it must be writes nothing.
    await (await startTestServer(database, { ISSUER: server.issuer })).close();
    const events = await database.db('domain_events').where('subject', ACCOUNT_CLIENT.clientId).orderBy('seq').pluck('type');
    assert.deepEqual(events, ['gatehouse.client.created', 'gatehouse.client.updated']);
  });

  it('redeems a callback code once: of two parallel callbacks exactly one signs in, and a replay is refused', async () => {
    const user = await newUser();
    const browser = new Browser();
    const callback = await callbackUrl(browser, user);
    const answers = await Promise.all([rawRequest(browser, callback), rawRequest(browser, callback)]);
    const signedInAnswers = answers.filter((a) => a.headers.getSetCookie().some((c) => /^gatehouse\.account=[^;]/.test(c)));
    assert.equal(signedInAnswers.length, 1, `statuses ${answers.map((a) => a.status)}`);
    assert.equal(signedInAnswers[0].status, 303);
    const refused = answers.find((a) => a !== signedInAnswers[0]) as Response;
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /This sign-in (was already used|could not be completed)/);

    const replay = await rawRequest(browser, callback);
    assert.equal(replay.status, 400);
    assert.doesNotMatch(replay.headers.getSetCookie().join('\n'), /gatehouse\.account=[^;]/);
    const audited = await database.db('audit_events').where({ type: 'authorization_code.replayed', client_id: ACCOUNT_CLIENT.clientId });
    assert.ok(audited.length >= 1);
  });

  it('refuses a callback whose state it did not start, and says when the sign-in was cancelled', async () => {
    const browser = new Browser();
    const strangers = await new Browser().navigate(url('/account/callback?code=abc&state=made-up'));
    assert.equal(strangers.status, 400);
    assert.equal(heading(strangers.html), 'This sign-in is no longer valid');

    const login = await browser.navigate(url('/account'));
    const wrongState = await browser.navigate(url('/account/callback?code=abc&state=not-the-one'));
    assert.equal(wrongState.status, 400);
    assert.equal(heading(wrongState.html), 'This sign-in is no longer valid');

    const cancelled = await browser.submit(login, /\/abort$/, {});
    assert.equal(cancelled.url.split('?')[0], url('/account/callback'));
    assert.equal(cancelled.status, 403);
    assert.equal(heading(cancelled.html), 'Sign-in cancelled');
    assert.match(cancelled.html, /<a href="\/account">Sign in again<\/a>/);
  });

  it('signs out of the account area and of the SSO session: the next visit asks for the password again', async () => {
    const user = await newUser();
    const { browser, page } = await signedIn(user, '/account');
    const confirm = await browser.submit(page, /^\/account\/sign-out$/, {});
    assert.equal(heading(confirm.html), 'Sign out');
    const signedOut = await browser.submit(confirm, /\/session\/end\/confirm$/, { logout: 'yes' });
    assert.equal(signedOut.url, url('/account/signed-out'));
    assert.equal(heading(signedOut.html), 'Signed out');

    const again = await browser.navigate(url('/account'));
    assert.equal(heading(again.html), 'Sign in');
    assert.match(again.html, /action="\/interaction\/[^"]+\/password"/);
  });

  it('ends the session when the user is suspended, and after 30 idle minutes', async (t: TestContext) => {
    const suspended = await newUser();
    const { browser } = await signedIn(suspended);
    await suspendUser(operator(database), suspended.id);
    const answer = await browser.request(url('/account/security'));
    assert.equal(answer.status, 303);
    assert.match(answer.headers.get('location') ?? '', /^\/auth\?/);

    const idle = await signedIn(await newUser());
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    t.mock.timers.tick(29 * 60 * 1000);
    assert.equal((await idle.browser.request(url('/account/security'))).status, 200);
    t.mock.timers.tick(29 * 60 * 1000);
    assert.equal((await idle.browser.request(url('/account/security'))).status, 200, 'each request restarts the idle time');
    t.mock.timers.tick(31 * 60 * 1000);
    const expired = await idle.browser.request(url('/account/security'));
    assert.equal(expired.status, 303);
    assert.match(expired.headers.get('location') ?? '', /^\/auth\?/);
  });

  it('sends a factor change with a sign-in older than 5 minutes through max_age=300 first, and changes nothing', async (t: TestContext) => {
    const user = await newUser();
    const secret = await enrolledAuthenticator(user);
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { browser, page } = await signedIn(user, '/account/security', secret);
    t.mock.timers.tick(301 * 1000);

    const removal = await browser.request(url('/account/security/authenticator-app/remove'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(findForm(page.html, /\/authenticator-app\/remove$/).hidden),
    });
    assert.equal(removal.status, 303);
    const again = new URL(removal.headers.get('location') as string, server.issuer);
    assert.equal(again.pathname, '/auth');
    assert.equal(again.searchParams.get('max_age'), '300');
    assert.equal((await totpStatus(database.db, user.id)).enrolled, true, 'nothing was removed');

    // The password (and the second factor) again, then back on the Security page.
    const login = await browser.navigate(again.toString());
    assert.match(login.html, /action="\/interaction\/[^"]+\/password"/);
    const back = await answerSignIn(browser, login, user, secret);
    assert.equal(back.url, url('/account/security'));
    const removed = await browser.submit(back, /\/authenticator-app\/remove$/, {});
    assert.equal(removed.url, url('/account/security?done=totp-removed'));
    assert.match(removed.html, /Your authenticator app was removed./);
    assert.equal((await totpStatus(database.db, user.id)).enrolled, false);
  });

  it('answers a passkey request with an old sign-in with where to sign in again (max_age=300), and starts no ceremony', async (t: TestContext) => {
    const user = await newUser();
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { browser, page } = await signedIn(user);
    const csrf = decode(/data-csrf="([^"]+)"/.exec(page.html)?.[1] ?? '');
    const options = () =>
      browser.request(url('/account/security/passkeys/options'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf },
        body: '{}',
      });
    const fresh = await options();
    assert.equal(fresh.status, 200);
    const { options: created } = (await fresh.json()) as { options: { challenge: string; rp: { id: string } } };
    assert.equal(created.rp.id, 'localhost');
    const flow = await database.db('verification_records').where({ user_id: user.id, method: 'passkey' }).first();
    assert.equal(flow?.challenge, created.challenge);
    assert.match(flow?.flow ?? '', /^account:/);

    t.mock.timers.tick(301 * 1000);
    const stale = await options();
    assert.equal(stale.status, 401);
    const problem = (await stale.json()) as { sign_in: string };
    const again = new URL(problem.sign_in, server.issuer);
    assert.equal(again.searchParams.get('max_age'), '300');
    assert.equal(
      await database
        .db('verification_records')
        .where({ user_id: user.id })
        .count('* as n')
        .first()
        .then((r) => Number(r?.n)),
      1,
    );
  });

  it('sets up an authenticator app from the shown key, shows recovery codes once, then only how many are left', async () => {
    const user = await newUser();
    const { browser, page } = await signedIn(user);
    assert.match(page.html, /You have no recovery codes./);
    const enrol = await browser.submit(page, /\/authenticator-app$/, {});
    assert.equal(enrol.url, url('/account/security/authenticator-app'));
    assert.equal(heading(enrol.html), 'Set up your authenticator app');
    assert.match(enrol.html, /<img src="data:image\/svg\+xml;base64,[^"]+" alt="QR code to scan with your authenticator app"/);
    const key = decode(/<code id="totp-key" class="totp-key">([^<]+)<\/code>/.exec(enrol.html)?.[1] ?? '').replaceAll(' ', '');
    assert.match(key, /^[A-Z2-7]{16,}$/);

    const wrong = await browser.submit(enrol, /\/confirm$/, { code: '000000' === (await totpCode(key)) ? '111111' : '000000' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.html, /That code is not right/);

    const codesPage = await browser.submit(wrong, /\/confirm$/, { code: await totpCode(key) });
    assert.equal(codesPage.status, 200);
    assert.equal(heading(codesPage.html), 'Save your recovery codes');
    assert.equal(codesPage.response.headers.get('cache-control'), 'no-store');
    const codes = [...codesPage.html.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
    assert.equal(codes.length, 10);
    assert.equal((await totpStatus(database.db, user.id)).enrolled, true);
    assert.equal((await recoveryCodesStatus(database.db, user.id)).remaining, 10);
    const events = await database.db('domain_events').where('subject', user.id).pluck('type');
    assert.ok(events.includes('gatehouse.user.totp_enrolled') || events.includes('user.totp_enrolled'), events.join());

    const security = await browser.navigate(url('/account/security'));
    assert.match(security.html, /10 of 10 codes left/);
    for (const code of codes) assert.doesNotMatch(security.html, new RegExp(code));
    assert.match(security.html, /Remove authenticator app/);

    const replaced = await browser.submit(security, /\/recovery-codes$/, {});
    const fresh = [...replaced.html.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
    assert.equal(fresh.length, 10);
    assert.equal(fresh.filter((code) => codes.includes(code)).length, 0);
  });

  it('lists the browsers remembered after a multi-factor sign-in, and forgets one', async () => {
    const user = await newUser();
    const secret = await enrolledAuthenticator(user);
    const { browser, page } = await signedIn(user, '/account/security', secret);
    const [device] = await listDevices(database.db, user.id);
    assert.ok(device, 'the multi-factor sign-in remembered this browser');
    assert.match(page.html, new RegExp(`data-browser="${device.id}"[\\s\\S]*?<span class="badge ok">This browser</span>`));
    const forgotten = await browser.submit(page, new RegExp(`/browsers/${device.id}/forget$`), {});
    assert.equal(forgotten.url, url('/account/security?done=browser-forgotten'));
    assert.match(forgotten.html, /No browser is remembered./);
    assert.deepEqual(await listDevices(database.db, user.id), []);
  });

  it('refuses a form or a passkey request without its CSRF token, and changes nothing', async () => {
    const user = await newUser();
    const { browser } = await signedIn(user);
    const form = await browser.request(url('/account/security/authenticator-app'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    assert.equal(form.status, 403);
    assert.match(await form.text(), /This form has expired/);
    assert.equal((await totpStatus(database.db, user.id)).pending, false);

    const json = await browser.request(url('/account/security/passkeys/options'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
    assert.equal(json.status, 403);
    assert.match(json.headers.get('content-type') ?? '', /^application\/problem\+json/);

    const signOut = await browser.request(url('/account/sign-out'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '_csrf=forged',
    });
    assert.equal(signOut.status, 403);
  });

  it('sends a request without a session to sign in, a script request with where to sign in', async () => {
    const browser = new Browser();
    const post = await browser.request(url('/account/security/recovery-codes'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    assert.equal(post.status, 303);
    assert.match(post.headers.get('location') ?? '', /^\/auth\?/);
    const json = await browser.request(url('/account/security/passkeys'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
    assert.equal(json.status, 401);
    const problem = (await json.json()) as { title: string; sign_in: string };
    assert.equal(problem.title, 'Sign in again');
    assert.match(problem.sign_in, /^\/auth\?.*client_id=gatehouse-account/);
  });

  it('keeps its built-in client from being changed, deleted or taken by operators', async () => {
    const ctx = commandContext(server.config, database);
    await assert.rejects(deleteClient(ctx.service, ctx.clientDeps, ACCOUNT_CLIENT.clientId), ForbiddenError);
    await assert.rejects(
      updateClient(ctx.service, ctx.clientDeps, ACCOUNT_CLIENT.clientId, { redirect_uris: [RP_REDIRECT] }),
      ForbiddenError,
    );
    await assert.rejects(
      registerClient(ctx.service, ctx.clientDeps, {
        client_id: ACCOUNT_CLIENT.clientId,
        client_name: 'Mine',
        redirect_uris: [RP_REDIRECT],
      }),
      ConflictError,
    );
    const row = await database.db('clients').where('client_id', ACCOUNT_CLIENT.clientId).first();
    assert.equal(row.token_endpoint_auth_method, 'none');
    assert.equal(row.client_secret, null);
  });
});

describe('where the account area sends the browser back to', () => {
  it('accepts only its own paths on this origin', () => {
    assert.equal(safeReturnTo('/account/security?done=x'), '/account/security?done=x');
    for (const bad of [
      'https://evil.example/account',
      '//evil.example/account',
      '/\\evil.example/account',
      '/accounts',
      '/account/callback',
      '/account/sign-out',
      '/interaction/abc',
      'account',
      undefined,
      ['/account'],
    ]) {
      assert.equal(safeReturnTo(bad), '/account', String(bad));
    }
  });
});
