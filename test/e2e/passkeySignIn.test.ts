// Passkey sign-in through the hosted screens, end to end: a real server on a loopback port, a
// real relying party (openid-client), the screens driven as a browser drives them, and a
// software authenticator (test/helpers/softAuthenticator.ts) in place of the person's device.
// The page's script would ask /passkey/options for a challenge and post the signed response as
// a form; the tests do the same requests. Covered: what the login screen offers, a passwordless
// sign-in (phishing-resistant: no second factor asked), a passkey as the second factor after a
// password, every bad input refused with its exact message and nothing changed (no use stored,
// no session), another user's passkey at the mfa prompt (counted by the sign-in gate), one
// winner among parallel posts of one response, a removed passkey, and the per-source limit on
// ceremonies. Every browser comes from a source of its own (TRUST_PROXY, X-Forwarded-For), so
// the per-source limits of one test never touch another's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { generate } from 'otplib';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { type Browser, decode, findForm, type Page, ProxiedBrowser } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode, type AuthorizationRequest } from '../helpers/relyingParty.ts';
import { PASSKEY_REFUSALS } from '../helpers/passkeyRefusals.ts';
import { SoftAuthenticator, type Knobs, type SoftAuthenticatorSetup } from '../helpers/softAuthenticator.ts';
import { createUser, type User } from '../../src/accounts/index.ts';
import type { ServiceContext } from '../../src/changes/index.ts';
import { ACR } from '../../src/mfa/levels.ts';
import { listPasskeys, passkeyRegistrationOptions, registerPasskey, removePasskey, type Passkey } from '../../src/mfa/passkeys.ts';
import { type RelyingParty, relyingParty } from '../../src/mfa/relyingParty.ts';
import { confirmTotp, startTotpEnrolment } from '../../src/mfa/totp.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const PASSWORD = 'a long and unguessable passphrase';
const box = createSecretBox(TEST_SECRET_KEY);
// The sign-in gate of this server: after 3 failures each try waits; the 5th try finds the account locked.
const LOCK_AFTER = 4;

const REFUSED = PASSKEY_REFUSALS;
const onScreen = (message: string) => `${message}. Try again, or use another way to sign in.`;

/** The code the authenticator app shows `steps` periods from now. */
const codeFrom = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 });

let sources = 0;
/** A browser of its own, seen from an address of its own. */
const newBrowser = () => {
  sources += 1;
  return new ProxiedBrowser(`198.51.100.${sources}`);
};

describe('passkey sign-in on the hosted screens', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;
  let rp: RelyingParty;
  let users = 0;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { TRUST_PROXY: 'true', SIGNIN_DELAY_AFTER: '3', SIGNIN_LOCK_AFTER: String(LOCK_AFTER) });
    const app = await createClient(database, server.config, { name: 'Shop' });
    config = await discover(server.issuer, app.client_id, app.client_secret);
    rp = relyingParty(server.config);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  // ---- Seeding, through the services ----

  async function newUser(options: { password?: boolean } = {}): Promise<User> {
    users += 1;
    const input = {
      email: `passkey-${users}@example.com`,
      email_verified: true,
      ...(options.password === false ? {} : { password: PASSWORD }),
    };
    return createUser(operator(database), input, 4);
  }

  /** The person acting on their own account (the account area's context). */
  const as = (user: User): ServiceContext => ({
    db: database.db,
    actor: { type: 'user', id: user.id },
    source: server.issuer,
    requestId: 'req-passkey-sign-in',
    ip: '192.0.2.1',
  });

  /** An authenticator for this server's passkeys: RP ID localhost, ceremonies on the issuer's origin. */
  const authenticator = (setup: Partial<SoftAuthenticatorSetup> = {}) =>
    new SoftAuthenticator({ origin: new URL(server.issuer).origin, rpId: 'localhost', ...setup });

  /** Registers a passkey for `user` as the account area would, with the service's own options. */
  async function enrol(user: User, device = authenticator()): Promise<{ device: SoftAuthenticator; passkey: Passkey }> {
    const { options, challenge } = await passkeyRegistrationOptions(rp, user, await listPasskeys(database.db, user.id));
    const passkey = await registerPasskey(as(user), rp, user.id, device.register(options), challenge);
    return { device, passkey };
  }

  /** Adds a confirmed authenticator app; returns its seed. */
  async function withAuthenticatorApp(user: User): Promise<string> {
    const { secret } = await startTotpEnrolment(operator(database), { box }, user.id, { accountName: user.email, issuer: 'Gatehouse' });
    assert.equal(await confirmTotp(operator(database), { box }, user.id, await codeFrom(secret, -1)), true);
    return secret;
  }

  // ---- The screens ----

  const isLoginScreen = (page: Page) => page.html.includes('<h1 id="page-title">Sign in</h1>');
  const isMfaScreen = (page: Page) => page.html.includes('<h1 id="page-title">Confirm it is you</h1>');
  const uidOf = (page: Page) => (/\/interaction\/([^/?#]+)/.exec(page.url) as RegExpExecArray)[1];

  /** The message the screen shows in its alert, decoded; undefined when none. */
  const screenError = (page: Page) => {
    const match = /<p class="error" role="alert" id="login-error">([\s\S]*?)<\/p>/.exec(page.html);
    return match ? decode(match[1]) : undefined;
  };

  async function openSignIn(browser: Browser, params: Record<string, string> = {}) {
    const request = await authorizationRequest(config, { prompt: 'consent', ...params });
    const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    return { request, page };
  }

  /** Signs in with the password and returns the next screen (the mfa prompt, for a user with a passkey). */
  async function passwordFirst(browser: Browser, user: User) {
    const { request, page } = await openSignIn(browser);
    assert.ok(isLoginScreen(page), 'the sign-in screen');
    const next = await browser.submit(page, /\/password$/, { email: user.email, password: PASSWORD }, RP_REDIRECT);
    return { request, page: next };
  }

  /** POSTs the passkey form's challenge request, as the page's script does. */
  function requestOptions(browser: Browser, page: Page, csrf?: string | null): Promise<Response> {
    const path = /data-passkey-options="([^"]+)"/.exec(page.html)?.[1];
    assert.ok(path, 'the screen offers a passkey');
    const token = csrf === undefined ? findForm(page.html, /\/passkey$/).hidden._csrf : csrf;
    return browser.request(new URL(decode(path), page.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: '*/*' },
      body: new URLSearchParams(token === null ? {} : { _csrf: token }),
    });
  }

  async function ceremony(browser: Browser, page: Page): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const answer = await requestOptions(browser, page);
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
    return (await answer.json()) as PublicKeyCredentialRequestOptionsJSON;
  }

  /** Asks for a challenge and has `device` sign it. */
  async function signed(browser: Browser, page: Page, device: SoftAuthenticator, knobs: Knobs = {}) {
    const options = await ceremony(browser, page);
    return { options, response: device.authenticate(options.challenge, knobs) };
  }

  /** Posts the passkey form with this `response` field, as the page's script does. */
  const postResponse = (browser: Browser, page: Page, response: AuthenticationResponseJSON | string) =>
    browser.submit(page, /\/passkey$/, { response: typeof response === 'string' ? response : JSON.stringify(response) }, RP_REDIRECT);

  /** The same post, one request, no redirect followed. */
  function postOnce(browser: Browser, page: Page, response: AuthenticationResponseJSON) {
    const form = findForm(page.html, /\/passkey$/);
    return browser.request(new URL(form.action, page.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.hidden, response: JSON.stringify(response) }),
    });
  }

  async function finish(browser: Browser, page: Page, request: AuthorizationRequest) {
    let at = page;
    if (at.html.includes('/consent"')) at = await browser.submit(at, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    assert.ok(at.url.startsWith(RP_REDIRECT), `ended at ${at.url}`);
    const tokens = await exchangeCode(config, at.url, request);
    return tokens.claims() as { acr?: string; amr?: string[]; sub: string };
  }

  // ---- What a refusal must leave as it was ----

  const storedPasskeys = async () =>
    (await database.db('passkeys').orderBy('id').select('id', 'user_id', 'counter', 'backed_up', 'last_used_at')).map((row) => ({
      ...row,
      counter: Number(row.counter),
    }));

  /** The screen shows `message` with `status`, on the same prompt. */
  function assertRefusedOn(page: Page, status: number, message: string, screen: 'login' | 'mfa' = 'login') {
    assert.equal(page.status, status, `status of: ${screenError(page) ?? page.html.slice(0, 300)}`);
    assert.equal(screenError(page), message);
    assert.ok(screen === 'login' ? isLoginScreen(page) : isMfaScreen(page), `still on the ${screen} screen`);
  }

  /** No session: a new authorization request from this browser asks who is signing in. */
  async function assertSignedOut(browser: Browser) {
    const { page } = await openSignIn(browser, { prompt: '' });
    assert.ok(isLoginScreen(page), 'a new authorization request shows the sign-in screen');
  }

  const auditsOf = (type: string, where: Record<string, unknown> = {}) =>
    database
      .db('audit_events')
      .where({ type, ...where })
      .orderBy('id')
      .select('user_id', 'client_id', 'details');

  const openChallenges = (page: Page) =>
    database
      .db('verification_records')
      .where({ flow: `interaction:${uidOf(page)}`, method: 'passkey' })
      .whereNull('consumed_at');

  // ---- 1. The login screen ----

  it('offers "Sign in with a passkey" and passkey autofill on the login screen, and serves both scripts', async () => {
    const browser = newBrowser();
    const { page } = await openSignIn(browser);
    assert.equal(page.status, 200);
    assert.ok(isLoginScreen(page));
    const uid = uidOf(page);
    assert.match(
      page.html,
      new RegExp(`<section class="method passkey" data-passkey-options="/interaction/${uid}/passkey/options" data-passkey-autofill>`),
    );
    assert.match(page.html, /<button type="button" class="secondary passkey-start" hidden>Sign in with a passkey<\/button>/);
    assert.deepEqual(Object.keys(findForm(page.html, new RegExp(`^/interaction/${uid}/passkey$`)).hidden), ['_csrf', 'response']);
    assert.match(page.html, /<input id="email" name="email" type="email" autocomplete="username webauthn"/);
    const scripts = [...page.html.matchAll(/<script\b([^>]*)>/g)].map((tag) => /src="([^"]+)"/.exec(tag[1])?.[1]);
    assert.deepEqual(
      scripts,
      ['/static/simplewebauthn-browser.js', '/static/passkey-ceremony.js', '/static/passkey-sign-in.js'],
      'no inline script',
    );
    for (const src of scripts) {
      const served = await fetch(new URL(src as string, server.issuer));
      assert.equal(served.status, 200, src);
      assert.equal(served.headers.get('content-type'), 'text/javascript; charset=utf-8', src);
      assert.ok((await served.text()).length > 100, `${src} has a body`);
    }
  });

  // ---- 2. Passwordless ----

  it('signs in with a passkey alone: phishing-resistant, no second factor asked though the user has an authenticator app', async () => {
    const user = await newUser();
    await withAuthenticatorApp(user);
    const { device, passkey } = await enrol(user);
    const browser = newBrowser();
    const { request, page } = await openSignIn(browser);

    const { options, response } = await signed(browser, page, device);
    assert.equal(options.allowCredentials, undefined, 'discoverable: any passkey for this site');
    assert.equal(options.userVerification, 'required');
    assert.equal(options.rpId, 'localhost');
    const [record] = await openChallenges(page);
    assert.equal(record.challenge, options.challenge, 'the challenge is kept on the interaction');
    assert.equal(record.user_id, null, 'nobody is named before the passkey says who');

    const next = await postResponse(browser, page, response);
    assert.equal(next.status, 200);
    assert.ok(!isMfaScreen(next), 'no mfa prompt: the passkey reached level 3');
    assert.match(next.html, /action="\/interaction\/[^"]+\/consent"/, 'the consent screen');
    const claims = await finish(browser, next, request);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
    assert.equal(claims.acr, ACR.phishingResistant);

    const [succeeded] = await auditsOf('login.succeeded', { user_id: user.id });
    assert.deepEqual(succeeded.details, { method: 'passkey', amr: ['hwk', 'user', 'mfa'] });
    const [used] = await database.db('passkeys').where('id', passkey.id);
    assert.equal(Number(used.counter), 1, 'the use is stored');
    assert.ok(used.last_used_at);
    assert.equal((await openChallenges(page)).length, 0);
  });

  it('says swk for a synced passkey, for an account without a password', async () => {
    const user = await newUser({ password: false });
    const { device } = await enrol(user, authenticator({ synced: true }));
    const browser = newBrowser();
    const { request, page } = await openSignIn(browser);
    const { response } = await signed(browser, page, device);
    const claims = await finish(browser, await postResponse(browser, page, response), request);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['swk', 'user', 'mfa']);
    assert.equal(claims.acr, ACR.phishingResistant);
  });

  // ---- 3. A passkey as the second factor ----

  it('takes a passkey as the second factor after a password, offering exactly the user’s own passkeys', async () => {
    const user = await newUser();
    const { device } = await enrol(user);
    const { passkey: other } = await enrol(user, authenticator({ transports: ['usb', 'nfc'] }));
    await enrol(await newUser()); // someone else's, never offered
    const browser = newBrowser();
    const { request, page } = await passwordFirst(browser, user);
    assert.ok(isMfaScreen(page), 'a second factor is asked for');
    assert.match(page.html, /<button type="button" class="secondary passkey-start" hidden>Use a passkey<\/button>/);
    assert.doesNotMatch(page.html, /data-passkey-autofill/, 'no autofill at the mfa prompt');

    const { options, response } = await signed(browser, page, device);
    assert.equal(options.userVerification, 'required');
    assert.deepEqual(
      [...(options.allowCredentials ?? [])].sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: device.id, type: 'public-key', transports: ['internal'] },
        { id: other.credentialId, type: 'public-key', transports: ['usb', 'nfc'] },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
    const [record] = await openChallenges(page);
    assert.equal(record.user_id, user.id, 'the ceremony is for the signed-in account');

    const claims = await finish(browser, await postResponse(browser, page, response), request);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['pwd', 'hwk', 'user', 'mfa']);
    assert.equal(claims.acr, ACR.phishingResistant);
    const [raised] = await auditsOf('login.mfa_succeeded', { user_id: user.id });
    assert.deepEqual(raised.details, { method: 'passkey', amr: ['pwd', 'hwk', 'user', 'mfa'] });
  });

  it('steps a multi-factor session up to phishing-resistant with a passkey, the only method the screen then offers', async () => {
    const user = await newUser();
    const secret = await withAuthenticatorApp(user);
    const { device } = await enrol(user);
    const browser = newBrowser();
    const first = await passwordFirst(browser, user);
    assert.ok(isMfaScreen(first.page));
    const withCode = await browser.submit(first.page, /\/totp$/, { code: await codeFrom(secret) }, RP_REDIRECT);
    assert.equal((await finish(browser, withCode, first.request)).acr, ACR.multiFactor);

    const { request, page } = await openSignIn(browser, { prompt: '', acr_values: ACR.phishingResistant });
    assert.ok(isMfaScreen(page), 'the session is asked for more, not the password again');
    assert.match(page.html, /Shop asks for a stronger sign-in\./);
    assert.match(page.html, />Use a passkey<\/button>/);
    assert.doesNotMatch(page.html, /\/totp"/, 'an authenticator code would not reach the level');
    const { response } = await signed(browser, page, device);
    const claims = await finish(browser, await postResponse(browser, page, response), request);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'hwk', 'user', 'mfa']);
    assert.equal(claims.acr, ACR.phishingResistant);
  });

  // ---- 4. Bad input at the login prompt ----

  describe('refuses bad input at the login prompt, changing nothing and signing nobody in', () => {
    let user: User;
    let device: SoftAuthenticator;

    before(async () => {
      user = await newUser();
      ({ device } = await enrol(user));
    });

    /** Opens a sign-in in a new browser and posts what `respond` makes of a fresh ceremony. */
    async function attempt(respond: (options: PublicKeyCredentialRequestOptionsJSON) => AuthenticationResponseJSON | string) {
      const browser = newBrowser();
      const { page } = await openSignIn(browser);
      const options = await ceremony(browser, page);
      const before = await storedPasskeys();
      const answer = await postResponse(browser, page, respond(options));
      return { browser, page, answer, before };
    }

    async function assertRefused(
      respond: (options: PublicKeyCredentialRequestOptionsJSON) => AuthenticationResponseJSON | string,
      message: string,
    ) {
      const { browser, page, answer, before } = await attempt(respond);
      assertRefusedOn(answer, 400, onScreen(message));
      assert.deepEqual(await storedPasskeys(), before, 'no passkey changed');
      assert.equal((await openChallenges(page)).length, 0, 'the challenge served once, whatever the outcome');
      await assertSignedOut(browser);
      return answer;
    }

    it('(a) a response signed over another challenge', async () => {
      const failedBefore = (await auditsOf('login.failed')).length;
      await assertRefused(() => device.authenticate(Buffer.from('not the challenge we sent').toString('base64url')), REFUSED.challenge);
      const failed = await auditsOf('login.failed');
      assert.equal(failed.length, failedBefore + 1);
      assert.deepEqual(failed.at(-1)?.details, { method: 'passkey', reason: 'challenge' });
      const refusal = (await auditsOf('mfa.passkey_failed', { user_id: user.id })).at(-1);
      assert.equal(refusal?.details.reason, 'challenge', 'the owner’s record says which passkey was refused, and why');
    });

    it('(a2) a response to an earlier ceremony, once a newer one was started', async () => {
      const browser = newBrowser();
      const { page } = await openSignIn(browser);
      const earlier = await ceremony(browser, page);
      await ceremony(browser, page);
      const before = await storedPasskeys();
      assertRefusedOn(await postResponse(browser, page, device.authenticate(earlier.challenge)), 400, onScreen(REFUSED.challenge));
      assert.deepEqual(await storedPasskeys(), before);
      await assertSignedOut(browser);
    });

    it('(b) the same signed response twice: the first signs in, the second is refused', async () => {
      const browser = newBrowser();
      const { request, page } = await openSignIn(browser);
      const { response } = await signed(browser, page, device);
      const first = await postOnce(browser, page, response);
      assert.equal(first.status, 303);
      assert.match(first.headers.get('location') ?? '', /\/auth\//);
      const afterFirst = await storedPasskeys();
      const second = await postOnce(browser, page, response);
      assertRefusedOn(
        { url: page.url, status: second.status, html: await second.text(), response: second },
        400,
        onScreen(REFUSED.challenge),
      );
      assert.deepEqual(await storedPasskeys(), afterFirst, 'the refused copy stored nothing');
      // The first one's sign-in goes on.
      const next = await browser.navigate(new URL(first.headers.get('location') as string, page.url).toString(), {}, RP_REDIRECT);
      assert.equal((await finish(browser, next, request)).sub, user.id);

      // The same response in another browser, with a challenge of its own: refused too.
      const { answer } = await attempt(() => response);
      assertRefusedOn(answer, 400, onScreen(REFUSED.challenge));
      assert.deepEqual(await storedPasskeys(), afterFirst);
    });

    it('(c) a response that is not JSON, or not a response', async () => {
      await assertRefused(() => '{"id": "abc", ', REFUSED.notJson);
      await assertRefused(() => '', REFUSED.notJson);
      await assertRefused(() => JSON.stringify({ ...device.authenticate('x'), type: 'password' }), REFUSED.invalid);
      await assertRefused(() => '["a list"]', REFUSED.invalid);
    });

    it('(d) a response made on another origin', async () => {
      await assertRefused((options) => device.authenticate(options.challenge, { origin: 'https://evil.example' }), REFUSED.origin);
      await assertRefused((options) => device.authenticate(options.challenge, { origin: 'http://localhost:1' }), REFUSED.origin);
    });

    it('(e) a response for another RP ID', async () => {
      await assertRefused((options) => device.authenticate(options.challenge, { rpId: 'evil.example' }), REFUSED.rpId);
    });

    it('(f) a passkey that is not registered here', async () => {
      await assertRefused((options) => authenticator().authenticate(options.challenge), REFUSED.unknown);
    });

    it('(f2) an authenticator that did not verify the person', async () => {
      await assertRefused((options) => device.authenticate(options.challenge, { userVerified: false }), REFUSED.userVerification);
    });

    it('(f3) a response whose user handle names another account', async () => {
      const someoneElse = Buffer.from((await newUser()).id).toString('base64url');
      await assertRefused((options) => device.authenticate(options.challenge, { userHandle: someoneElse }), REFUSED.userHandle);
    });

    it('(g) an oversized response: over the form limit a plain 413, within it too large for a part', async () => {
      const browser = newBrowser();
      const { page } = await openSignIn(browser);
      const options = await ceremony(browser, page);
      const before = await storedPasskeys();
      const huge = device.authenticate(options.challenge);
      huge.clientExtensionResults = { padding: 'x'.repeat(17 * 1024) } as AuthenticationResponseJSON['clientExtensionResults'];
      const answer = await postResponse(browser, page, huge);
      assert.equal(answer.status, 413, 'the form parser refuses it before anything is read');
      assert.match(answer.html, /<h1[^>]*>Request too large<\/h1>/);
      assert.match(answer.html, /What you sent is larger than we accept\./);
      assert.deepEqual(await storedPasskeys(), before);
      assert.equal((await openChallenges(page)).length, 1, 'the challenge was not even reached');
      await assertSignedOut(browser);

      // Within the form limit, a credential id longer than WebAuthn allows.
      const longId = 'A'.repeat(1400);
      await assertRefused((o) => ({ ...device.authenticate(o.challenge), id: longId, rawId: longId }), REFUSED.tooLarge);
    });

    it('(h) no CSRF token, or a forged one, on either endpoint', async () => {
      const browser = newBrowser();
      const { page } = await openSignIn(browser);
      for (const csrf of [null, 'forged', findForm(page.html, /\/password$/).hidden._csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))]) {
        const answer = await requestOptions(browser, page, csrf);
        assert.equal(answer.status, 403, `options with CSRF ${csrf}`);
        assert.match(await answer.text(), /For your security the form could not be verified/);
      }
      assert.equal(
        (await database.db('verification_records').where('flow', `interaction:${uidOf(page)}`)).length,
        0,
        'no ceremony started',
      );

      const options = await ceremony(browser, page);
      const response = JSON.stringify(device.authenticate(options.challenge));
      const before = await storedPasskeys();
      for (const csrf of [undefined, 'forged']) {
        const form = findForm(page.html, /\/passkey$/);
        const answer = await browser.request(new URL(form.action, page.url).toString(), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...(csrf ? { _csrf: csrf } : {}), response }),
        });
        assert.equal(answer.status, 403, `completion with CSRF ${csrf}`);
        assert.match(await answer.text(), /This form has expired/);
      }
      assert.deepEqual(await storedPasskeys(), before);
      assert.equal((await openChallenges(page)).length, 1, 'the challenge is still there: the forged post never reached it');
      await assertSignedOut(browser);

      // Another browser (no interaction cookie) posting the page's own form: no sign-in to continue.
      const stranger = newBrowser();
      const answer = await stranger.submit(page, /\/passkey$/, { response });
      assert.equal(answer.status, 400);
      assert.match(answer.html, /This sign-in has expired/);
      assert.deepEqual(await storedPasskeys(), before);
    });

    it('(i) a response with no ceremony started', async () => {
      const browser = newBrowser();
      const { page } = await openSignIn(browser);
      const before = await storedPasskeys();
      const answer = await postResponse(browser, page, device.authenticate(Buffer.from('made up by the page').toString('base64url')));
      assertRefusedOn(answer, 400, onScreen(REFUSED.challenge));
      assert.deepEqual(await storedPasskeys(), before);
      await assertSignedOut(browser);
    });
  });

  // ---- 5. Another user's passkey as the second factor ----

  it('refuses another account’s passkey at the mfa prompt, counts it in the sign-in gate, and does not raise the session', async () => {
    const alice = await newUser();
    await enrol(alice);
    const bob = await newUser();
    const { device: bobs } = await enrol(bob);
    const browser = newBrowser();
    const { page } = await passwordFirst(browser, alice);
    assert.ok(isMfaScreen(page));

    const before = await storedPasskeys();
    const { response } = await signed(browser, page, bobs);
    const refused = await postResponse(browser, page, response);
    assertRefusedOn(refused, 400, onScreen(REFUSED.otherUser), 'mfa');
    assert.deepEqual(await storedPasskeys(), before, 'Bob’s passkey was not used');
    const [failed] = await auditsOf('login.mfa_failed', { user_id: alice.id });
    assert.deepEqual(failed.details, { method: 'passkey', reason: 'other_user' });
    assert.equal((await auditsOf('login.mfa_succeeded', { user_id: alice.id })).length, 0);
    assert.equal((await auditsOf('mfa.passkey_verified', { user_id: bob.id })).length, 0);

    // The session is still single-factor: a new request asks for the second factor again.
    const { page: again } = await openSignIn(browser, { prompt: '' });
    assert.ok(isMfaScreen(again), 'the session was not raised');

    // Each refusal takes a try from the gate: with tries 2 to 4 the address reaches its lock, the 5th is refused.
    for (let attempt = 2; attempt <= LOCK_AFTER; attempt++) {
      const { response: next } = await signed(browser, again, bobs);
      assertRefusedOn(await postResponse(browser, again, next), 400, onScreen(REFUSED.otherUser), 'mfa');
    }
    const { response: last } = await signed(browser, again, bobs);
    const locked = await postResponse(browser, again, last);
    assert.equal(locked.status, 429);
    assert.match(screenError(locked) ?? '', /^Too many failed sign-ins for this account\. Try again in 15 minutes/);
    assert.ok((await database.db('users').where('id', alice.id).first('locked_until')).locked_until, 'the account is locked');
    assert.deepEqual(await storedPasskeys(), before);
    assert.equal((await auditsOf('login.mfa_failed', { user_id: alice.id })).length, LOCK_AFTER);
    assert.equal((await auditsOf('login.throttled', { user_id: alice.id })).length, 1);
  });

  // ---- 6. One winner ----

  it('lets exactly one of several parallel posts of one signed response through', async () => {
    const user = await newUser();
    const { device, passkey } = await enrol(user);
    const browser = newBrowser();
    const { request, page } = await openSignIn(browser);
    const { response } = await signed(browser, page, device);
    const answers = await Promise.all(Array.from({ length: 5 }, () => postOnce(browser, page, response)));
    const winners = answers.filter((answer) => answer.status === 303);
    assert.equal(winners.length, 1, `statuses: ${answers.map((answer) => answer.status)}`);
    for (const loser of answers.filter((answer) => answer !== winners[0])) {
      assert.equal(loser.status, 400);
      const html = await loser.text();
      assert.equal(screenError({ url: page.url, status: 400, html, response: loser }), onScreen(REFUSED.challenge));
    }
    const [stored] = await database.db('passkeys').where('id', passkey.id);
    assert.equal(Number(stored.counter), 1, 'one use stored');
    assert.equal((await auditsOf('mfa.passkey_verified', { user_id: user.id })).length, 1);
    const next = await browser.navigate(new URL(winners[0].headers.get('location') as string, page.url).toString(), {}, RP_REDIRECT);
    assert.equal((await finish(browser, next, request)).sub, user.id);
    assert.equal((await auditsOf('login.succeeded', { user_id: user.id })).length, 1);
  });

  // ---- 7. A removed passkey ----

  it('refuses a passkey once its owner removed it', async () => {
    const user = await newUser();
    const { device, passkey } = await enrol(user);
    const first = newBrowser();
    const signIn = await openSignIn(first);
    const { response } = await signed(first, signIn.page, device);
    assert.equal((await finish(first, await postResponse(first, signIn.page, response), signIn.request)).sub, user.id);

    await removePasskey(as(user), user.id, passkey.id);
    const browser = newBrowser();
    const { page } = await openSignIn(browser);
    const { response: after } = await signed(browser, page, device);
    const before = await storedPasskeys();
    assert.ok(!before.some((row) => row.user_id === user.id), 'the user has no passkey left');
    assertRefusedOn(await postResponse(browser, page, after), 400, onScreen(REFUSED.unknown));
    assert.deepEqual(await storedPasskeys(), before);
    assert.equal((await auditsOf('login.succeeded', { user_id: user.id })).length, 1, 'only the sign-in before the removal');
    await assertSignedOut(browser);
  });

  // ---- 8. Ceremonies per source ----

  it('limits passkey ceremonies to 60 an hour per source, and stores no challenge beyond that', async () => {
    const browser = newBrowser();
    const { page } = await openSignIn(browser);
    for (let i = 1; i <= 60; i++) {
      const answer = await requestOptions(browser, page);
      assert.equal(answer.status, 200, `ceremony ${i}`);
      await answer.body?.cancel();
    }
    const flow = `interaction:${uidOf(page)}`;
    assert.equal((await database.db('verification_records').where('flow', flow)).length, 60);
    const refused = await requestOptions(browser, page);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0, 'says when to try again');
    assert.match(await refused.text(), /Too many passkey sign-ins from here\. Try again later\./);
    assert.equal((await database.db('verification_records').where('flow', flow)).length, 60, 'no challenge stored');
    assert.equal((await openChallenges(page)).length, 1, 'the last granted ceremony is still open');

    // Another source is not held back.
    const other = newBrowser();
    const elsewhere = await openSignIn(other);
    assert.equal((await requestOptions(other, elsewhere.page)).status, 200);
  });
});
