// Guessing passwords at one account from many sources: after SIGNIN_DELAY_AFTER failures each
// further try must wait, after SIGNIN_LOCK_AFTER the account is locked (even the right password
// is refused), its owner is emailed a reset link, and the lock is in the audit trail and the
// event feed under the user's id. Another account is not affected; a Unicode case variant of the
// address counts against the same account; the lock ends by itself or at once with a password
// reset; and nothing in the answers tells whether an address has an account. IPv6 sources are
// counted per /64.
//
// Clients are behind one trusted proxy (TRUST_PROXY=true), so X-Forwarded-For is the source IP:
// each attempt comes from an address of its own unless the test says otherwise. Three instances
// share the database, each with the thresholds its tests need:
//   locks    SIGNIN_DELAY_AFTER=2, SIGNIN_LOCK_AFTER=3: the 3rd failure starts the delays, the 4th
//            attempt locks — reached without waiting out a delay (no test sleeps)
//   paces    SIGNIN_DELAY_AFTER=2, SIGNIN_LOCK_AFTER=4: the delay itself is seen
//   lenient  thresholds out of the way, for the per-source limits
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ProxiedBrowser, findForm } from '../helpers/browserForm.ts';
import { ALICE, createAlice, createClient, operator } from '../helpers/fixtures.ts';
import { discover } from '../helpers/relyingParty.ts';
import { createSmtpSink, linkIn, mailTo, type SmtpSink } from '../helpers/smtpSink.ts';
import { comparable, followLink, heading, openSignIn } from '../helpers/accountScreens.ts';
import { createUser, type User } from '../../src/accounts/index.ts';

const LOCKED = 'Too many failed sign-ins for this account. Try again in 15 minutes, or reset your password with “Forgot password?”.';
const LOCKED_SUBJECT = 'Your account is locked for a while';
const INCORRECT = 'Incorrect email or password.';

let nextHost = 1;
/** A new IPv4 source each time. */
const newIp = () => `198.18.${Math.floor(nextHost / 250)}.${(nextHost++ % 250) + 1}`;

interface Answer {
  status: number;
  retryAfter: string | null;
  html: string;
}

/** An instance with its relying party. */
interface Instance {
  server: TestServer;
  config: client.Configuration;
}

describe('account-wide sign-in limits', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let locks: Instance;
  let paces: Instance;
  let lenient: Instance;

  async function instance(env: Record<string, string>): Promise<Instance> {
    const server = await startTestServer(database, { SMTP_URL: sink.url, TRUST_PROXY: 'true', SIGNIN_LOCK_MINUTES: '15', ...env });
    const registered = await createClient(database, server.config, { name: 'Abuse App', clientId: `abuse-${server.config.port}` });
    return { server, config: await discover(server.issuer, registered.client_id, registered.client_secret) };
  }

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    locks = await instance({ SIGNIN_DELAY_AFTER: '2', SIGNIN_LOCK_AFTER: '3' });
    paces = await instance({ SIGNIN_DELAY_AFTER: '2', SIGNIN_LOCK_AFTER: '4' });
    lenient = await instance({ SIGNIN_DELAY_AFTER: '100', SIGNIN_LOCK_AFTER: '1000' });
  });

  after(async () => {
    for (const running of [locks, paces, lenient]) await running?.server.close();
    await sink?.stop();
    await database?.dispose();
  });

  const user = (email: string, password: string): Promise<User> =>
    createUser(operator(database), { email, password, email_verified: true }, 4);

  /** One sign-in attempt from `ip`, through the hosted screen of `at`. */
  async function signIn(at: Instance, email: string, password: string, ip = newIp()): Promise<Answer> {
    const browser = new ProxiedBrowser(ip);
    const { page } = await openSignIn(browser, at.config);
    const form = findForm(page.html, /\/password$/);
    const response = await browser.request(new URL(form.action, page.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.hidden, email, password }),
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), html: await response.text() };
  }

  /** Fails `times` sign-ins at `email`, each from a source of its own; all must be plain failures. */
  async function fail(at: Instance, email: string, times: number) {
    for (let attempt = 1; attempt <= times; attempt++) {
      const answer = await signIn(at, email, `wrong guess ${attempt}`);
      assert.equal(answer.status, 401, `failure ${attempt} of ${email}`);
      assert.ok(answer.html.includes(INCORRECT));
    }
  }

  const count = async (table: string, where: Record<string, unknown>) =>
    Number((await database.db(table).where(where).count('* as n').first())?.n);

  const lockedUntil = async (id: string) => (await database.db<User>('users').where({ id }).first())?.locked_until ?? null;

  it('refuses a quick retry after SIGNIN_DELAY_AFTER failures with 429 "Wait N seconds", even with the right password', async () => {
    const sam = await user('sam@example.com', 'copper wren mosaic');
    await fail(paces, sam.email, 3); // the third is past the threshold: it opened a delay window
    // The refusal comes before the password is looked at: the right one waits too.
    const early = await signIn(paces, sam.email, 'copper wren mosaic');
    assert.equal(early.status, 429);
    // The window after the third failure is one second long. (The message says "1 seconds".)
    assert.match(early.html, /Too many failed sign-ins\. Wait 1 seconds? and try again\./);
    assert.equal(early.retryAfter, '1');
    assert.equal(heading(early.html), 'Sign in');
    assert.match(early.html, /id="email"[^>]*value="sam@example.com"/, 'the typed email is kept');
    const throttled = await database.db('audit_events').where({ type: 'login.throttled', user_id: sam.id }).pluck('details');
    assert.deepEqual(
      throttled.map((d: { reason: string }) => d.reason),
      ['slow_down'],
    );
    assert.equal(await lockedUntil(sam.id), null, 'slowed down, not locked');
    assert.equal(await count('audit_events', { type: 'login.succeeded', user_id: sam.id }), 0);
  });

  it('locks an account after SIGNIN_LOCK_AFTER failures from many sources, emails its owner and records it under the user id', async () => {
    const bianca = await user('bianca@example.com', 'glacier mint parade');
    const bob = await user('bob@example.com', 'velvet anchor thistle');
    await fail(locks, bianca.email, 3);

    const locking = await signIn(locks, bianca.email, 'fourth guess');
    assert.equal(locking.status, 429);
    assert.equal(heading(locking.html), 'Sign in');
    assert.ok(locking.html.includes(LOCKED), locking.html);
    assert.ok(Number(locking.retryAfter) > 14 * 60 && Number(locking.retryAfter) <= 15 * 60, `Retry-After ${locking.retryAfter}`);
    assert.match(locking.html, /id="email"[^>]*value="bianca@example.com"/, 'the typed email is kept');

    // The right password is refused while locked, from anywhere.
    const right = await signIn(locks, bianca.email, 'glacier mint parade');
    assert.equal(right.status, 429);
    assert.ok(right.html.includes(LOCKED));
    const until = await lockedUntil(bianca.id);
    assert.ok(until && new Date(until).getTime() > Date.now() + 14 * 60_000, `locked_until ${until}`);

    // Someone else, from the same sources, is not affected.
    assert.equal((await signIn(locks, bob.email, 'velvet anchor thistle')).status, 303);

    // The owner is told once, with a link that resets the password.
    const mail = await sink.waitForMail(mailTo(bianca.email, LOCKED_SUBJECT));
    assert.ok(mail.text.includes('it is locked for 15 minutes'), mail.text);
    linkIn(mail, `${locks.server.issuer}/account/reset-password?token=`);
    assert.equal(await count('mail_queue', { recipient: bianca.email, template: 'account_locked' }), 1);
    assert.equal(await count('domain_events', { type: 'gatehouse.user.locked', subject: bianca.id }), 1);
    const lockAudit = await database.db('audit_events').where({ type: 'user.locked' }).andWhere('user_id', bianca.id);
    assert.equal(lockAudit.length, 1);
    assert.equal(lockAudit[0].details.minutes, 15);

    const failed = await database
      .db('audit_events')
      .where({ type: 'login.failed' })
      .andWhereRaw("details->>'reason' = 'wrong_password'")
      .andWhere('user_id', bianca.id);
    assert.equal(failed.length, 3, 'each failure is audited with the user id');
    const refused = await database.db('audit_events').where({ type: 'login.throttled', user_id: bianca.id }).pluck('details');
    assert.equal(refused.length, 2);
    assert.ok(refused.every((d: { reason: string }) => d.reason === 'locked'));
  });

  it('counts alİce@example.com (U+0130) against alice@example.com', async () => {
    const alice = await createAlice(database);
    const variant = 'alİce@example.com';
    for (const [n, email] of [ALICE.email, variant, ALICE.email].entries()) {
      const answer = await signIn(locks, email, `wrong guess ${n}`);
      assert.equal(answer.status, 401, `failure ${n + 1} as ${email}`);
    }
    const locking = await signIn(locks, variant, 'fourth guess');
    assert.equal(locking.status, 429);
    assert.ok(locking.html.includes(LOCKED));
    assert.equal((await signIn(locks, ALICE.email, ALICE.password)).status, 429, 'the real address is locked');
    assert.ok(await lockedUntil(alice.id));
    assert.equal(await count('audit_events', { type: 'login.failed', user_id: alice.id }), 3, 'the variant’s failures name Alice');
    await sink.waitForMail(mailTo(ALICE.email, LOCKED_SUBJECT));
  });

  it('ends the lock when its time is up', async (t) => {
    const uri = await user('uri@example.com', 'quartz lagoon ferry');
    await fail(locks, uri.email, 3);
    assert.equal((await signIn(locks, uri.email, 'fourth guess')).status, 429);

    // Time moves on 16 minutes for this process (every counter store compares with Date.now(),
    // the in-memory one of the embedded database too), past the counters' block; the account's
    // own lock is made to last an hour in the database, so it has not run out yet.
    await database.db.raw(`update users set locked_until = now() + interval '1 hour' where id = ?`, [uri.id]);
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    t.mock.timers.tick(16 * 60 * 1000);
    const stillLocked = await signIn(locks, uri.email, 'quartz lagoon ferry');
    assert.equal(stillLocked.status, 429);
    // The wait it names is what is left of the account's lock: about 44 of its 60 minutes.
    assert.match(stillLocked.html, /Too many failed sign-ins for this account\. Try again in 4[45] minutes, or reset your password/);

    // Now the lock's time is up too.
    await database.db.raw(`update users set locked_until = now() - interval '1 second' where id = ?`, [uri.id]);
    const back = await signIn(locks, uri.email, 'quartz lagoon ferry');
    assert.equal(back.status, 303, back.html);
  });

  it('lifts the lock at once when the owner resets the password with the emailed link', async () => {
    const vera = await user('vera@example.com', 'cobalt meadow ribbon');
    await fail(locks, vera.email, 3);
    assert.equal((await signIn(locks, vera.email, 'fourth guess')).status, 429);
    const link = linkIn(await sink.waitForMail(mailTo(vera.email, LOCKED_SUBJECT)), `${locks.server.issuer}/account/reset-password?token=`);

    const browser = new ProxiedBrowser(newIp());
    const form = await browser.navigate(link);
    assert.equal(form.status, 200);
    const changed = await browser.submit(form, /\/account\/reset-password$/, { password: 'new kettle jazz pilot 42' });
    assert.equal(changed.status, 200);
    assert.equal(heading(changed.html), 'Password changed');
    assert.equal(await lockedUntil(vera.id), null);

    assert.equal((await signIn(locks, vera.email, 'cobalt meadow ribbon')).status, 401, 'the old password is gone');
    assert.equal((await signIn(locks, vera.email, 'new kettle jazz pilot 42')).status, 303, 'signed in at once');
  });

  it('answers an unknown address exactly as a known one, from the first failure to the lock', async () => {
    const walt = await user('walt@example.com', 'juniper socket harbor');
    const unknown = 'ghost@example.com';
    for (let attempt = 1; attempt <= 4; attempt++) {
      const known = await signIn(locks, walt.email, `guess ${attempt}`);
      const nobody = await signIn(locks, unknown, `guess ${attempt}`);
      assert.equal(known.status, attempt < 4 ? 401 : 429, `attempt ${attempt}`);
      assert.equal(nobody.status, known.status, `attempt ${attempt}`);
      assert.equal(comparable(nobody.html, unknown), comparable(known.html, walt.email), `attempt ${attempt}`);
    }
    // Only the real account is locked and told.
    assert.ok(await lockedUntil(walt.id));
    await sink.waitForMail(mailTo(walt.email, LOCKED_SUBJECT));
    assert.equal(await count('mail_queue', { recipient: unknown }), 0);
  });

  it('counts two IPv6 addresses of one /64 as one source', async () => {
    const yara = await user('yara@example.com', 'tundra pepper lantern');
    // Five failures for one address from one source block that pair; here the source rotates
    // through its /64.
    for (const [n, ip] of [
      '2001:db8:1:2::a',
      '2001:db8:1:2::b',
      '2001:db8:1:2:ffff::1',
      '2001:db8:1:2::c',
      '2001:db8:1:2:abcd:ef01:2345:6789',
    ].entries()) {
      assert.equal((await signIn(lenient, yara.email, `guess ${n}`, ip)).status, 401, `failure from ${ip}`);
    }
    const sameNetwork = await signIn(lenient, yara.email, 'tundra pepper lantern', '2001:db8:1:2::d');
    assert.equal(sameNetwork.status, 429);
    assert.ok(sameNetwork.html.includes('Too many sign-in attempts. Try again in 15 minutes.'), sameNetwork.html);
    // The next /64 is another source.
    assert.equal((await signIn(lenient, yara.email, 'tundra pepper lantern', '2001:db8:1:3::a')).status, 303);
  });

  it('counts sign-ups from one IPv6 /64 against one per-source allowance (10 an hour)', async () => {
    const signUp = async (n: number) => {
      const browser = new ProxiedBrowser(`2001:db8:77:1::${(n + 1).toString(16)}`);
      const { page: login } = await openSignIn(browser, lenient.config);
      const form = await followLink(browser, login, 'Create account');
      return browser.submit(form, /\/signup$/, { email: `ipv6-signup-${n}@example.com`, password: 'amber tractor moonlit 81' });
    };
    for (let n = 0; n < 10; n++) assert.equal((await signUp(n)).status, 200, `sign-up ${n + 1}`);
    const eleventh = await signUp(10);
    assert.equal(eleventh.status, 429);
    assert.ok(eleventh.html.includes('Too many accounts or emails asked for from here. Try again later.'));
    assert.equal(await count('users', { email: 'ipv6-signup-10@example.com' }), 0);
  });
});
