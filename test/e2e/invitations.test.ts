// Invitations end to end: an operator invites someone for a client (the CLI, or the service the
// CLI and admin API call), the invitation arrives by real mail, its link sets a password, and the
// same browser is then signed in at the relying party without a password screen (the sign-in
// ticket), verified. Expired, revoked and used invitation links are refused with their titles.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { ProxiedBrowser } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, discover } from '../helpers/relyingParty.ts';
import { createSmtpSink, linkIn, mailTo, type SmtpSink } from '../helpers/smtpSink.ts';
import { finishAtRelyingParty, heading, openSignIn } from '../helpers/accountScreens.ts';
import { commandContext } from '../../src/cli/context.ts';
import { runCommand } from '../../src/cli/run.ts';
import { accountDeps, findUserByEmail, inviteUser, revokeInvitation, type User } from '../../src/accounts/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { createMailer, type Mailer } from '../../src/mail/index.ts';

const INVITATION_SUBJECT = 'You are invited to create an account';
const PASSWORD = 'gravel-Orchid-tundra-57';

let nextIp = 1;
const newBrowser = () => new ProxiedBrowser(`192.0.2.${nextIp++}`);

describe('invitations', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  let config: client.Configuration;
  let clientId: string;
  /**
   * A second mailer on the same queue, as another instance would run: the CLI does not wake the
   * server's mailer (it finds the mail at its next look, within 5 s), so the test sends what is
   * due at once instead of waiting for that look.
   */
  let mailer: Mailer;
  const box = createSecretBox(TEST_SECRET_KEY);

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    server = await startTestServer(database, { SMTP_URL: sink.url, TRUST_PROXY: 'true' });
    const registered = await createClient(database, server.config, { name: 'Invite App' });
    clientId = registered.client_id;
    config = await discover(server.issuer, registered.client_id, registered.client_secret);
    mailer = createMailer({ config: server.config, database, box, pollIntervalMs: 3_600_000 });
  });

  after(async () => {
    await mailer?.close();
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  const deps = () => accountDeps(server.config, box, () => mailer.nudge());
  const clientName = async (id: string) => (id === clientId ? 'Invite App' : undefined);
  const invitationLinkPrefix = () => `${server.issuer}/account/invitation?token=`;

  /** Invites through the service; returns the emailed link. */
  async function invite(email: string): Promise<{ user: User; link: string }> {
    const before = sink.messages.filter(mailTo(email, INVITATION_SUBJECT)).length;
    await inviteUser(operator(database), deps(), { email, client_id: clientId }, clientName);
    const mail = await waitForNth(email, before + 1);
    return { user: (await findUserByEmail(database.db, email)) as User, link: linkIn(mail, invitationLinkPrefix()) };
  }

  /** The `n`th invitation mail to `email` (1-based), once it has arrived. */
  async function waitForNth(email: string, n: number) {
    let seen = 0;
    return sink.waitForMail((mail) => mailTo(email, INVITATION_SUBJECT)(mail) && ++seen === n);
  }

  const tokenOf = (link: string) => new URL(link).searchParams.get('token') as string;

  it('invites from the CLI; the link sets a password and the same browser is signed in at the relying party without a password screen', async () => {
    const email = 'ines@example.com';
    const outcome = await runCommand(commandContext(server.config, database), [
      'users',
      'invite',
      '--email',
      email,
      '--name',
      'Ines Invited',
      '--client',
      clientId,
      '--json',
    ]);
    assert.equal(outcome.exitCode, 0, outcome.stderr);
    const printed = JSON.parse(outcome.stdout);
    assert.equal(printed.email, email);
    assert.equal(printed.email_verified, false);
    assert.ok(!outcome.stdout.includes('token='), 'the link is in the email only');
    const invited = (await findUserByEmail(database.db, email)) as User;
    assert.equal(invited.password_hash, null);

    await mailer.deliverDue();
    const mail = await sink.waitForMail(mailTo(email, INVITATION_SUBJECT));
    assert.ok(mail.text.includes('Hello Ines Invited,'), mail.text);
    assert.ok(mail.text.includes('You are invited to create an account to use Invite App.'), mail.text);
    const link = linkIn(mail, invitationLinkPrefix());

    const browser = newBrowser();
    const form = await browser.navigate(link);
    assert.equal(form.status, 200);
    assert.equal(heading(form.html), 'Accept your invitation');
    assert.match(form.html, /<label for="password">New password<\/label>/);
    assert.match(form.html, /<button type="submit" class="primary">Create my account<\/button>/);

    // A password the policy refuses leaves the invitation usable.
    const refused = await browser.submit(form, /\/account\/invitation$/, { password: 'password1234' });
    assert.equal(refused.status, 400);
    assert.ok(
      refused.html.includes(
        '<p class="error" role="alert" id="link-error">This password is in a list of passwords exposed in data breaches. Choose another.</p>',
      ),
      refused.html,
    );
    assert.equal((await database.db('one_time_tokens').where({ user_id: invited.id, purpose: 'invitation' }).first()).consumed_at, null);

    const ready = await browser.submit(refused, /\/account\/invitation$/, { password: PASSWORD });
    assert.equal(ready.status, 200);
    assert.equal(heading(ready.html), 'Your account is ready');
    assert.ok(ready.html.includes('Go back to Invite App and sign in'), ready.html);
    const accepted = (await findUserByEmail(database.db, email)) as User;
    assert.equal(accepted.email_verified, true);
    assert.ok(accepted.password_hash);

    // The relying party sends the same browser to sign in: no password screen, straight to consent.
    const { request, page } = await openSignIn(browser, config);
    assert.equal(page.status, 200);
    assert.equal(heading(page.html), 'Allow access', 'signed in by the ticket');
    assert.ok(!/name="password"/.test(page.html));
    const tokens = await finishAtRelyingParty(browser, page, config, request);
    assert.equal(tokens.claims()?.sub, invited.id);
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, invited.id);
    assert.equal(userinfo.email, email);
    assert.equal(userinfo.email_verified, true);

    const ticket = await database.db('one_time_tokens').where({ user_id: invited.id, purpose: 'sign_in' }).first();
    assert.ok(ticket.consumed_at, 'the ticket is used up');
    const audited = await database.db('audit_events').where({ type: 'login.succeeded', user_id: invited.id }).first();
    assert.equal(audited.details.method, 'invitation');
    const events = await database.db('domain_events').where('subject', invited.id).orderBy('seq').pluck('type');
    assert.deepEqual(events, ['gatehouse.user.invited', 'gatehouse.user.invitation_accepted']);

    // Another browser has no ticket: it gets the password screen, and the new password works there.
    const other = newBrowser();
    const elsewhere = await openSignIn(other, config);
    assert.equal(heading(elsewhere.page.html), 'Sign in');
    const signedIn = await other.submit(elsewhere.page, /\/password$/, { email, password: PASSWORD });
    assert.equal(heading(signedIn.html), 'Allow access');

    // The invitation link worked once.
    const again = await browser.navigate(link);
    assert.equal(again.status, 410);
    assert.equal(heading(again.html), 'This link has already been used');
    const reposted = await browser.submit(form, /\/account\/invitation$/, { password: 'yet another good passphrase 12' });
    assert.equal(reposted.status, 410);
    assert.equal(heading(reposted.html), 'This link has already been used');
  });

  /** What a fresh browser opening the link sees: status and title. */
  async function tryLink(link: string) {
    const page = await newBrowser().navigate(link);
    return { status: page.status, title: heading(page.html) };
  }

  it('refuses an expired invitation link with 410 "This link has expired"', async () => {
    const { user, link } = await invite('jonas@example.com');
    const browser = newBrowser();
    const form = await browser.navigate(link);
    assert.equal(form.status, 200);
    await database.db.raw(
      `update one_time_tokens set expires_at = now() - interval '1 minute' where user_id = ? and purpose = 'invitation'`,
      [user.id],
    );
    const EXPIRED = { status: 410, title: 'This link has expired' };
    assert.deepEqual(await tryLink(link), EXPIRED);
    const posted = await browser.submit(form, /\/account\/invitation$/, { password: PASSWORD });
    assert.deepEqual({ status: posted.status, title: heading(posted.html) }, EXPIRED);
    const after = (await findUserByEmail(database.db, 'jonas@example.com')) as User;
    assert.equal(after.password_hash, null);
    assert.equal(after.email_verified, false);
  });

  it('refuses a revoked invitation link with 410', async () => {
    const { user, link } = await invite('kira@example.com');
    const browser = newBrowser();
    const form = await browser.navigate(link);
    assert.equal(form.status, 200);
    await revokeInvitation(operator(database), user.id);
    const WITHDRAWN = { status: 410, title: 'This link was withdrawn' };
    assert.deepEqual(await tryLink(link), WITHDRAWN);
    const posted = await browser.submit(form, /\/account\/invitation$/, { password: PASSWORD });
    assert.deepEqual({ status: posted.status, title: heading(posted.html) }, WITHDRAWN);
    assert.equal(((await findUserByEmail(database.db, 'kira@example.com')) as User).password_hash, null);
    const events = await database.db('domain_events').where('subject', user.id).orderBy('seq').pluck('type');
    assert.deepEqual(events, ['gatehouse.user.invited', 'gatehouse.user.invitation_revoked']);
  });

  it('refuses the earlier link once someone is invited again, and a tampered link with 400', async () => {
    const first = await invite('lena@example.com');
    const second = await invite('lena@example.com');
    assert.equal(first.user.id, second.user.id, 'the same invited user');
    assert.notEqual(tokenOf(first.link), tokenOf(second.link));
    assert.deepEqual(await tryLink(first.link), { status: 410, title: 'A newer link replaced this one' });
    const token = tokenOf(second.link);
    const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    assert.deepEqual(await tryLink(`${invitationLinkPrefix()}${tampered}`), { status: 400, title: 'This link is not valid' });
    assert.deepEqual(await tryLink(second.link), { status: 200, title: 'Accept your invitation' });
  });

  it('does not sign in a browser whose ticket has expired', async () => {
    const { link } = await invite('milo@example.com');
    const browser = newBrowser();
    const form = await browser.navigate(link);
    const ready = await browser.submit(form, /\/account\/invitation$/, { password: PASSWORD });
    assert.equal(heading(ready.html), 'Your account is ready');
    const milo = (await findUserByEmail(database.db, 'milo@example.com')) as User;
    await database.db.raw(`update one_time_tokens set expires_at = now() - interval '1 second' where user_id = ? and purpose = 'sign_in'`, [
      milo.id,
    ]);
    const { page } = await openSignIn(browser, config);
    assert.ok(!page.url.startsWith(RP_REDIRECT));
    assert.equal(heading(page.html), 'Sign in', 'an expired ticket signs nobody in');
  });
});
