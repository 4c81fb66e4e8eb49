// "Add a passkey" after sign-in: offered once to a browser that said it can make one (the sign-in
// script's cookie), skippable, not offered again for a while; a passkey made there (by the
// software authenticator, as a browser would hand it over) is stored and is not asked for at once.
// Browsers without the cookie, and prompt=none, never see it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, findForm, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover } from '../helpers/relyingParty.ts';
import { createUser, type User } from '../../src/accounts/index.ts';
import { SoftAuthenticator } from '../helpers/softAuthenticator.ts';

const PASSWORD = 'a long and unguessable passphrase';

describe('the passkey offer after sign-in', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;
  let counter = 0;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    const app = await createClient(database, server.config, { name: 'Shop' });
    config = await discover(server.issuer, app.client_id, app.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function newUser(): Promise<User> {
    counter += 1;
    return createUser(operator(database), { email: `offer-${counter}@example.com`, password: PASSWORD, email_verified: true }, 4);
  }

  /** A browser whose sign-in script found a platform authenticator. */
  function capableBrowser(): Browser {
    const browser = new Browser();
    browser.jar.set('gatehouse.passkey_capable', '1');
    return browser;
  }

  async function signIn(browser: Browser, user: User, params: Record<string, string> = {}): Promise<Page> {
    const request = await authorizationRequest(config, params);
    const login = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    if (!login.html.includes('/password"')) return login;
    return browser.submit(login, /\/password$/, { email: user.email, password: PASSWORD }, RP_REDIRECT);
  }

  const isOffer = (page: Page) => /<h1 id="page-title">Add a passkey<\/h1>/.test(page.html);

  it('is offered once to a capable browser, and "Not now" goes on with the sign-in', async () => {
    const user = await newUser();
    const browser = capableBrowser();
    const offer = await signIn(browser, user);
    assert.ok(isOffer(offer), 'the offer is shown');
    assert.match(offer.html, /<script src="\/static\/passkey-offer.js" defer><\/script>/);
    const next = await browser.submit(offer, /\/passkey_offer\/skip$/, {}, RP_REDIRECT);
    assert.match(next.html, /<h1 id="page-title">Allow access<\/h1>/, 'on to consent');
    const stored = await database.db('users').where('id', user.id).first('passkey_offer_snoozed_until');
    assert.ok(new Date(stored.passkey_offer_snoozed_until).getTime() > Date.now() + 29 * 24 * 3600 * 1000, 'put off for 30 days');

    const later = await signIn(capableBrowser(), user);
    assert.ok(!isOffer(later), 'not offered again meanwhile');
  });

  it('is never shown to a browser that cannot make a passkey', async () => {
    const user = await newUser();
    const page = await signIn(new Browser(), user);
    assert.ok(!isOffer(page));
    const row = await database.db('users').where('id', user.id).first('passkey_offer_snoozed_until');
    assert.equal(row.passkey_offer_snoozed_until, null, 'and it is still to be offered elsewhere');
  });

  it('stores the passkey made there, refusing one made for another challenge', async () => {
    const user = await newUser();
    const browser = capableBrowser();
    const offer = await signIn(browser, user);
    const form = findForm(offer.html, /\/passkey_offer$/);
    const optionsUrl = new URL(form.action.replace(/\/passkey_offer$/, '/passkey_offer/options'), server.issuer).toString();
    const answer = await browser.request(optionsUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: form.hidden._csrf }),
    });
    assert.equal(answer.status, 200);
    const options = (await answer.json()) as { challenge: string; user: { id: string }; authenticatorSelection: { residentKey: string } };
    assert.equal(options.authenticatorSelection.residentKey, 'required');
    const authenticator = new SoftAuthenticator({ origin: new URL(server.issuer).origin, rpId: 'localhost' });

    // A response made for another challenge is refused, and nothing is stored.
    const stale = await browser.submit(offer, /\/passkey_offer$/, {
      response: JSON.stringify(authenticator.register({ challenge: 'c3RhbGUtY2hhbGxlbmdl', user: options.user })),
    });
    assert.equal(stale.status, 400);
    assert.match(stale.html, /This passkey request has expired or was already used/);
    assert.equal((await database.db('passkeys').where('user_id', user.id)).length, 0);

    // Start again, and answer the right challenge.
    const again = await browser.request(optionsUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: form.hidden._csrf }),
    });
    const fresh = (await again.json()) as { challenge: string; user: { id: string } };
    const done = await browser.submit(stale, /\/passkey_offer$/, { response: JSON.stringify(authenticator.register(fresh)) }, RP_REDIRECT);
    assert.match(done.html, /<h1 id="page-title">Allow access<\/h1>/);
    const [passkey] = await database.db('passkeys').where('user_id', user.id);
    assert.ok(passkey, 'the passkey is stored');
    assert.equal(passkey.credential_id, authenticator.id);
  });

  it('never stands in the way of prompt=none', async () => {
    const user = await newUser();
    const browser = capableBrowser();
    const first = await signIn(browser, user);
    await browser.submit(first, /\/passkey_offer\/skip$/, {}, RP_REDIRECT);
    await database.db('users').where('id', user.id).update({ passkey_offer_snoozed_until: null });
    const silent = await signIn(browser, user, { prompt: 'none' });
    assert.ok(silent.url.startsWith(RP_REDIRECT), 'answered at once');
    assert.notEqual(new URL(silent.url).searchParams.get('error'), 'interaction_required');
  });
});
