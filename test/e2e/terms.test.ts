// The terms prompt over real HTTP with a real relying party (openid-client): a user who has not
// accepted the current version of the terms accepts them before going on, and the acceptance is
// stored with its version, time, IP and client; publishing a new version asks existing users
// again, with a link to what changed; declining ends the sign-in with access_denied at the
// relying party; prompt=none gets interaction_required. Bad input changes nothing: a mandatory
// document left unticked, ids the file does not declare, a form without its CSRF token; and two
// parallel submissions of one form store one acceptance.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, decode, findForm, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode, type AuthorizationRequest } from '../helpers/relyingParty.ts';
import { heading, linkHref } from '../helpers/accountScreens.ts';
import { policiesFile, type PoliciesFile } from '../helpers/policiesFile.ts';
import { createUser, type User } from '../../src/accounts/index.ts';

const PASSWORD = 'a long and unguessable passphrase';

const TERMS = {
  id: 'terms',
  title: { en: 'Terms of service', fr: 'Conditions d’utilisation' },
  version: '2026-01',
  url: 'https://legal.example/terms',
  changes_url: 'https://legal.example/terms/changes',
};
const PRIVACY = { id: 'privacy', title: 'Privacy policy', version: '3', url: 'https://legal.example/privacy' };
const NEWSLETTER = { id: 'newsletter', title: 'Newsletter terms', version: '1', url: 'https://legal.example/newsletter', mandatory: false };
const MARKETING = { id: 'marketing_email', label: 'Email me news and offers', version: '1', ask_at_sign_in: true };
const ANALYTICS = { id: 'analytics', label: 'Usage statistics', version: '1' };

const policies = (terms: Record<string, unknown> = TERMS) => ({
  documents: [terms, PRIVACY, NEWSLETTER],
  purposes: [MARKETING, ANALYTICS],
});

describe('the terms prompt', () => {
  let database: TestDatabase;
  let server: TestServer;
  let file: PoliciesFile;
  let config: oidc.Configuration;
  let clientId: string;
  let counter = 0;

  before(async () => {
    database = await createTestDatabase();
    file = policiesFile(policies());
    server = await startTestServer(database, { POLICIES_FILE: file.path });
    const app = await createClient(database, server.config, { name: 'Shop' });
    clientId = app.client_id;
    config = await discover(server.issuer, app.client_id, app.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function newUser(): Promise<User> {
    counter += 1;
    return createUser(operator(database), { email: `terms-${counter}@example.com`, password: PASSWORD, email_verified: true }, 4);
  }

  /** Signs in with the password; the page shown next (the terms, here). */
  async function signIn(
    browser: Browser,
    user: User,
    params: Record<string, string> = {},
  ): Promise<{ request: AuthorizationRequest; page: Page }> {
    const request = await authorizationRequest(config, params);
    const login = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    if (!/\/password"/.test(login.html)) return { request, page: login };
    return { request, page: await browser.submit(login, /\/password$/, { email: user.email, password: PASSWORD }, RP_REDIRECT) };
  }

  const isTerms = (page: Page) => heading(page.html) === 'Before you continue';
  const acceptances = (user: User) =>
    database.db('policy_acceptances').where('user_id', user.id).orderBy('id').select('document', 'version', 'decision', 'ip', 'client_id');
  const consents = (user: User) =>
    database.db('consent_records').where('user_id', user.id).orderBy('id').select('purpose', 'version', 'granted', 'source');
  const ACCEPT_ALL = { decision: 'accept', accept_terms: 'yes', accept_privacy: 'yes', accept_newsletter: 'yes' };

  /** Allows the consent screen and redeems the code at the relying party. */
  async function finish(browser: Browser, page: Page, request: AuthorizationRequest) {
    const landed = page.url.startsWith(RP_REDIRECT) ? page : await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    return exchangeCode(config, landed.url, request);
  }

  it('asks a user who never accepted, and stores each acceptance with its version, IP and client', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { request, page } = await signIn(browser, user);
    assert.ok(isTerms(page), page.html.slice(0, 500));
    assert.match(page.html, /<a href="https:\/\/legal.example\/terms" target="_blank" rel="noopener">Terms of service<\/a>/);
    assert.match(
      page.html,
      /<input type="checkbox" id="accept_terms" name="accept_terms" value="yes">\s*<label for="accept_terms">I accept the Terms of service<\/label>/,
    );
    assert.match(page.html, /<label for="consent_marketing_email">Email me news and offers<\/label>/);
    assert.doesNotMatch(page.html, /checked/, 'nothing is pre-ticked');
    assert.doesNotMatch(page.html, /consent_analytics/, 'a purpose not asked at sign-in is not offered');
    assert.doesNotMatch(page.html, /See what changed/, 'nothing changed for someone who never accepted');
    assert.match(page.html, /<button type="submit" name="decision" value="accept" class="primary">Accept and continue<\/button>/);
    assert.match(page.html, /<button type="submit" name="decision" value="decline">Decline<\/button>/);

    const next = await browser.submit(page, /\/terms$/, ACCEPT_ALL, RP_REDIRECT);
    const tokens = await finish(browser, next, request);
    assert.equal(tokens.claims()?.sub, user.id);

    const rows = await acceptances(user);
    assert.deepEqual(
      rows.map(({ document, version, decision, client_id }) => ({ document, version, decision, client_id })),
      [
        { document: 'terms', version: '2026-01', decision: 'accepted', client_id: clientId },
        { document: 'privacy', version: '3', decision: 'accepted', client_id: clientId },
        { document: 'newsletter', version: '1', decision: 'accepted', client_id: clientId },
      ],
    );
    for (const row of rows) assert.match(row.ip, /127\.0\.0\.1$/);
    assert.deepEqual(await consents(user), [{ purpose: 'marketing_email', version: '1', granted: false, source: 'sign_in' }]);
    const audit = await database.db('audit_events').where({ user_id: user.id, type: 'user.terms_accepted' }).count({ n: '*' });
    assert.equal(Number(audit[0].n), 3);
    const events = await database.db('domain_events').where({ subject: user.id, type: 'gatehouse.user.terms_accepted' }).count({ n: '*' });
    assert.equal(Number(events[0].n), 3);

    const again = await signIn(browser, user, { prompt: 'login' });
    assert.ok(!isTerms(again.page), 'not asked again');
  });

  it('asks an existing user again once a new version is published, linking to what changed', async () => {
    const user = await newUser();
    const first = new Browser();
    const { page } = await signIn(first, user);
    await first.submit(page, /\/terms$/, ACCEPT_ALL, RP_REDIRECT);

    file.publish(server, policies({ ...TERMS, version: '2026-06' }));
    try {
      const browser = new Browser();
      const { request, page: asked } = await signIn(browser, user);
      assert.ok(isTerms(asked), 'asked again');
      assert.match(asked.html, /We have updated our terms/);
      assert.equal(linkHref(asked.html, 'See what changed'), TERMS.changes_url);
      assert.match(asked.html, /id="accept_terms"/);
      assert.doesNotMatch(asked.html, /id="accept_privacy"|id="accept_newsletter"|consent_marketing_email/, 'only what changed is asked');
      const next = await browser.submit(asked, /\/terms$/, { decision: 'accept', accept_terms: 'yes' }, RP_REDIRECT);
      await finish(browser, next, request);
      const terms = (await acceptances(user)).filter((r) => r.document === 'terms');
      assert.deepEqual(
        terms.map((r) => [r.version, r.decision]),
        [
          ['2026-01', 'accepted'],
          ['2026-06', 'accepted'],
        ],
      );
    } finally {
      file.publish(server, policies());
    }
  });

  it('ends the sign-in with access_denied at the relying party when the user declines, and records it', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { request, page } = await signIn(browser, user);
    const back = await browser.submit(page, /\/terms$/, { decision: 'decline', consent_marketing_email: 'yes' }, RP_REDIRECT);
    assert.ok(back.url.startsWith(RP_REDIRECT), back.url);
    await assert.rejects(exchangeCode(config, back.url, request), (error: unknown) => {
      assert.ok(error instanceof oidc.AuthorizationResponseError);
      assert.equal(error.error, 'access_denied');
      assert.equal(error.error_description, 'End-User declined the terms');
      return true;
    });
    assert.deepEqual(
      (await acceptances(user)).map((r) => [r.document, r.decision]),
      [
        ['terms', 'declined'],
        ['privacy', 'declined'],
        ['newsletter', 'declined'],
      ],
    );
    assert.deepEqual(await consents(user), [], 'a sign-in that ended records no consent');
    const again = await signIn(new Browser(), user);
    assert.ok(isTerms(again.page), 'asked again at the next sign-in');
    assert.doesNotMatch(again.page.html, /id="accept_newsletter"/, 'but not about the optional document it declined');
  });

  it('lets an optional document go unticked, recording it declined', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { request, page } = await signIn(browser, user);
    const next = await browser.submit(
      page,
      /\/terms$/,
      { decision: 'accept', accept_terms: 'yes', accept_privacy: 'yes', consent_marketing_email: 'yes' },
      RP_REDIRECT,
    );
    await finish(browser, next, request);
    assert.deepEqual(
      (await acceptances(user)).map((r) => [r.document, r.decision]),
      [
        ['terms', 'accepted'],
        ['privacy', 'accepted'],
        ['newsletter', 'declined'],
      ],
    );
    assert.deepEqual(await consents(user), [{ purpose: 'marketing_email', version: '1', granted: true, source: 'sign_in' }]);
  });

  it('refuses to go on without every mandatory document ticked, naming them and keeping what was ticked', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { page } = await signIn(browser, user);
    const refused = await browser.submit(page, /\/terms$/, {
      decision: 'accept',
      accept_newsletter: 'yes',
      consent_marketing_email: 'yes',
    });
    assert.equal(refused.status, 400);
    assert.match(
      refused.html,
      /<p class="error" role="alert" id="terms-error">To continue, accept the Terms of service and Privacy policy.<\/p>/,
    );
    assert.match(refused.html, /id="accept_newsletter" name="accept_newsletter" value="yes" checked/);
    assert.match(refused.html, /id="consent_marketing_email" name="consent_marketing_email" value="yes" checked/);
    assert.match(refused.html, /id="accept_terms" name="accept_terms" value="yes">/, 'unticked stays unticked');
    assert.deepEqual(await acceptances(user), []);
    assert.deepEqual(await consents(user), []);
  });

  it('shows titles in the language the relying party asks for with ui_locales', async () => {
    const user = await newUser();
    const { page } = await signIn(new Browser(), user, { ui_locales: 'fr-CA en' });
    assert.match(page.html, /I accept the Conditions d’utilisation/);
  });

  it('answers prompt=none with interaction_required while the current terms are not accepted', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { request, page } = await signIn(browser, user);
    await finish(browser, await browser.submit(page, /\/terms$/, ACCEPT_ALL, RP_REDIRECT), request);

    const silent = await authorizationRequest(config, { prompt: 'none' });
    const fine = await browser.navigate(silent.url.toString(), {}, RP_REDIRECT);
    assert.ok(new URL(fine.url).searchParams.get('code'), 'silent sign-in works while the terms are accepted');

    file.publish(server, policies({ ...TERMS, version: '2026-09' }));
    try {
      const again = await authorizationRequest(config, { prompt: 'none' });
      const answer = await browser.navigate(again.url.toString(), {}, RP_REDIRECT);
      assert.equal(new URL(answer.url).searchParams.get('error'), 'interaction_required');
      assert.equal(new URL(answer.url).searchParams.get('state'), again.state);
    } finally {
      file.publish(server, policies());
    }
  });

  it('never lets an optional question stand in the way of prompt=none', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { request, page } = await signIn(browser, user);
    await finish(browser, await browser.submit(page, /\/terms$/, ACCEPT_ALL, RP_REDIRECT), request);
    file.publish(server, { ...policies(), purposes: [MARKETING, { ...ANALYTICS, ask_at_sign_in: true }] });
    try {
      const silent = await authorizationRequest(config, { prompt: 'none' });
      const answer = await browser.navigate(silent.url.toString(), {}, RP_REDIRECT);
      assert.ok(new URL(answer.url).searchParams.get('code'));
      const asked = await signIn(browser, user, { prompt: 'login' });
      assert.match(asked.page.html, /id="consent_analytics"/, 'an interactive sign-in offers it');
      assert.doesNotMatch(asked.page.html, /id="accept_terms"|consent_marketing_email/);
      assert.match(asked.page.html, />Continue<\/button>/);
    } finally {
      file.publish(server, policies());
    }
  });

  it('ignores and does not store a document or purpose the file does not declare', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { request, page } = await signIn(browser, user);
    const next = await browser.submit(
      page,
      /\/terms$/,
      { ...ACCEPT_ALL, accept_cookies: 'yes', consent_partner_sharing: 'yes', consent_analytics: 'yes', consent_unknown: 'yes' },
      RP_REDIRECT,
    );
    await finish(browser, next, request);
    assert.deepEqual((await acceptances(user)).map((r) => r.document).sort(), ['newsletter', 'privacy', 'terms']);
    assert.deepEqual(
      (await consents(user)).map((r) => r.purpose),
      ['marketing_email'],
      'analytics is declared but was not asked: a forged answer is not stored either',
    );
  });

  it('refuses the form without its CSRF token, storing nothing', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { page } = await signIn(browser, user);
    const form = findForm(page.html, /\/terms$/);
    for (const csrf of [undefined, 'forged']) {
      const body = new URLSearchParams(ACCEPT_ALL);
      if (csrf) body.set('_csrf', csrf);
      const answer = await browser.request(new URL(form.action, page.url).toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      assert.equal(answer.status, 403);
      assert.match(decode(await answer.text()), /This form has expired/);
    }
    assert.deepEqual(await acceptances(user), []);
    assert.deepEqual(await consents(user), []);
    assert.ok(isTerms(await browser.navigate(page.url)), 'still asked');
  });

  it('stores one acceptance when the same form is submitted twice in parallel', async () => {
    const user = await newUser();
    const browser = new Browser();
    const { page } = await signIn(browser, user);
    const form = findForm(page.html, /\/terms$/);
    const post = () =>
      browser.request(new URL(form.action, page.url).toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.hidden, ...ACCEPT_ALL, consent_marketing_email: 'yes' }),
      });
    const answers = await Promise.all([post(), post(), post()]);
    for (const answer of answers) assert.equal(answer.status, 303);
    const rows = await acceptances(user);
    assert.deepEqual(rows.map((r) => r.document).sort(), ['newsletter', 'privacy', 'terms'], 'one row per document and version');
    assert.equal((await consents(user)).length, 1, 'and one ledger row');
  });
});
