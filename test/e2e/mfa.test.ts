// The mfa prompt through the hosted screens, with a real relying party (openid-client): a user
// with an authenticator app is asked for a code after the password; a wrong code is refused and
// counted by the sign-in gate; a code is never accepted twice; a recovery code works once;
// acr_values asks a single-factor session for a second factor (step-up), max_age=0 asks for
// both again; a client with require_mfa asks every user; a level the account cannot reach is
// answered with unmet_authentication_requirements; the ID token's amr and acr say what happened.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { generate } from 'otplib';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { Browser, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';
import { createUser, type User } from '../../src/accounts/index.ts';
import { confirmTotp, startTotpEnrolment } from '../../src/mfa/totp.ts';
import { generateRecoveryCodes } from '../../src/mfa/recoveryCodes.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { ACR } from '../../src/mfa/levels.ts';

const PASSWORD = 'a long and unguessable passphrase';
const box = createSecretBox(TEST_SECRET_KEY);

/** The code the authenticator app shows `steps` periods from now. */
const codeFrom = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 });

describe('second factor at sign-in (the mfa prompt)', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;
  let strictConfig: client.Configuration;
  let counter = 0;

  before(async () => {
    database = await createTestDatabase();
    // A small lock threshold, so that counting wrong codes shows in a few tries.
    server = await startTestServer(database, { SIGNIN_DELAY_AFTER: '3', SIGNIN_LOCK_AFTER: '4' });
    const app = await createClient(database, server.config, { name: 'Shop' });
    config = await discover(server.issuer, app.client_id, app.client_secret);
    const strict = await createClient(database, server.config, { name: 'Bank' });
    await database.db('clients').where('client_id', strict.client_id).update({ require_mfa: true });
    strictConfig = await discover(server.issuer, strict.client_id, strict.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function newUser(): Promise<User> {
    counter += 1;
    return createUser(operator(database), { email: `mfa-${counter}@example.com`, password: PASSWORD, email_verified: true }, 4);
  }

  /** Adds a confirmed authenticator app, as the account's Security page does; returns its seed. */
  async function withAuthenticator(user: User): Promise<string> {
    const { secret } = await startTotpEnrolment(operator(database), { box }, user.id, { accountName: user.email, issuer: 'Gatehouse' });
    assert.equal(await confirmTotp(operator(database), { box }, user.id, await codeFrom(secret, -1)), true);
    return secret;
  }

  /** Starts a sign-in; returns the browser's page after the password, when one is asked for. */
  async function startSignIn(browser: Browser, user: User, params: Record<string, string> = {}, rp = config) {
    const request = await authorizationRequest(rp, { prompt: 'consent', ...params });
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    if (page.html.includes('/password"'))
      page = await browser.submit(page, /\/password$/, { email: user.email, password: PASSWORD }, RP_REDIRECT);
    return { request, page };
  }

  async function finish(browser: Browser, page: Page, request: Awaited<ReturnType<typeof authorizationRequest>>, rp = config) {
    let at = page;
    if (at.html.includes('/consent"')) at = await browser.submit(at, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    assert.ok(at.url.startsWith(RP_REDIRECT), `ended at ${at.url}`);
    const tokens = await exchangeCode(rp, at.url, request);
    return tokens.claims() as { acr?: string; amr?: string[]; sub: string };
  }

  const isMfaScreen = (page: Page) => /<h1 id="page-title">Confirm it is you<\/h1>/.test(page.html);

  it('asks for the authenticator code after the password, refuses a wrong one, and says so in amr and acr', async () => {
    const user = await newUser();
    const secret = await withAuthenticator(user);
    const browser = new Browser();
    const { request, page } = await startSignIn(browser, user);
    assert.ok(isMfaScreen(page), 'the second factor is asked for');
    assert.match(page.html, /You are signing in from a browser we do not recognise/);
    assert.match(page.html, /<label for="totp-code">Code from your authenticator app<\/label>/);

    const right = await codeFrom(secret);
    const wrong = await browser.submit(page, /\/totp$/, { code: right === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.html, /That code is not right, or was already used/);
    const failed = await database.db('audit_events').where({ type: 'login.mfa_failed', user_id: user.id });
    assert.equal(failed.length, 1);

    const done = await browser.submit(wrong, /\/totp$/, { code: await codeFrom(secret) }, RP_REDIRECT);
    const claims = await finish(browser, done, request);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims.acr, ACR.multiFactor);
  });

  it('never accepts the same code twice, even from another browser', async () => {
    const user = await newUser();
    const secret = await withAuthenticator(user);
    const code = await codeFrom(secret);
    const [firstBrowser, secondBrowser] = [new Browser(), new Browser()];
    const first = await startSignIn(firstBrowser, user);
    const second = await startSignIn(secondBrowser, user);
    const accepted = await firstBrowser.submit(first.page, /\/totp$/, { code }, RP_REDIRECT);
    assert.equal((await finish(firstBrowser, accepted, first.request)).acr, ACR.multiFactor, 'the code works once');
    const replay = await secondBrowser.submit(second.page, /\/totp$/, { code });
    assert.equal(replay.status, 401);
    assert.ok(isMfaScreen(replay));
  });

  it('counts wrong codes like wrong passwords: the account locks and its owner is told', async () => {
    const user = await newUser();
    await withAuthenticator(user);
    const browser = new Browser();
    let { page } = await startSignIn(browser, user);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      page = await browser.submit(page, /\/totp$/, { code: '000001' });
      statuses.push(page.status);
    }
    assert.ok(statuses.includes(429), `refused once the gate counts enough failures: ${statuses}`);
    assert.match(page.html, /Too many/);
    const locked = await database.db('users').where('id', user.id).first('locked_until');
    assert.ok(locked.locked_until, 'the account is locked');
  });

  it('takes a recovery code once, instead of the authenticator', async () => {
    const user = await newUser();
    await withAuthenticator(user);
    const [code] = await generateRecoveryCodes(operator(database), { box }, user.id);
    const browser = new Browser();
    const { request, page } = await startSignIn(browser, user);
    assert.match(page.html, /<label for="recovery_code-code">One of your recovery codes<\/label>/);
    const done = await browser.submit(page, /\/recovery_code$/, { code }, RP_REDIRECT);
    const claims = await finish(browser, done, request);
    assert.equal(claims.acr, ACR.multiFactor);
    assert.ok(claims.amr?.includes('mfa'));

    const again = new Browser();
    const second = await startSignIn(again, user);
    const refused = await again.submit(second.page, /\/recovery_code$/, { code });
    assert.equal(refused.status, 401);
    assert.match(refused.html, /That recovery code is not right, or was already used/);
  });

  it('steps a single-factor session up when the relying party asks for the multi-factor acr, and asks again with max_age=0', async () => {
    const user = await newUser();
    const browser = new Browser();
    // Signed in with the password alone, before the user had a second factor.
    const plain = await startSignIn(browser, user);
    const single = await finish(browser, plain.page, plain.request);
    assert.deepEqual(single.amr, ['pwd']);
    assert.equal(single.acr, ACR.singleFactor);
    const secret = await withAuthenticator(user);

    const stepUp = await startSignIn(browser, user, { acr_values: ACR.multiFactor, prompt: '' });
    assert.ok(isMfaScreen(stepUp.page), 'the session is asked for its second factor, not the password again');
    assert.match(stepUp.page.html, /Shop asks for a stronger sign-in/);
    const stepped = await browser.submit(stepUp.page, /\/totp$/, { code: await codeFrom(secret) }, RP_REDIRECT);
    assert.equal((await finish(browser, stepped, stepUp.request)).acr, ACR.multiFactor);

    // max_age=0: both factors again, though the session has them.
    const again = await startSignIn(browser, user, { max_age: '0', prompt: '' });
    assert.ok(isMfaScreen(again.page), 'the password was asked, then the second factor');
    const reauthed = await browser.submit(again.page, /\/totp$/, { code: await codeFrom(secret, 1) }, RP_REDIRECT);
    const claims = await finish(browser, reauthed, again.request);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  });

  it('answers unmet_authentication_requirements when the account cannot reach the level asked for', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { request, page } = await startSignIn(browser, user, { acr_values: ACR.phishingResistant });
    assert.ok(isMfaScreen(page));
    assert.match(page.html, /Your account has no way yet to sign in at the level/);
    const back = await browser.submit(page, /\/mfa\/unmet$/, {}, RP_REDIRECT);
    const answer = new URL(back.url).searchParams;
    assert.equal(answer.get('error'), 'unmet_authentication_requirements');
    assert.equal(answer.get('state'), request.state);
  });

  it('asks every user of a client that requires MFA, and a user without a second factor cannot get in', async () => {
    const withFactor = await newUser();
    const secret = await withAuthenticator(withFactor);
    const browser = new Browser();
    const first = await startSignIn(browser, withFactor, {}, strictConfig);
    assert.match(first.page.html, /Bank requires a second step to sign in/);
    const done = await browser.submit(first.page, /\/totp$/, { code: await codeFrom(secret) }, RP_REDIRECT);
    assert.equal((await finish(browser, done, first.request, strictConfig)).acr, ACR.multiFactor);

    const without = await newUser();
    const other = new Browser();
    const { page } = await startSignIn(other, without, {}, strictConfig);
    assert.ok(isMfaScreen(page));
    assert.match(page.html, /Your account has no way yet/);
  });

  /** A browser that kept only the device cookies of `from` (its sign-in session is gone). */
  function sameDeviceNewSession(from: Browser): Browser {
    const next = new Browser();
    for (const name of ['gatehouse.device', 'gatehouse.device.sig']) {
      const value = from.jar.get(name);
      if (value) next.jar.set(name, value);
    }
    return next;
  }

  it('remembers a browser after a multi-factor sign-in: asks a new browser, not a remembered one, and again once it is forgotten', async () => {
    const user = await newUser();
    const secret = await withAuthenticator(user);
    const laptop = new Browser();
    const first = await startSignIn(laptop, user);
    assert.match(first.page.html, /You are signing in from a browser we do not recognise/);
    const done = await laptop.submit(first.page, /\/totp$/, { code: await codeFrom(secret) }, RP_REDIRECT);
    await finish(laptop, done, first.request);
    assert.ok(laptop.jar.get('gatehouse.device'), 'the browser got its device cookie');
    const [device] = await database.db('known_devices').where('user_id', user.id);
    assert.equal(device.name, 'A browser', 'named from its User-Agent (none here)');
    assert.notEqual(device.digest, laptop.jar.get('gatehouse.device'), 'only a digest is stored');

    // The same browser, signed out: the password is enough, and the ID token says so truthfully.
    const again = sameDeviceNewSession(laptop);
    const second = await startSignIn(again, user);
    assert.ok(!isMfaScreen(second.page), 'a remembered browser is not asked');
    const claims = await finish(again, second.page, second.request);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, ACR.singleFactor);
    // A first sign-in that merely carries max_age is not a forced re-authentication.
    const withMaxAge = await startSignIn(sameDeviceNewSession(laptop), user, { max_age: '3600' });
    assert.ok(!isMfaScreen(withMaxAge.page), 'max_age on a sign-in without a session does not count as re-authentication');

    // A forged or foreign device cookie is not a remembered browser.
    const forged = new Browser();
    forged.jar.set('gatehouse.device', laptop.jar.get('gatehouse.device') as string);
    assert.ok(isMfaScreen((await startSignIn(forged, user)).page), 'an unsigned copy of the cookie does not count');

    // Forgotten from the Security page: asked again.
    const { forgetDevice } = await import('../../src/mfa/devices.ts');
    await forgetDevice(operator(database), user.id, device.id);
    assert.ok(isMfaScreen((await startSignIn(sameDeviceNewSession(laptop), user)).page), 'a forgotten browser is asked again');
  });

  it('asks a remembered browser again after several failed sign-ins to the account', async () => {
    const user = await newUser();
    const secret = await withAuthenticator(user);
    const laptop = new Browser();
    const first = await startSignIn(laptop, user);
    await finish(laptop, await laptop.submit(first.page, /\/totp$/, { code: await codeFrom(secret) }, RP_REDIRECT), first.request);
    // Someone else tries passwords for the account.
    const attacker = new Browser();
    const login = await attacker.navigate((await authorizationRequest(config)).url.toString());
    for (let i = 0; i < 3; i++) await attacker.submit(login, /\/password$/, { email: user.email, password: `wrong guess ${i}` });
    const { page } = await startSignIn(sameDeviceNewSession(laptop), user);
    assert.match(page.html, /several failed attempts to sign in to your account recently/);
  });

  it('advertises the acr values it issues', async () => {
    const metadata = config.serverMetadata() as { acr_values_supported?: string[] };
    assert.deepEqual(metadata.acr_values_supported?.slice(0, 3), [ACR.singleFactor, ACR.multiFactor, ACR.phishingResistant]);
  });
});
