// Consents per purpose, as the person and a relying party meet them: the account area's Privacy
// page shows the documents accepted and every purpose (opt-in, never pre-ticked), saving appends
// to the ledger only what changed, and a relying party that asks for the `consents` scope (or the
// claim) reads the latest state at userinfo. A form without its CSRF token, and a purpose the file
// does not declare, change nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, findForm, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';
import { heading } from '../helpers/accountScreens.ts';
import { policiesFile, type PoliciesFile } from '../helpers/policiesFile.ts';
import { createUser, type User } from '../../src/accounts/index.ts';

const PASSWORD = 'a long and unguessable passphrase';
const TERMS = { id: 'terms', title: 'Terms of service', version: '7', url: 'https://legal.example/terms' };
const MARKETING = {
  id: 'marketing_email',
  label: 'Email me news and offers',
  description: 'At most one a week.',
  version: '1',
  ask_at_sign_in: true,
};
const ANALYTICS = { id: 'analytics', label: 'Help improve the service with usage statistics', version: '1' };
const POLICIES = { documents: [TERMS], purposes: [MARKETING, ANALYTICS] };

type Claim = Record<string, { granted: boolean; version: string; time: number }>;

describe('consents: the Privacy page, the ledger and the consents claim', () => {
  let database: TestDatabase;
  let server: TestServer;
  let file: PoliciesFile;
  let config: oidc.Configuration;
  let counter = 0;

  before(async () => {
    database = await createTestDatabase();
    file = policiesFile(POLICIES);
    server = await startTestServer(database, { POLICIES_FILE: file.path });
    const app = await createClient(database, server.config, { name: 'Newsroom' });
    config = await discover(server.issuer, app.client_id, app.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const url = (path: string) => `${server.issuer}${path}`;

  async function newUser(): Promise<User> {
    counter += 1;
    return createUser(operator(database), { email: `consents-${counter}@example.com`, password: PASSWORD, email_verified: true }, 4);
  }

  /**
   * Signs in at the relying party (accepting the terms, leaving marketing unticked, when asked;
   * allowing consent) and redeems the code: the tokens.
   */
  async function signIn(browser: Browser, user: User, params: Record<string, string> = {}) {
    const request = await authorizationRequest(config, params);
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    if (/\/password"/.test(page.html))
      page = await browser.submit(page, /\/password$/, { email: user.email, password: PASSWORD }, RP_REDIRECT);
    if (/\/terms"/.test(page.html)) page = await browser.submit(page, /\/terms$/, { decision: 'accept', accept_terms: 'yes' }, RP_REDIRECT);
    if (/\/consent"/.test(page.html)) page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    assert.ok(page.url.startsWith(RP_REDIRECT), `ended at ${page.url}`);
    return exchangeCode(config, page.url, request);
  }

  /** The Privacy page, in a browser that signed in at the relying party first (SSO). */
  async function privacyPage(browser: Browser): Promise<Page> {
    const page = await browser.navigate(url('/account/privacy'));
    assert.equal(page.url, url('/account/privacy'), `${page.status} ${page.url}\n${page.html.slice(0, 1000)}`);
    return page;
  }

  const ledger = (user: User, purpose?: string) => {
    const q = database.db('consent_records').where('user_id', user.id).orderBy('id').select('purpose', 'version', 'granted', 'source');
    return purpose ? q.where('purpose', purpose) : q;
  };

  const userinfo = (tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, sub: string) =>
    oidc.fetchUserInfo(config, tokens.access_token, sub);

  it('records a grant then a withdrawal as two ledger rows, and the claim follows the latest', async () => {
    const user = await newUser();
    const browser = new Browser();
    const tokens = await signIn(browser, user, { scope: 'openid consents' });
    // Asked at sign-in and left unticked: recorded as not granted.
    const asked = (await userinfo(tokens, user.id)).consents as Claim;
    assert.deepEqual(Object.keys(asked), ['marketing_email'], 'only purposes decided on');
    assert.deepEqual(
      { ...asked.marketing_email, time: typeof asked.marketing_email.time },
      { granted: false, version: '1', time: 'number' },
    );

    const page = await privacyPage(browser);
    assert.equal(heading(page.html), 'Privacy');
    assert.match(page.html, /<a href="\/account\/privacy" aria-current="page">Privacy<\/a>/);
    assert.match(page.html, /You accepted version 7 on <time datetime="\d{4}-/);
    assert.match(
      page.html,
      /<input type="checkbox" id="consent_analytics" name="consent_analytics" value="yes">\s*<label for="consent_analytics">Help improve/,
    );
    assert.doesNotMatch(page.html, /checked/, 'nothing granted, nothing ticked');

    const saved = await browser.submit(page, /\/account\/privacy\/consents$/, { consent_analytics: 'yes' });
    assert.equal(saved.url, url('/account/privacy?done=saved'));
    assert.match(saved.html, /Your choices were saved./);
    assert.match(saved.html, /id="consent_analytics" name="consent_analytics" value="yes" checked/);
    const granted = (await userinfo(tokens, user.id)).consents as Claim;
    assert.equal(granted.analytics.granted, true);
    assert.equal(granted.analytics.version, '1');
    assert.ok(Math.abs(granted.analytics.time - Date.now() / 1000) < 3600, 'epoch seconds');

    await browser.submit(saved, /\/account\/privacy\/consents$/, {});
    assert.deepEqual(await ledger(user, 'analytics'), [
      { purpose: 'analytics', version: '1', granted: true, source: 'account' },
      { purpose: 'analytics', version: '1', granted: false, source: 'account' },
    ]);
    assert.equal(((await userinfo(tokens, user.id)).consents as Claim).analytics.granted, false);
    assert.deepEqual(
      (await ledger(user, 'marketing_email')).map((r) => r.source),
      ['sign_in'],
      'saving leaves what it did not change alone',
    );
    const types = await database
      .db('domain_events')
      .where('subject', user.id)
      .whereLike('type', 'gatehouse.user.consent_%')
      .orderBy('seq')
      .pluck('type');
    assert.deepEqual(types, ['gatehouse.user.consent_refused', 'gatehouse.user.consent_granted', 'gatehouse.user.consent_withdrawn']);
  });

  it('grants again at a new version when the person ticks a purpose whose text changed', async () => {
    const user = await newUser();
    const browser = new Browser();
    await signIn(browser, user);
    await browser.submit(await privacyPage(browser), /\/consents$/, { consent_analytics: 'yes' });
    file.publish(server, { ...POLICIES, purposes: [MARKETING, { ...ANALYTICS, version: '2' }] });
    try {
      const page = await privacyPage(browser);
      await browser.submit(page, /\/consents$/, { consent_analytics: 'yes', consent_marketing_email: '' });
      await browser.submit(page, /\/consents$/, { consent_analytics: 'yes' });
      assert.deepEqual(
        (await ledger(user, 'analytics')).map((r) => [r.version, r.granted]),
        [
          ['1', true],
          ['2', true],
        ],
      );
    } finally {
      file.publish(server, POLICIES);
    }
  });

  it('gives the claim only to a relying party that asks for it, by scope or by the claims parameter', async () => {
    const user = await newUser();
    const browser = new Browser();
    const plain = await signIn(browser, user);
    assert.equal((await userinfo(plain, user.id)).consents, undefined);
    const byClaim = await signIn(browser, user, { claims: JSON.stringify({ userinfo: { consents: null } }) });
    assert.deepEqual(Object.keys((await userinfo(byClaim, user.id)).consents as object), ['marketing_email']);
  });

  it('refuses a save without its CSRF token, and ignores a purpose the file does not declare', async () => {
    const user = await newUser();
    const browser = new Browser();
    await signIn(browser, user);
    const page = await privacyPage(browser);
    const form = findForm(page.html, /\/consents$/);
    const answer = await browser.request(new URL(form.action, page.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ consent_analytics: 'yes' }),
    });
    assert.equal(answer.status, 403);
    assert.match(await answer.text(), /This form has expired/);
    assert.deepEqual(await ledger(user, 'analytics'), []);

    await browser.submit(page, /\/consents$/, { consent_partner_sharing: 'yes', consent_unknown: 'yes' });
    assert.deepEqual(
      (await ledger(user)).map((r) => r.purpose),
      ['marketing_email'],
      'only the answer given at sign-in',
    );
  });
});
