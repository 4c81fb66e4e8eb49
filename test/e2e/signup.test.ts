// Sign-up from the hosted sign-in screen, end to end: "Create account" → "Check your email" → the
// code or the link from a real SMTP sink finishes the sign-in at a real relying party. Every bad
// input named in the issue gets its exact answer, and nothing is written for it; an address that
// already has an account gets the very same screen (its owner gets a notice); the emailed link
// is refused, with its own title, when tampered with, meant for something else, used or expired;
// and a mail server that is down delays the mail, never the sign-up.
//
// Each test uses its own addresses and its own source IP (through the trusted proxy), so the
// per-address and per-source limits of one test never touch another and any test runs alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import bcrypt from 'bcrypt';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { ProxiedBrowser, findForm, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { discover } from '../helpers/relyingParty.ts';
import { codeIn, createSmtpSink, linkIn, mailTo, type ReceivedMail, type SmtpSink } from '../helpers/smtpSink.ts';
import {
  comparable,
  eventually,
  finishAtRelyingParty,
  followLink,
  heading,
  interactionUid,
  linkHref,
  openSignIn,
} from '../helpers/accountScreens.ts';
import { createUser, issueToken, type User } from '../../src/accounts/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const PASSWORD = 'amber tractor moonlit 81';
const VERIFY_SUBJECT = 'Verify your email address';
const NOTICE_SUBJECT = 'Someone tried to create an account with your email address';
const WRONG_CODE = 'That code is not right, or it has expired. Check the latest email we sent, or send a new code.';
const NOT_VERIFIED_YET = 'Your email is not verified yet. Enter the code from the email, or follow its link, then continue.';

let nextIp = 1;
/** A browser of its own, seen by the proxy at an address of its own. */
const newBrowser = () => new ProxiedBrowser(`198.51.100.${nextIp++}`);

const usersNamed = (database: TestDatabase, email: string): Promise<User[]> =>
  database.db<User>('users').whereRaw('lower(email) = lower(?)', [email]);

/** What a form field shows: its value attribute, or undefined when it has none. */
const fieldValue = (html: string, name: string) =>
  /value="([^"]*)"/.exec(new RegExp(`<input id="${name}"[^>]*>`).exec(html)?.[0] ?? '')?.[1];

describe('sign-up from the sign-in screen', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  /** A client with the defaults: sign-up offered, verified email required. */
  let app: client.Configuration;
  /** A client an operator made with require_verified_email false. */
  let lax: client.Configuration;
  /** A client an operator made with allow_signup false. */
  let closed: client.Configuration;
  let appClientId: string;
  let appClientSecret: string;

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    server = await startTestServer(database, { SMTP_URL: sink.url, TRUST_PROXY: 'true' });
    const registered = await createClient(database, server.config, { name: 'Signup App' });
    appClientId = registered.client_id;
    appClientSecret = registered.client_secret as string;
    app = await discover(server.issuer, registered.client_id, registered.client_secret);
    const laxClient = await createClient(database, server.config, { name: 'Lax App', requireVerifiedEmail: false });
    lax = await discover(server.issuer, laxClient.client_id, laxClient.client_secret);
    const closedClient = await createClient(database, server.config, { name: 'Closed App', allowSignup: false });
    closed = await discover(server.issuer, closedClient.client_id, closedClient.client_secret);
  });

  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  /** Opens the sign-in screen, follows "Create account" and submits the form. */
  async function signUp(browser: ProxiedBrowser, email: string, password = PASSWORD, config = app) {
    const { request, page: login } = await openSignIn(browser, config);
    const form = await followLink(browser, login, 'Create account');
    const page = await browser.submit(form, /\/signup$/, { email, password });
    return { browser, request, login, form, page };
  }

  const verificationMail = (email: string) => sink.waitForMail(mailTo(email, VERIFY_SUBJECT));

  it('shows the "Create account" form with a labelled email and password field', async () => {
    const browser = newBrowser();
    const { page: login } = await openSignIn(browser, app);
    const form = await followLink(browser, login, 'Create account');
    assert.equal(form.status, 200);
    assert.equal(heading(form.html), 'Create account');
    assert.ok(!form.html.includes('[object Promise]'), 'the fields are rendered, not their promises');
    assert.match(form.html, /<label for="email">Email<\/label>\s*<input id="email" name="email" type="email" autocomplete="email"/);
    assert.match(
      form.html,
      /<label for="password">Password<\/label>\s*<input id="password" name="password" type="password" autocomplete="new-password"/,
    );
    assert.match(form.html, /<p class="hint" id="password-hint">At least 12 characters\./);
    assert.match(form.html, /<button type="submit" class="primary">Create account<\/button>/);
  });

  it('creates an account, emails a code and a link, and the code finishes the sign-in at the relying party', async () => {
    const email = 'nadia@example.com';
    const browser = newBrowser();
    const { request, page: login } = await openSignIn(browser, app);
    assert.equal(login.status, 200);
    const uid = interactionUid(login.url);
    assert.equal(linkHref(login.html, 'Create account'), `/interaction/${uid}/signup`);

    const form = await followLink(browser, login, 'Create account');
    assert.equal(form.status, 200);
    assert.equal(heading(form.html), 'Create account');

    const page = await browser.submit(form, /\/signup$/, { email, password: PASSWORD });
    assert.equal(page.status, 200);
    assert.equal(heading(page.html), 'Check your email');
    assert.ok(page.html.includes(`We sent a code and a link to ${email}. It can take a minute to arrive.`), page.html);
    assert.ok(!page.html.includes(PASSWORD), 'the password is never shown again');

    const [user] = await usersNamed(database, email);
    assert.equal(user.email, email);
    assert.equal(user.email_verified, false);
    assert.ok(user.password_hash && !user.password_hash.includes(PASSWORD));
    const [token] = await database.db('one_time_tokens').where({ user_id: user.id, purpose: 'verify_email' });
    assert.equal(token.data.interaction, uid);
    assert.equal(token.data.client_id, appClientId);

    const mail = await verificationMail(email);
    assert.deepEqual(mail.to, [email]);
    const code = codeIn(mail);
    assert.match(code, /^\d{6}$/);
    assert.match(linkIn(mail, `${server.issuer}/account/verify-email?token=`), /\?token=[A-Za-z0-9_-]{43}$/);

    const signedIn = await browser.submit(page, /\/verify-email$/, { code });
    const tokens = await finishAtRelyingParty(browser, signedIn, app, request);
    const claims = tokens.claims();
    assert.equal(claims?.sub, user.id);
    assert.deepEqual(claims?.amr, ['pwd']);
    // The ID token of a code flow carries only sub and the like (conformIdTokenClaims): the email
    // claims come from userinfo, as the relying party asks for them.
    const userinfo = await client.fetchUserInfo(app, tokens.access_token, user.id);
    assert.equal(userinfo.email, email);
    assert.equal(userinfo.email_verified, true);

    const [after] = await usersNamed(database, email);
    assert.equal(after.email_verified, true);
    const events = await database.db('domain_events').where('subject', user.id).orderBy('seq').pluck('type');
    assert.deepEqual(events, ['gatehouse.user.registered', 'gatehouse.user.email_verified']);
    const used = await database.db('one_time_tokens').where({ id: token.id }).first();
    assert.ok(used.consumed_at, 'the code used up its token');
  });

  it('finishes the sign-in once the emailed link is followed and "I followed the link, continue" is pressed', async () => {
    const email = 'omar@example.com';
    const browser = newBrowser();
    const { request, page } = await signUp(browser, email);
    assert.equal(page.status, 200);

    // Continue before following the link: not yet.
    const early = await browser.submit(page, /\/verify-email\/continue$/, {});
    assert.equal(early.status, 400);
    assert.ok(early.html.includes(NOT_VERIFIED_YET), early.html);

    // The link opens on another device (another browser): a GET only shows what it will do.
    const link = linkIn(await verificationMail(email), `${server.issuer}/account/verify-email?token=`);
    const phone = newBrowser();
    const confirm = await phone.navigate(link);
    assert.equal(confirm.status, 200);
    assert.equal(heading(confirm.html), 'Verify your email');
    assert.match(confirm.html, /<button type="submit" class="primary">Verify email<\/button>/);
    assert.equal((await usersNamed(database, email))[0].email_verified, false, 'opening the link changes nothing');

    const verified = await phone.submit(confirm, /\/account\/verify-email$/, {});
    assert.equal(verified.status, 200);
    assert.equal(heading(verified.html), 'Email verified');
    assert.equal((await usersNamed(database, email))[0].email_verified, true);

    const signedIn = await browser.submit(early, /\/verify-email\/continue$/, {});
    const tokens = await finishAtRelyingParty(browser, signedIn, app, request);
    const [user] = await usersNamed(database, email);
    assert.equal(tokens.claims()?.sub, user.id);
    assert.equal((await client.fetchUserInfo(app, tokens.access_token, user.id)).email_verified, true);
  });

  it('answers an address that has an account, in another letter case, with the same screen, creates nothing and tells the owner', async () => {
    const owner = await createUser(operator(database), { email: 'dora@example.com', password: 'tidal oak lemon', email_verified: true }, 4);
    const fresh = await signUp(newBrowser(), 'erin@example.com');
    assert.equal(fresh.page.status, 200);
    const taken = await signUp(newBrowser(), 'DORA@Example.COM');

    assert.equal(taken.page.status, fresh.page.status);
    assert.equal(comparable(taken.page.html, 'DORA@Example.COM'), comparable(fresh.page.html, 'erin@example.com'));
    const doras = await usersNamed(database, 'dora@example.com');
    assert.deepEqual(
      doras.map((u) => u.id),
      [owner.id],
      'no second account',
    );
    assert.equal(doras[0].password_hash, owner.password_hash, 'the owner’s password is untouched');

    const notice = await sink.waitForMail(mailTo('dora@example.com', NOTICE_SUBJECT));
    assert.deepEqual(notice.to, ['dora@example.com'], 'sent to the owner’s address as stored');
    assert.ok(notice.text.includes(`${server.issuer}/account/forgot-password`), notice.text);
    const queued = await database.db('mail_queue').whereRaw('lower(recipient) = ?', ['dora@example.com']).pluck('template');
    assert.deepEqual(queued, ['registration_attempt'], 'no code for an address that has an account');
    const events = await database.db('domain_events').where('subject', owner.id).pluck('type');
    assert.ok(events.includes('gatehouse.user.registration_attempted'), events.join());

    // A code typed on that screen never signs anyone in (there is none to type).
    const guess = await taken.browser.submit(taken.page, /\/verify-email$/, { code: '123456' });
    assert.equal(guess.status, 400);
    assert.ok(guess.html.includes(WRONG_CODE));
  });

  const BAD_INPUT: { name: string; email: string; password: string; field: 'email' | 'password'; message: string }[] = [
    { name: 'a malformed email', email: 'not-an-email', password: PASSWORD, field: 'email', message: 'Enter a valid email address' },
    { name: 'an empty email', email: '', password: PASSWORD, field: 'email', message: 'Enter a valid email address' },
    { name: 'an empty password', email: 'bad-empty@example.com', password: '', field: 'password', message: 'Enter a password' },
    {
      name: 'a short password',
      email: 'bad-short@example.com',
      password: 'Sh0rt-pw!',
      field: 'password',
      message: 'Use at least 12 characters',
    },
    {
      name: 'a breached password',
      email: 'bad-breached@example.com',
      password: 'password1234',
      field: 'password',
      message: 'This password is in a list of passwords exposed in data breaches. Choose another.',
    },
    {
      name: 'a breached password of 14 characters in another case',
      email: 'bad-breached2@example.com',
      password: 'ChickenWing101',
      field: 'password',
      message: 'This password is in a list of passwords exposed in data breaches. Choose another.',
    },
    {
      name: 'a password of 1025 characters',
      email: 'bad-long@example.com',
      password: `long-${'q'.repeat(1015)}-tail`,
      field: 'password',
      message: 'Use at most 1024 characters',
    },
  ];

  for (const bad of BAD_INPUT) {
    it(`refuses ${bad.name} with 400 and the message next to the field, keeping the email and creating nothing`, async () => {
      const { page } = await signUp(newBrowser(), bad.email, bad.password);
      assert.equal(page.status, 400);
      assert.equal(heading(page.html), 'Create account');
      assert.ok(page.html.includes('<p class="error" role="alert" id="signup-error">Check the fields below.</p>'), page.html);
      assert.ok(page.html.includes(`<p class="field-error" id="${bad.field}-error">${bad.message}</p>`), page.html);
      assert.match(page.html, new RegExp(`<input id="${bad.field}"[^>]*aria-invalid="true"`));
      const other = bad.field === 'email' ? 'password' : 'email';
      assert.ok(!page.html.includes(`id="${other}-error"`), `no error on ${other}`);
      assert.equal(fieldValue(page.html, 'email'), bad.email, 'the typed email is kept');
      assert.equal(fieldValue(page.html, 'password'), undefined, 'the password field is empty');
      if (bad.password) assert.ok(!page.html.includes(bad.password), 'the password is never echoed');
      if (bad.email) assert.deepEqual(await usersNamed(database, bad.email), []);
      assert.equal(Number((await database.db('users').where('email', bad.email).count('* as n').first())?.n), 0);
    });
  }

  it('refuses a sign-up without a CSRF token, or with a wrong one, with 403 and creates nothing', async () => {
    const browser = newBrowser();
    const { page: login } = await openSignIn(browser, app);
    const form = await followLink(browser, login, 'Create account');
    const action = new URL(findForm(form.html, /\/signup$/).action, form.url).toString();
    for (const csrf of [undefined, 'forged-token', findForm(login.html, /\/password$/).hidden._csrf.slice(0, -2)]) {
      const email = `csrf-${csrf === undefined ? 'none' : csrf.length}@example.com`;
      const body = new URLSearchParams({ email, password: PASSWORD, ...(csrf === undefined ? {} : { _csrf: csrf }) });
      const response = await browser.request(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      assert.equal(response.status, 403);
      assert.equal(heading(await response.text()), 'This form has expired');
      assert.deepEqual(await usersNamed(database, email), []);
    }
    // Another browser's token (another CSRF secret) is no better.
    const other = newBrowser();
    const theirs = findForm((await openSignIn(other, app)).page.html, /\/password$/).hidden._csrf;
    const response = await browser.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: theirs, email: 'csrf-other@example.com', password: PASSWORD }),
    });
    assert.equal(response.status, 403);
    assert.deepEqual(await usersNamed(database, 'csrf-other@example.com'), []);
  });

  /** Sign-up is off: no link, and both the form and a well-formed POST answer 403. */
  async function assertSignupOff(browser: ProxiedBrowser, login: Page, email: string) {
    assert.equal(login.status, 200);
    assert.equal(heading(login.html), 'Sign in');
    assert.equal(linkHref(login.html, 'Create account'), undefined);
    assert.ok(!login.html.includes('/signup'), 'no way to the sign-up form');
    const uid = interactionUid(login.url);
    const signupUrl = new URL(`/interaction/${uid}/signup`, login.url).toString();
    const form = await browser.navigate(signupUrl);
    assert.equal(form.status, 403);
    assert.equal(heading(form.html), 'Sign-up is not available');
    const response = await browser.request(signupUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: findForm(login.html, /\/password$/).hidden._csrf, email, password: PASSWORD }),
    });
    assert.equal(response.status, 403);
    assert.equal(heading(await response.text()), 'Sign-up is not available');
    assert.deepEqual(await usersNamed(database, email), []);
  }

  it('offers no sign-up, and refuses one with 403, for a client with allow_signup false', async () => {
    const browser = newBrowser();
    const { page } = await openSignIn(browser, closed);
    await assertSignupOff(browser, page, 'closed-client@example.com');
  });

  it('offers no sign-up, and refuses one with 403, when SIGNUP_ENABLED=false', async () => {
    // A second instance on the same database, with sign-up turned off (and the same mail sink).
    const off = await startTestServer(database, { SMTP_URL: sink.url, TRUST_PROXY: 'true', SIGNUP_ENABLED: 'false' });
    try {
      const browser = newBrowser();
      const { page } = await openSignIn(browser, await discover(off.issuer, appClientId, appClientSecret));
      await assertSignupOff(browser, page, 'instance-off@example.com');
    } finally {
      await off.close();
    }
  });

  it('refuses a wrong code with 400, and five wrong codes use the token up so that even the right one fails', async () => {
    const email = 'paolo@example.com';
    const browser = newBrowser();
    const { page } = await signUp(browser, email);
    const code = codeIn(await verificationMail(email));
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');

    let current = page;
    for (let attempt = 1; attempt <= 5; attempt++) {
      current = await browser.submit(current, /\/verify-email$/, { code: attempt === 3 ? 'abc123' : wrong });
      assert.equal(current.status, 400, `attempt ${attempt}`);
      assert.equal(heading(current.html), 'Check your email');
      assert.ok(current.html.includes(WRONG_CODE), current.html);
    }
    const [user] = await usersNamed(database, email);
    const token = await database.db('one_time_tokens').where({ user_id: user.id, purpose: 'verify_email' }).first();
    assert.equal(token.code_attempts, 5);
    assert.ok(token.consumed_at, 'the fifth wrong code used the token up');

    const late = await browser.submit(current, /\/verify-email$/, { code });
    assert.equal(late.status, 400);
    assert.ok(late.html.includes(WRONG_CODE));
    assert.equal((await usersNamed(database, email))[0].email_verified, false);
  });

  it('refuses tampered, other-purpose, reused and expired links with 400 or 410 and their own titles', async () => {
    const email = 'quentin@example.com';
    await signUp(newBrowser(), email);
    const link = linkIn(await verificationMail(email), `${server.issuer}/account/verify-email?token=`);
    const [user] = await usersNamed(database, email);
    const token = new URL(link).searchParams.get('token') as string;
    const browser = newBrowser();
    const form = await browser.navigate(link);
    assert.equal(form.status, 200);
    const csrf = findForm(form.html, /\/account\/verify-email$/).hidden._csrf;
    const post = async (path: string, value: string) => {
      const response = await browser.request(new URL(path, server.issuer).toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, token: value }),
      });
      return { status: response.status, title: heading(await response.text()) };
    };
    const get = async (path: string, value: string) => {
      const page = await browser.navigate(new URL(`${path}?token=${encodeURIComponent(value)}`, server.issuer).toString());
      return { status: page.status, title: heading(page.html) };
    };
    const INVALID = { status: 400, title: 'This link is not valid' };

    const tampered = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;
    assert.deepEqual(await get('/account/verify-email', tampered), INVALID);
    assert.deepEqual(await post('/account/verify-email', tampered), INVALID);
    assert.deepEqual(await get('/account/verify-email', token.slice(0, 30)), INVALID);

    // A live token for another purpose opens nothing here, and this one opens nothing there.
    const box = createSecretBox(TEST_SECRET_KEY);
    const reset = await database.db.transaction((trx) =>
      issueToken(trx, box, { purpose: 'password_reset', userId: user.id, ttlSeconds: 3600 }),
    );
    assert.deepEqual(await get('/account/verify-email', reset.token), INVALID);
    assert.deepEqual(await post('/account/verify-email', reset.token), INVALID);
    assert.deepEqual(await get('/account/reset-password', token), INVALID);
    assert.equal((await usersNamed(database, email))[0].email_verified, false);

    // Used once, then never again.
    assert.deepEqual(await post('/account/verify-email', token), { status: 200, title: 'Email verified' });
    const USED = { status: 410, title: 'This link has already been used' };
    assert.deepEqual(await post('/account/verify-email', token), USED);
    assert.deepEqual(await get('/account/verify-email', token), USED);

    // Expired: time moves in the database.
    const late = 'rosa@example.com';
    await signUp(newBrowser(), late);
    const lateToken = new URL(linkIn(await verificationMail(late), `${server.issuer}/account/verify-email?token=`)).searchParams.get(
      'token',
    ) as string;
    const [rosa] = await usersNamed(database, late);
    await database.db.raw(
      `update one_time_tokens set expires_at = now() - interval '1 minute' where user_id = ? and purpose = 'verify_email'`,
      [rosa.id],
    );
    const EXPIRED = { status: 410, title: 'This link has expired' };
    assert.deepEqual(await get('/account/verify-email', lateToken), EXPIRED);
    assert.deepEqual(await post('/account/verify-email', lateToken), EXPIRED);
    assert.equal((await usersNamed(database, late))[0].email_verified, false);
  });

  it('sends an unverified user who signs in to a client that requires it to "Check your email"; the code then finishes the sign-in', async () => {
    const email = 'uma@example.com';
    const password = 'plaster comet violin';
    const uma = await createUser(operator(database), { email, password, email_verified: false }, 4);
    const browser = newBrowser();
    const { request, page: login } = await openSignIn(browser, app);
    const page = await browser.submit(login, /\/password$/, { email, password });
    assert.equal(page.status, 200);
    assert.equal(heading(page.html), 'Check your email');
    assert.ok(page.html.includes('We sent a code and a link to uma@example.com.'), page.html);
    const unverified = await database.db('audit_events').where({ type: 'login.unverified', user_id: uma.id }).count('* as n').first();
    assert.equal(Number(unverified?.n), 1);

    const code = codeIn(await verificationMail(email));
    const signedIn = await browser.submit(page, /\/verify-email$/, { code });
    const tokens = await finishAtRelyingParty(browser, signedIn, app, request);
    assert.equal(tokens.claims()?.sub, uma.id);
    assert.equal((await client.fetchUserInfo(app, tokens.access_token, uma.id)).email_verified, true);
  });

  it('finishes by code the sign-in of an unverified user whose imported hash was renewed on the way', async () => {
    const email = 'imported@example.com';
    const password = 'walnut harbour signal';
    const imported = await bcrypt.hash(password, 4); // a plain bcrypt hash from another system
    const ivo = await createUser(operator(database), { email, password_hash: imported }, 4);
    const browser = newBrowser();
    const { request, page: login } = await openSignIn(browser, app);
    const page = await browser.submit(login, /\/password$/, { email, password });
    assert.equal(heading(page.html), 'Check your email');
    assert.ok((await database.db('users').where('id', ivo.id).first()).password_hash.startsWith('$gh1$'), 'renewed');
    // The pending sign-in holds the renewed password, so its code still finishes it.
    const signedIn = await browser.submit(page, /\/verify-email$/, { code: codeIn(await verificationMail(email)) });
    const tokens = await finishAtRelyingParty(browser, signedIn, app, request);
    assert.equal(tokens.claims()?.sub, ivo.id);
  });

  it('signs an unverified user in to a client created with require_verified_email false, with email_verified false', async () => {
    const email = 'victor@example.com';
    const password = 'marble fjord cactus';
    const victor = await createUser(operator(database), { email, password, email_verified: false }, 4);
    const browser = newBrowser();
    const { request, page: login } = await openSignIn(browser, lax);
    const page = await browser.submit(login, /\/password$/, { email, password });
    const tokens = await finishAtRelyingParty(browser, page, lax, request);
    assert.equal(tokens.claims()?.sub, victor.id);
    const userinfo = await client.fetchUserInfo(lax, tokens.access_token, victor.id);
    assert.equal(userinfo.email, email);
    assert.equal(userinfo.email_verified, false);
    assert.equal((await usersNamed(database, email))[0].email_verified, false);
    assert.deepEqual(await database.db('mail_queue').where('recipient', email).pluck('template'), [], 'no verification asked for');

    // The same session does not satisfy a client that requires a verified email: it asks again.
    const again = await openSignIn(browser, app);
    assert.equal(heading(again.page.html), 'Sign in');
  });
});

describe('sign-up while the mail server is down', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  let app: client.Configuration;

  before(async () => {
    // A database of its own: no other instance's mailer may take this queue's mail.
    database = await createTestDatabase();
    sink = await createSmtpSink();
    await sink.stop(); // nothing listens on its port until start()
    server = await startTestServer(database, { SMTP_URL: sink.url, TRUST_PROXY: 'true' });
    const registered = await createClient(database, server.config, { name: 'Signup App' });
    app = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  async function signUp(email: string) {
    const browser = newBrowser();
    const { page: login } = await openSignIn(browser, app);
    const form = await followLink(browser, login, 'Create account');
    return browser.submit(form, /\/signup$/, { email, password: PASSWORD });
  }

  it('still signs up, keeps the mail queued, and sends it exactly once when the server is back', async () => {
    const email = 'walter@example.com';
    const page = await signUp(email);
    assert.equal(page.status, 200);
    assert.equal(heading(page.html), 'Check your email');
    assert.equal((await usersNamed(database, email)).length, 1);

    // The registration nudged the mailer; its try failed (connection refused) and the mail waits.
    const failed = await eventually('a failed delivery attempt', async () => {
      const row = await database.db('mail_queue').where('recipient', email).first();
      return row && Number(row.attempts) >= 1 && row.lease_until === null ? row : undefined;
    });
    assert.equal(failed.template, 'verify_email');
    assert.equal(failed.sent_at, null);
    assert.equal(failed.failed_at, null);
    assert.ok(failed.payload, 'the sealed payload is kept for the next try');
    assert.ok(failed.last_error, 'the failure is recorded');
    assert.equal(sink.messages.length, 0);

    // The mail server comes back; the retry is made due now instead of waiting for the backoff.
    await sink.start();
    await database.db('mail_queue').where('id', failed.id).update({ next_attempt_at: database.db.fn.now() });
    // Another sign-up nudges the mailer, which sends everything due.
    await signUp('xena@example.com');
    const mail: ReceivedMail = await sink.waitForMail(mailTo(email, VERIFY_SUBJECT), 30_000);
    assert.match(codeIn(mail), /^\d{6}$/);
    const sent = await eventually('the mail marked sent', async () => {
      const row = await database.db('mail_queue').where('id', failed.id).first();
      return row.sent_at ? row : undefined;
    });
    assert.equal(sent.payload, null, 'the payload is dropped once sent');
    assert.equal(sink.messages.filter(mailTo(email)).length, 1, 'sent exactly once');
    assert.equal(mail.messageId, `<${failed.id}@localhost>`);
  });
});
