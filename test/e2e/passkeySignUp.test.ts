// Sign-up with a passkey and no password, through the hosted screens: the address is proved by
// the emailed code, the passkey (made by the software authenticator, as a browser hands it over)
// then signs in without a password; an address that has an account gets the same screens and its
// owner's notice, and nothing is added to that account; an unproved account's passkey does not
// survive the real owner's password reset (pre-account-hijacking).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { ProxiedBrowser, findForm, type Browser, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { discover } from '../helpers/relyingParty.ts';
import { codeIn, createSmtpSink, mailTo, type SmtpSink } from '../helpers/smtpSink.ts';
import { comparable, finishAtRelyingParty, followLink, heading, openSignIn } from '../helpers/accountScreens.ts';
import { SoftAuthenticator } from '../helpers/softAuthenticator.ts';
import { accountDeps, createUser, issueToken, resetPassword } from '../../src/accounts/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { ACR } from '../../src/mfa/levels.ts';

const VERIFY_SUBJECT = 'Verify your email address';
const NOTICE_SUBJECT = 'Someone tried to create an account with your email address';

let nextIp = 1;
const newBrowser = () => new ProxiedBrowser(`203.0.113.${nextIp++}`);

describe('sign-up with a passkey', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  let app: client.Configuration;
  let origin: string;

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    server = await startTestServer(database, { SMTP_URL: sink.url, TRUST_PROXY: 'true' });
    const registered = await createClient(database, server.config, { name: 'Passkey App' });
    app = await discover(server.issuer, registered.client_id, registered.client_secret);
    origin = new URL(server.issuer).origin;
  });

  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  async function signupScreen(browser: Browser) {
    const { request, page } = await openSignIn(browser, app);
    return { request, page: await followLink(browser, page, 'Create account') };
  }

  /** The screen's script: asks for creation options with the typed address. */
  async function creationOptions(browser: Browser, page: Page, email: string) {
    const form = findForm(page.html, /\/signup\/passkey$/);
    const answer = await browser.request(new URL(`${form.action}/options`, page.url).toString(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: form.hidden._csrf, email }),
    });
    return {
      status: answer.status,
      body: (await answer.json()) as { challenge: string; user: { id: string; name: string }; error?: string },
    };
  }

  /** Signs up with a passkey; returns the screen it ends on and the authenticator holding it. */
  async function signUp(browser: Browser, email: string) {
    const { request, page } = await signupScreen(browser);
    const authenticator = new SoftAuthenticator({ origin, rpId: 'localhost' });
    const { body: options } = await creationOptions(browser, page, email);
    const done = await browser.submit(page, /\/signup\/passkey$/, { response: JSON.stringify(authenticator.register(options)) });
    return { request, page: done, authenticator, options };
  }

  it('offers a passkey on the sign-up screen, with its scripts and no inline script', async () => {
    const { page } = await signupScreen(newBrowser());
    assert.match(page.html, /<section class="passkey-signup" data-passkey-signup="\/interaction\/[^"]+\/signup\/passkey\/options" hidden>/);
    assert.match(page.html, /<script src="\/static\/passkey-sign-up.js" defer><\/script>/);
    assert.doesNotMatch(page.html, /<script>/);
  });

  it('creates an account with no password: the code proves the address, and the passkey signs in from then on', async () => {
    const email = 'pia@example.com';
    const browser = newBrowser();
    const { request, page, authenticator, options } = await signUp(browser, email);
    assert.equal(heading(page.html), 'Check your email');
    const [user] = await database.db('users').where('email', email);
    assert.equal(user.password_hash, null, 'no password');
    assert.equal(user.email_verified, false);
    assert.equal(Buffer.from(options.user.id, 'base64url').toString(), user.id, 'the passkey carries the new account as its user handle');
    const [passkey] = await database.db('passkeys').where('user_id', user.id);
    assert.equal(passkey.credential_id, authenticator.id);

    const code = codeIn(await sink.waitForMail(mailTo(email, VERIFY_SUBJECT)));
    const signedIn = await browser.submit(page, /\/verify-email$/, { code });
    const first = (await finishAtRelyingParty(browser, signedIn, app, request)).claims();
    assert.equal(first?.sub, user.id);
    assert.deepEqual(first?.amr, ['otp'], 'this sign-in proved the emailed code');

    // Another browser: the passkey alone, no password, no email.
    const laptop = newBrowser();
    const next = await openSignIn(laptop, app);
    const passkeyForm = findForm(next.page.html, /\/passkey$/);
    const challenge = await laptop.request(new URL(`${passkeyForm.action}/options`, next.page.url).toString(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: passkeyForm.hidden._csrf }),
    });
    const { challenge: value } = (await challenge.json()) as { challenge: string };
    const answered = await laptop.submit(next.page, /\/passkey$/, { response: JSON.stringify(authenticator.authenticate(value)) });
    const claims = (await finishAtRelyingParty(laptop, answered, app, next.request)).claims();
    assert.equal(claims?.sub, user.id);
    assert.equal(claims?.acr, ACR.phishingResistant);
  });

  it('shows the same screens for an address that has an account, tells its owner, and adds nothing to it', async () => {
    const owner = await createUser(
      operator(database),
      { email: 'quentin@example.com', password: 'a passphrase of the owner', email_verified: true },
      4,
    );
    const fresh = await signUp(newBrowser(), 'rosa@example.com');
    const taken = await signUp(newBrowser(), 'Quentin@example.com');
    assert.equal(taken.page.status, fresh.page.status);
    assert.equal(comparable(taken.page.html, 'Quentin@example.com'), comparable(fresh.page.html, 'rosa@example.com'));
    await sink.waitForMail(mailTo(owner.email, NOTICE_SUBJECT));
    assert.equal((await database.db('passkeys').where('user_id', owner.id)).length, 0, 'no passkey on the owner’s account');
    assert.equal((await database.db('passkeys').where('credential_id', taken.authenticator.id)).length, 0, 'the passkey was dropped');
  });

  it('refuses a bad address before any ceremony, a response to another challenge, and keeps the typed address', async () => {
    const browser = newBrowser();
    const { page } = await signupScreen(browser);
    const bad = await creationOptions(browser, page, 'not an address');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'Enter a valid email address');

    const authenticator = new SoftAuthenticator({ origin, rpId: 'localhost' });
    const { body: options } = await creationOptions(browser, page, 'sam@example.com');
    const forged = authenticator.register({ ...options, challenge: 'b3RoZXItY2hhbGxlbmdl' });
    const refused = await browser.submit(page, /\/signup\/passkey$/, { response: JSON.stringify(forged) });
    assert.equal(refused.status, 400);
    assert.match(
      refused.html,
      /This passkey request has expired or was already used\. Try again, or create your account with a password\./,
    );
    assert.match(refused.html, /id="email"[^>]*value="sam@example.com"/);
    assert.equal((await database.db('users').where('email', 'sam@example.com')).length, 0, 'no account was made');
  });

  it('drops the passkey of an account nobody proved, when the owner of the address resets its password', async () => {
    const email = 'tess@example.com';
    const attacker = await signUp(newBrowser(), email); // never enters the code
    const [account] = await database.db('users').where('email', email);
    assert.equal((await database.db('passkeys').where('user_id', account.id)).length, 1);

    // The real owner asks for a reset and sets a password.
    const box = createSecretBox(TEST_SECRET_KEY);
    const deps = accountDeps(server.config, box, () => {});
    const issued = await database.db.transaction((trx) =>
      issueToken(trx, box, { purpose: 'password_reset', userId: account.id, ttlSeconds: 3600 }),
    );
    const outcome = await resetPassword(operator(database), deps, issued.token, 'the owner’s own long passphrase');
    assert.equal(outcome.ok, true);
    assert.equal((await database.db('passkeys').where('user_id', account.id)).length, 0, 'the unproved passkey is gone');
    const reset = await database.db('domain_events').where({ subject: account.id, type: 'gatehouse.user.password_reset' }).first();
    assert.equal(reset.data.factors_removed, 1);
    void attacker;
  });
});
