// "Forgot password?" end to end: the same answer whether or not the address has an account, a
// link by real mail only to an address that has one, a new password checked by the policy (a
// refused one leaves the link usable), and once it is set: the old password, the refresh tokens
// and the other browser sessions of the old password are dead, the owner is told by mail, and the
// link works once — also against eight requests racing with it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ProxiedBrowser, findForm, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, discover, signInWithOfflineAccess } from '../helpers/relyingParty.ts';
import { createSmtpSink, linkIn, mailTo, type SmtpSink } from '../helpers/smtpSink.ts';
import { comparable, finishAtRelyingParty, followLink, heading, openSignIn } from '../helpers/accountScreens.ts';
import { createUser, type User } from '../../src/accounts/index.ts';

const RESET_SUBJECT = 'Reset your password';
const CHANGED_SUBJECT = 'Your password was changed';
const BREACHED = 'This password is in a list of passwords exposed in data breaches. Choose another.';

let nextIp = 1;
const newBrowser = () => new ProxiedBrowser(`203.0.113.${nextIp++}`);

describe('password reset', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    server = await startTestServer(database, { SMTP_URL: sink.url, TRUST_PROXY: 'true' });
    const registered = await createClient(database, server.config, { name: 'Reset App' });
    config = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  const resetLinkPrefix = () => `${server.issuer}/account/reset-password?token=`;

  /** From the sign-in screen: "Forgot password?", then the address. */
  async function askForReset(browser: ProxiedBrowser, email: string): Promise<Page> {
    const { page: login } = await openSignIn(browser, config);
    const form = await followLink(browser, login, 'Forgot password?');
    assert.equal(form.status, 200);
    assert.equal(heading(form.html), 'Reset your password');
    return browser.submit(form, /\/forgot-password$/, { email });
  }

  /** Signs in on the hosted screen; returns the page after the password. */
  async function signIn(browser: ProxiedBrowser, email: string, password: string) {
    const { request, page } = await openSignIn(browser, config);
    return { request, page: await browser.submit(page, /\/password$/, { email, password }) };
  }

  it('resets a forgotten password, and everything the old one opened is closed', async () => {
    const email = 'pat@example.com';
    const oldPassword = 'hollow ember sprout';
    const newPassword = 'brisk lantern copper 93';
    const pat: User = await createUser(operator(database), { email, password: oldPassword, email_verified: true }, 4);

    // Signed in twice with the old password: an app holding a refresh token, another browser.
    const offline = await signInWithOfflineAccess(config, email, oldPassword);
    assert.ok(offline.refresh_token);
    const other = newBrowser();
    const first = await signIn(other, email, oldPassword);
    await finishAtRelyingParty(other, first.page, config, first.request);
    const stillIn = await openSignIn(other, config);
    assert.ok(stillIn.page.url.startsWith(RP_REDIRECT), 'the other browser has a session');

    // The same answer for an address with an account and one without.
    const known = await askForReset(newBrowser(), email);
    const unknown = await askForReset(newBrowser(), 'nobody@example.com');
    assert.equal(known.status, 200);
    assert.equal(unknown.status, 200);
    assert.ok(known.html.includes(`If an account uses <strong>${email}</strong>, we sent it a link to choose a new password.`), known.html);
    assert.equal(comparable(known.html, email), comparable(unknown.html, 'nobody@example.com'));

    const mail = await sink.waitForMail(mailTo(email, RESET_SUBJECT));
    assert.deepEqual(await database.db('mail_queue').where('recipient', 'nobody@example.com').pluck('id'), [], 'no mail for nobody');
    assert.equal(sink.messages.filter(mailTo('nobody@example.com')).length, 0);
    const link = linkIn(mail, resetLinkPrefix());

    // The link opens a form (on another device); a password the policy refuses leaves it usable.
    const phone = newBrowser();
    const form = await phone.navigate(link);
    assert.equal(form.status, 200);
    assert.equal(heading(form.html), 'Choose a new password');
    assert.match(form.html, /<label for="password">New password<\/label>/);
    assert.match(form.html, /<button type="submit" class="primary">Set new password<\/button>/);
    const refused = await phone.submit(form, /\/account\/reset-password$/, { password: 'password1234' });
    assert.equal(refused.status, 400);
    assert.equal(heading(refused.html), 'Choose a new password');
    assert.ok(refused.html.includes(`<p class="error" role="alert" id="link-error">${BREACHED}</p>`), refused.html);
    assert.ok(!refused.html.includes('password1234'), 'the password is not echoed');
    const token = await database.db('one_time_tokens').where({ user_id: pat.id, purpose: 'password_reset' }).first();
    assert.equal(token.consumed_at, null, 'the link is still good');
    assert.equal((await phone.navigate(link)).status, 200);
    const short = await phone.submit(refused, /\/account\/reset-password$/, { password: 'too-short' });
    assert.equal(short.status, 400);
    assert.ok(short.html.includes('<p class="error" role="alert" id="link-error">Use at least 12 characters</p>'), short.html);

    const changed = await phone.submit(short, /\/account\/reset-password$/, { password: newPassword });
    assert.equal(changed.status, 200);
    assert.equal(heading(changed.html), 'Password changed');

    // The old password no longer signs in; the new one does.
    const old = await signIn(newBrowser(), email, oldPassword);
    assert.equal(old.page.status, 401);
    assert.ok(old.page.html.includes('Incorrect email or password.'));
    const fresh = newBrowser();
    const renewed = await signIn(fresh, email, newPassword);
    const tokens = await finishAtRelyingParty(fresh, renewed.page, config, renewed.request);
    assert.equal(tokens.claims()?.sub, pat.id);

    // The refresh token and the other browser's session of the old password are gone.
    await assert.rejects(client.refreshTokenGrant(config, offline.refresh_token as string), (e: client.ResponseBodyError) => {
      assert.equal(e.error, 'invalid_grant');
      return true;
    });
    const again = await openSignIn(other, config);
    assert.equal(again.page.status, 200);
    assert.equal(heading(again.page.html), 'Sign in', 'the other browser must sign in again');

    const notice = await sink.waitForMail(mailTo(email, CHANGED_SUBJECT));
    assert.deepEqual(notice.to, [email]);

    // The link worked once.
    const reused = await phone.submit(short, /\/account\/reset-password$/, { password: 'another fine passphrase 7' });
    assert.equal(reused.status, 410);
    assert.equal(heading(reused.html), 'This link has already been used');
    const reopened = await phone.navigate(link);
    assert.equal(reopened.status, 410);
    assert.equal(heading(reopened.html), 'This link has already been used');

    const events = await database.db('domain_events').where('subject', pat.id).orderBy('seq').pluck('type');
    assert.deepEqual(
      events.filter((t: string) => t.startsWith('gatehouse.user.password')),
      ['gatehouse.user.password_reset_requested', 'gatehouse.user.password_reset'],
    );
  });

  it('lets exactly one of eight parallel uses of one reset link set the password', async () => {
    const email = 'quinn@example.com';
    const quinn: User = await createUser(operator(database), { email, password: 'saffron kite gravel', email_verified: true }, 4);
    await askForReset(newBrowser(), email);
    const link = linkIn(await sink.waitForMail(mailTo(email, RESET_SUBJECT)), resetLinkPrefix());
    const browser = newBrowser();
    const form = await browser.navigate(link);
    assert.equal(form.status, 200);
    const { action, hidden } = findForm(form.html, /\/account\/reset-password$/);
    const passwords = Array.from({ length: 8 }, (_, i) => `parallel passphrase number ${i} zebra`);

    const answers = await Promise.all(
      passwords.map(async (password) => {
        const response = await browser.request(new URL(action, form.url).toString(), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...hidden, password }),
        });
        return { status: response.status, title: heading(await response.text()) };
      }),
    );
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join());
    assert.equal(statuses.filter((s) => s === 410).length, 7, statuses.join());
    for (const answer of answers.filter((a) => a.status === 410)) assert.equal(answer.title, 'This link has already been used');

    const resets = await database
      .db('domain_events')
      .where({ subject: quinn.id, type: 'gatehouse.user.password_reset' })
      .count('* as n')
      .first();
    assert.equal(Number(resets?.n), 1);
    const notices = await database.db('mail_queue').where({ recipient: email, template: 'password_changed' }).count('* as n').first();
    assert.equal(Number(notices?.n), 1);

    // The winner's password is the one stored.
    const winner = passwords[statuses.indexOf(200)];
    const loser = passwords[statuses.indexOf(410)];
    assert.equal((await signIn(newBrowser(), email, loser)).page.status, 401);
    const won = await signIn(newBrowser(), email, winner);
    assert.equal(won.page.status, 200, 'signed in: the consent screen follows');
    assert.equal(heading(won.page.html), 'Allow access');
  });
});
