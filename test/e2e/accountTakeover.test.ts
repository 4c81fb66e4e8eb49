// Attacks on the self-service paths found in review, each reproduced as an attacker would and
// now refused: a sign-up started by someone else cannot be finished after the owner takes the
// account back, a sign-up for an existing address cannot borrow the owner's verification,
// links sent to an old address stop at an email change, the re-send answer does not tell
// whether an address has an account, and a suspended account cannot finish by code.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { ProxiedBrowser, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { discover } from '../helpers/relyingParty.ts';
import { createSmtpSink, linkIn, mailTo, codeIn, type SmtpSink } from '../helpers/smtpSink.ts';
import { followLink, heading, interactionUid, openSignIn } from '../helpers/accountScreens.ts';
import { accountDeps, confirmEmailChange, createUser, inviteUser, requestEmailChange, suspendUser } from '../../src/accounts/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { PENDING_SIGN_IN_COOKIE, pendingSignInSealContext } from '../../src/interactions/login/checkEmail.ts';

const PASSWORD = 'attacker chosen words 93';
const NOT_YET = 'Your email is not verified yet.';
let nextIp = 1;
const newBrowser = () => new ProxiedBrowser(`198.18.1.${nextIp++}`);
const box = createSecretBox(TEST_SECRET_KEY);

/** Moves the pending sign-in's last email a minute into the past (the cookie is sealed; the test has the key). */
function pastCoolDown(browser: ProxiedBrowser, page: Page): void {
  const uid = interactionUid(page.url);
  const pending = JSON.parse(box.open(browser.jar.get(PENDING_SIGN_IN_COOKIE) as string, pendingSignInSealContext(uid)));
  pending.sentAt = Date.now() - 61_000;
  browser.jar.set(PENDING_SIGN_IN_COOKIE, box.seal(JSON.stringify(pending), pendingSignInSealContext(uid)));
}

describe('account takeover attempts', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  let app: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    server = await startTestServer(database, { SMTP_URL: sink.url, TRUST_PROXY: 'true' });
    const registration = await createClient(database, server.config, { name: 'App' });
    app = await discover(server.issuer, registration.client_id, registration.client_secret);
  });
  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  async function signUp(browser: ProxiedBrowser, email: string) {
    const { page: login } = await openSignIn(browser, app);
    const form = await followLink(browser, login, 'Create account');
    return browser.submit(form, /\/signup$/, { email, password: PASSWORD });
  }

  async function resetPassword(email: string, password: string) {
    const owner = newBrowser();
    const form = await owner.navigate(`${server.issuer}/account/forgot-password`);
    await owner.submit(form, /forgot-password$/, { email });
    const mail = await sink.waitForMail(mailTo(email, 'Reset your password'));
    const reset = await owner.navigate(linkIn(mail, `${server.issuer}/account/reset-password?token=`));
    const done = await owner.submit(reset, /reset-password$/, { password });
    assert.equal(heading(done.html), 'Password changed');
  }

  it('does not let a sign-up someone else started finish once the owner has reset the password', async () => {
    const email = 'pre-hijacked@example.com';
    const attacker = newBrowser();
    let page = await signUp(attacker, email);
    assert.equal(heading(page.html), 'Check your email');
    // Wear out the code the attacker cannot read, so nothing about it is live any more.
    for (let i = 0; i < 5; i++) page = await attacker.submit(page, /\/verify-email$/, { code: '000000' });
    await resetPassword(email, 'owner fresh lantern 77');

    const continued = await attacker.submit(page, /\/verify-email\/continue$/, {});
    assert.equal(continued.status, 400);
    assert.ok(continued.html.includes(NOT_YET));
    // Nor with a code from a fresh email: the pending sign-in proved a password that is gone.
    pastCoolDown(attacker, continued);
    await attacker.submit(continued, /\/verify-email\/resend$/, {});
    assert.equal(
      await database
        .db('one_time_tokens')
        .where({ purpose: 'verify_email' })
        .whereNull('consumed_at')
        .count('* as n')
        .first()
        .then((r) => Number(r?.n)),
      0,
    );
    assert.equal(
      await database
        .db('oidc_payloads')
        .where('model', 'Session')
        .count('* as n')
        .first()
        .then((r) => Number(r?.n)),
      0,
    );
  });

  it('does not let a sign-up for an existing unverified address ask for, or use, the owner’s verification', async () => {
    const email = 'unverified-owner@example.com';
    const owner = await createUser(operator(database), { email, password: 'granite willow copper 42' }, 4);
    const attacker = newBrowser();
    const page = await signUp(attacker, email);
    assert.equal(heading(page.html), 'Check your email');
    pastCoolDown(attacker, page);
    const resent = await attacker.submit(page, /\/verify-email\/resend$/, {});
    assert.equal(resent.status, 200);
    assert.equal(
      await database
        .db('one_time_tokens')
        .where({ user_id: owner.id, purpose: 'verify_email' })
        .count('* as n')
        .first()
        .then((r) => Number(r?.n)),
      0,
    );

    // The owner verifies on their own (here: a password reset proves the mailbox).
    await resetPassword(email, 'owner second lantern 58');
    const continued = await attacker.submit(resent, /\/verify-email\/continue$/, {});
    assert.equal(continued.status, 400);
    assert.ok(continued.html.includes(NOT_YET));
  });

  it('answers "Send a new code" right after a sign-up the same for a new and an existing address', async () => {
    await createUser(operator(database), { email: 'known@example.com', password: 'granite willow copper 42', email_verified: true }, 4);
    const [first, second] = [newBrowser(), newBrowser()];
    const fresh = await first.submit(await signUp(first, 'fresh@example.com'), /\/verify-email\/resend$/, {});
    const known = await second.submit(await signUp(second, 'known@example.com'), /\/verify-email\/resend$/, {});
    assert.equal(fresh.status, 429);
    assert.equal(known.status, 429);
    const message = (page: Page) => /<p class="error"[^>]*>([^<]*)/.exec(page.html)?.[1]?.replace(/\d+ seconds?/, 'N seconds');
    assert.equal(message(fresh), 'Wait N seconds before asking for another email.');
    assert.equal(message(known), message(fresh));
  });

  it('voids links sent to an address once the account moves to another', async () => {
    const deps = accountDeps(server.config, box);
    const invited = await inviteUser(operator(database), deps, { email: 'typo@example.com' }, async () => undefined);
    const invitation = await sink.waitForMail(mailTo('typo@example.com', 'You are invited to create an account'));
    await requestEmailChange(operator(database), deps, invited.user.id, 'right@example.com');
    const confirmation = await sink.waitForMail(mailTo('right@example.com', 'Confirm your new email address'));
    const token = new URL(linkIn(confirmation, `${server.issuer}/account/confirm-email-change?token=`)).searchParams.get('token');
    assert.equal((await confirmEmailChange(operator(database), deps, token)).ok, true);

    const browser = newBrowser();
    const stale = await browser.navigate(linkIn(invitation, `${server.issuer}/account/invitation?token=`));
    assert.equal(stale.status, 410);
    assert.equal(heading(stale.html), 'This link was withdrawn');
  });

  it('does not finish a sign-in by code for an account suspended after the code was sent', async () => {
    const email = 'soon-suspended@example.com';
    const browser = newBrowser();
    const page = await signUp(browser, email);
    const mail = await sink.waitForMail(mailTo(email, 'Verify your email address'));
    const user = await database.db('users').where({ email }).first();
    await suspendUser(operator(database), user.id);
    const answer = await browser.submit(page, /\/verify-email$/, { code: codeIn(mail) });
    assert.equal(answer.status, 400);
    assert.equal(heading(answer.html), 'Check your email');
  });
});
