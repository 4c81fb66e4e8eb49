// Progressive profiling end to end: a profile schema file, a real relying party (openid-client)
// and the hosted screens. What is asked depends on the client, the claims it asks for, the
// number of sign-ins and what was skipped; what is given is in the tokens of the same sign-in.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';
import { createUser } from '../../src/accounts/index.ts';

const SCHEMA = `
prompt:
  max_per_screen: 3
  skip_cooldown_days: 7
attributes:
  - name: given_name
    ask:
      - at: signup
        required: true
  - name: family_name
    ask:
      - at: signup
  - name: gender
    ask:
      - at: signup
        clients: [club]
  - name: phone_number
    ask:
      - at: sign_in
        clients: [shop]
        when_claim_requested: true
        required: true
  - name: birthdate
    ask:
      - at: sign_in
        clients: [club]
        min_sign_ins: 3
  - name: nickname
    ask:
      - at: sign_in
        clients: [club]
        min_sign_ins: 3
  - name: loyalty_number
    type: string
    label: Loyalty card number
    pattern: "[0-9]{8}"
    scope: profile:shop
    ask:
      - at: sign_in
        clients: [forms]
  - name: shoe_size
    type: number
    label: Shoe size
    min: 16
    max: 52
    ask:
      - at: sign_in
        clients: [forms]
  - name: preferred_store
    type: enum
    label: Preferred store
    values:
      - { value: paris, label: Paris }
      - { value: lyon, label: Lyon }
    ask:
      - at: sign_in
        clients: [forms]
  - name: newsletter
    type: boolean
    label: Newsletter
    ask:
      - at: sign_in
        clients: [forms]
  - name: address
    ask:
      - at: sign_in
        clients: [forms]
  - name: website
    ask:
      - at: sign_in
        clients: [forms]
  - name: anniversary
    type: date
    label: Anniversary
    ask:
      - at: sign_in
        clients: [forms]
  - name: motto
    type: string
    label: Motto
    max_length: 20
    ask:
      - at: sign_in
        clients: [forms]
  - name: locale
    label:
      en: Language
      fr: Langue
    help:
      en: The language we write to you in.
      fr: La langue dans laquelle nous vous écrivons.
    reconfirm_after_days: 180
    ask:
      - at: sign_in
        clients: [intl]
`;

const PASSWORD = 'correct horse battery';

describe('profile prompt', () => {
  let database: TestDatabase;
  let server: TestServer;
  const rp: Record<string, client.Configuration> = {};
  let schemaFile: string;

  before(async () => {
    database = await createTestDatabase();
    schemaFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-profile-')), 'profile.yaml');
    writeFileSync(schemaFile, SCHEMA);
    server = await startTestServer(database, { PROFILE_SCHEMA_FILE: schemaFile });
    for (const id of ['shop', 'club', 'other', 'forms', 'intl']) {
      const registered = await createClient(database, server.config, { name: `${id} app`, clientId: id });
      rp[id] = await discover(server.issuer, registered.client_id, registered.client_secret);
    }
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function newUser(email: string) {
    return createUser(operator(database), { email, password: PASSWORD, email_verified: true }, 4);
  }

  /** Signs in with a fresh browser; stops at the profile screen (returned) or back at the relying party. */
  async function signIn(app: string, email: string, scope = 'openid profile email') {
    const browser = new Browser();
    const request = await authorizationRequest(rp[app], { scope });
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    page = await browser.submit(page, /\/password$/, { email, password: PASSWORD }, RP_REDIRECT);
    return { browser, request, page: await allowConsent(browser, page) };
  }

  async function allowConsent(browser: Browser, page: Page) {
    return page.html.includes('/consent"') ? browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT) : page;
  }

  const onProfileScreen = (page: Page) => page.html.includes('action="/interaction/') && page.html.includes('/profile"');
  const askedFields = (page: Page) =>
    [...page.html.matchAll(/<(?:input|select|fieldset)[^>]*\bid="([a-z_]+)"/g)].map((m) => m[1]).filter((id) => id !== '_csrf');

  it('asks the shop’s users for the phone number it requires, not the other clients’, and releases it in this sign-in’s tokens', async () => {
    await newUser('pat@example.com');
    const other = await signIn('other', 'pat@example.com', 'openid phone');
    assert.ok(other.page.url.startsWith(RP_REDIRECT), 'another client goes straight back');

    const shop = await signIn('shop', 'pat@example.com', 'openid phone');
    assert.ok(onProfileScreen(shop.page), 'the shop asks');
    assert.deepEqual(askedFields(shop.page), ['phone_number']);
    assert.doesNotMatch(shop.page.html, /Skip for now/, 'a required attribute cannot be skipped');

    const bad = await shop.browser.submit(shop.page, /\/profile$/, { phone_number: '0612', action: 'continue' });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /Enter the number in international format/);
    assert.match(bad.html, /id="phone_number"[^>]*value="0612"/, 'what was typed is kept');

    const skipped = await shop.browser.submit(shop.page, /\/profile$/, { action: 'skip' });
    assert.equal(skipped.status, 400);
    assert.match(skipped.html, /These details cannot be skipped/);

    let done = await shop.browser.submit(shop.page, /\/profile$/, { phone_number: '+33 6 12 34 56 78', action: 'continue' }, RP_REDIRECT);
    done = await allowConsent(shop.browser, done);
    assert.ok(done.url.startsWith(RP_REDIRECT), `ended at ${done.url}`);
    const tokens = await exchangeCode(rp.shop, done.url, shop.request);
    const idClaims = tokens.claims();
    assert.equal(idClaims?.phone_number, undefined, 'scope claims go to userinfo when an access token is issued');
    const userinfo = await client.fetchUserInfo(rp.shop, tokens.access_token, idClaims?.sub as string);
    assert.equal(userinfo.phone_number, '+33612345678');
    assert.equal(userinfo.phone_number_verified, false);

    const withClaimsParameter = await signIn('shop', 'pat@example.com', 'openid');
    assert.ok(withClaimsParameter.page.url.startsWith(RP_REDIRECT), 'given once, not asked again');

    const event = await database.db('domain_events').where('type', 'gatehouse.user.profile_updated').orderBy('seq', 'desc').first();
    assert.deepEqual(event.data.changed, ['phone_number']);
    assert.doesNotMatch(JSON.stringify(event.data), /33612345678/, 'events name attributes, never their values');
  });

  it('puts the claim in the ID token when the relying party asks for it there with the claims parameter', async () => {
    await newUser('quinn@example.com');
    const claims = JSON.stringify({ id_token: { phone_number: { essential: true } } });
    const browser = new Browser();
    const request = await authorizationRequest(rp.shop, { scope: 'openid', claims });
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    page = await browser.submit(page, /\/password$/, { email: 'quinn@example.com', password: PASSWORD }, RP_REDIRECT);
    assert.ok(onProfileScreen(page), 'a claim asked for with the claims parameter counts as requested');
    page = await allowConsent(
      browser,
      await browser.submit(page, /\/profile$/, { phone_number: '+14155550123', action: 'continue' }, RP_REDIRECT),
    );
    const tokens = await exchangeCode(rp.shop, page.url, request);
    assert.equal(tokens.claims()?.phone_number, '+14155550123');
  });

  it('asks from the Nth sign-in on only, lets optional attributes be skipped, and holds the cool-down', async () => {
    const user = await newUser('nina@example.com');
    for (const n of [1, 2]) {
      const { page } = await signIn('club', 'nina@example.com');
      assert.ok(page.url.startsWith(RP_REDIRECT), `sign-in ${n} is not asked`);
    }
    const third = await signIn('club', 'nina@example.com');
    assert.ok(onProfileScreen(third.page), 'the third sign-in is asked');
    assert.deepEqual(askedFields(third.page), ['birthdate', 'nickname']);
    assert.match(third.page.html, /Skip for now/);
    const skipped = await third.browser.submit(third.page, /\/profile$/, { action: 'skip' }, RP_REDIRECT);
    assert.ok((await allowConsent(third.browser, skipped)).url.startsWith(RP_REDIRECT));

    const fourth = await signIn('club', 'nina@example.com');
    assert.ok(fourth.page.url.startsWith(RP_REDIRECT), 'not asked again during the cool-down');
    const states = await database.db('profile_attribute_states').where('user_id', user.id).orderBy('attribute');
    assert.deepEqual(
      states.map((s) => s.attribute),
      ['birthdate', 'nickname'],
    );
    const days = (new Date(states[0].skipped_until).getTime() - Date.now()) / (24 * 3600 * 1000);
    assert.ok(days > 6.9 && days <= 7, `the cool-down is the schema's 7 days (${days})`);

    // The cool-down ends (moved in the database rather than waited for): asked again.
    await database
      .db('profile_attribute_states')
      .where('user_id', user.id)
      .update({ skipped_until: new Date(Date.now() - 1000) });
    const fifth = await signIn('club', 'nina@example.com');
    assert.ok(onProfileScreen(fifth.page), 'asked again once the cool-down is over');
    // Given one, left the other empty: the empty one is put off, the given one stored.
    const answered = await fifth.browser.submit(
      fifth.page,
      /\/profile$/,
      { birthdate: '1990-04-01', nickname: '', action: 'continue' },
      RP_REDIRECT,
    );
    assert.ok((await allowConsent(fifth.browser, answered)).url.startsWith(RP_REDIRECT));
    const stored = await database.db('users').where('id', user.id).first('profile', 'sign_in_count');
    assert.equal(stored.profile.birthdate, '1990-04-01');
    assert.equal(stored.profile.nickname, undefined);
    assert.equal(stored.sign_in_count, 5);
  });

  it('refuses a bad value of every type with what to fix, keeps the input escaped, and ignores attributes it did not ask for', async () => {
    const user = await newUser('olga@example.com');
    const first = await signIn('forms', 'olga@example.com');
    assert.ok(onProfileScreen(first.page));
    assert.equal(askedFields(first.page).length, 3, 'at most max_per_screen attributes on one screen');
    assert.deepEqual(askedFields(first.page), ['loyalty_number', 'shoe_size', 'preferred_store']);

    const bad = await first.browser.submit(first.page, /\/profile$/, {
      loyalty_number: '<script>alert(1)</script>',
      shoe_size: '99',
      preferred_store: 'tokyo',
      internal_flag: 'vip',
      action: 'continue',
    });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /id="loyalty_number-error">This is not in the expected format</);
    assert.match(bad.html, /id="shoe_size-error">Enter a number of at most 52</);
    assert.match(bad.html, /id="preferred_store-error">Choose one of the options</);
    assert.match(bad.html, /value="&lt;script&gt;alert\(1\)&lt;\/script&gt;"/, 'HTML typed into a field comes back escaped');
    assert.doesNotMatch(bad.html, /<script>alert/);

    const notANumber = await first.browser.submit(first.page, /\/profile$/, { shoe_size: '4O', action: 'continue' });
    assert.match(notANumber.html, /id="shoe_size-error">Enter a number</);

    let next = await first.browser.submit(first.page, /\/profile$/, {
      loyalty_number: '12345678',
      shoe_size: '42',
      preferred_store: 'lyon',
      internal_flag: 'vip',
      action: 'continue',
    });
    assert.ok(onProfileScreen(next), 'the next screen asks for the rest');
    assert.deepEqual(askedFields(next), ['newsletter', 'address', 'website']);
    const badNext = await first.browser.submit(next, /\/profile$/, {
      newsletter: 'maybe',
      'address.street_address': '1 Rue de la Paix',
      'address.locality': '',
      'address.country': 'France',
      website: 'javascript:alert(1)',
      action: 'continue',
    });
    assert.equal(badNext.status, 400);
    assert.match(badNext.html, /id="newsletter-error">Choose yes or no</);
    assert.match(badNext.html, /id="address-error">Enter the town or city</);
    assert.match(badNext.html, /id="website-error">Enter a web address starting with https:\/\/</);
    assert.match(badNext.html, /id="address.street_address"[^>]*value="1 Rue de la Paix"/);
    next = await first.browser.submit(next, /\/profile$/, {
      newsletter: 'true',
      'address.street_address': '1 Rue de la Paix',
      'address.locality': 'Paris',
      'address.postal_code': '75002',
      'address.country': 'France',
      website: 'https://olga.example',
      action: 'continue',
    });
    assert.deepEqual(askedFields(next), ['anniversary', 'motto']);
    const badLast = await first.browser.submit(next, /\/profile$/, {
      anniversary: '2023-02-30',
      motto: 'x'.repeat(21),
      action: 'continue',
    });
    assert.match(badLast.html, /id="anniversary-error">Enter a real date</);
    assert.match(badLast.html, /id="motto-error">Use at most 20 characters</);
    const badLine = await first.browser.submit(next, /\/profile$/, { anniversary: '2020-1-1', motto: 'two\nlines', action: 'continue' });
    assert.match(badLine.html, /id="anniversary-error">Enter a date as YYYY-MM-DD</);
    assert.match(badLine.html, /id="motto-error">Remove the line breaks and control characters</);
    const done = await first.browser.submit(
      next,
      /\/profile$/,
      { anniversary: '2020-06-21', motto: '<b>carpe</b>', action: 'continue' },
      RP_REDIRECT,
    );
    assert.ok((await allowConsent(first.browser, done)).url.startsWith(RP_REDIRECT));

    const { profile } = (await database.db('users').where('id', user.id).first('profile')) as { profile: Record<string, unknown> };
    assert.deepEqual(profile, {
      loyalty_number: '12345678',
      shoe_size: 42,
      preferred_store: 'lyon',
      newsletter: true,
      address: { street_address: '1 Rue de la Paix', locality: 'Paris', postal_code: '75002', country: 'France' },
      website: 'https://olga.example',
      anniversary: '2020-06-21',
      motto: '<b>carpe</b>',
    });
    assert.equal('internal_flag' in profile, false, 'an attribute not in the schema is never stored');
  });

  it('releases custom attributes under their namespaced scope, and the address as the OIDC address object', async () => {
    const user = await newUser('rita@example.com');
    await database
      .db('users')
      .where('id', user.id)
      .update({
        profile: JSON.stringify({
          loyalty_number: '87654321',
          address: { street_address: '2 Main St', locality: 'Springfield', country: 'US' },
        }),
      });
    const browser = new Browser();
    const request = await authorizationRequest(rp.other, { scope: 'openid profile:shop address' });
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    page = await allowConsent(
      browser,
      await browser.submit(page, /\/password$/, { email: 'rita@example.com', password: PASSWORD }, RP_REDIRECT),
    );
    const tokens = await exchangeCode(rp.other, page.url, request);
    const userinfo = await client.fetchUserInfo(rp.other, tokens.access_token, tokens.claims()?.sub as string);
    assert.equal(userinfo.loyalty_number, '87654321');
    assert.deepEqual(userinfo.address, {
      formatted: '2 Main St\nSpringfield\nUS',
      street_address: '2 Main St',
      locality: 'Springfield',
      country: 'US',
    });
    assert.equal(userinfo.shoe_size, undefined, 'a claim of a scope not asked for is not released');
  });

  it('draws the sign-up form from the schema, for this client, and stores what it asked', async () => {
    const browser = new Browser();
    const request = await authorizationRequest(rp.shop);
    const login = await browser.navigate(request.url.toString());
    const uid = /\/interaction\/([^/"]+)\//.exec(login.html)?.[1] as string;
    const form = await browser.navigate(`${server.issuer}/interaction/${uid}/signup`);
    assert.deepEqual(askedFields(form), ['email', 'password', 'given_name', 'family_name'], 'gender is asked at sign-up to the club only');
    assert.match(form.html, /<label for="family_name">Last name <span class="optional">\(optional\)<\/span><\/label>/);

    const missing = await browser.submit(form, /\/signup$/, {
      email: 'sam@example.com',
      password: 'a fresh and long passphrase',
      given_name: '',
      family_name: '<i>Smith</i>',
      gender: 'x',
    });
    assert.equal(missing.status, 400);
    assert.match(missing.html, /id="given_name-error">First name is required</);
    assert.match(missing.html, /id="email"[^>]*value="sam@example.com"/);
    assert.match(missing.html, /id="family_name"[^>]*value="&lt;i&gt;Smith&lt;\/i&gt;"/);
    assert.doesNotMatch(missing.html, /a fresh and long passphrase/, 'the password is never shown again');

    const done = await browser.submit(form, /\/signup$/, {
      email: 'sam@example.com',
      password: 'a fresh and long passphrase',
      given_name: 'Sam',
      family_name: '',
      gender: 'x',
    });
    assert.equal(done.status, 200);
    const user = await database.db('users').where('email', 'sam@example.com').first('id', 'profile');
    assert.deepEqual(user.profile, { given_name: 'Sam' }, 'the gender the form did not ask for is not stored');
    const states = await database.db('profile_attribute_states').where('user_id', user.id);
    assert.deepEqual(
      states.map((s) => s.attribute),
      ['given_name'],
    );
    assert.ok(states[0].confirmed_at, 'a value given at sign-up counts as confirmed then');
  });

  it('asks to confirm a value past its age, filled in, in the relying party’s language, and notes the confirmation', async () => {
    const user = await newUser('lea@example.com');
    await database
      .db('users')
      .where('id', user.id)
      .update({ profile: JSON.stringify({ locale: 'fr-FR' }) });
    await database
      .db('profile_attribute_states')
      .insert({ user_id: user.id, attribute: 'locale', confirmed_at: new Date(Date.now() - 181 * 24 * 3600 * 1000) });
    const browser = new Browser();
    const request = await authorizationRequest(rp.intl, { ui_locales: 'fr-CA en' });
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    page = await browser.submit(page, /\/password$/, { email: 'lea@example.com', password: PASSWORD }, RP_REDIRECT);
    assert.ok(onProfileScreen(page));
    assert.match(page.html, /Check that what we have is still right/);
    assert.match(page.html, /<label for="locale">Langue <span class="optional">\(optional\)<\/span><\/label>/);
    assert.match(page.html, /La langue dans laquelle nous vous écrivons/);
    assert.match(page.html, /id="locale"[^>]*value="fr-FR"/, 'the value to confirm is filled in');
    const done = await browser.submit(page, /\/profile$/, { locale: 'fr-FR', action: 'continue' }, RP_REDIRECT);
    assert.ok((await allowConsent(browser, done)).url.startsWith(RP_REDIRECT));
    const state = await database.db('profile_attribute_states').where({ user_id: user.id, attribute: 'locale' }).first();
    assert.ok(Date.now() - new Date(state.confirmed_at).getTime() < 60_000, 'confirmed now');
    const event = await database.db('domain_events').where('type', 'gatehouse.user.profile_updated').orderBy('seq', 'desc').first();
    assert.deepEqual([event.data.changed, event.data.confirmed], [[], ['locale']]);
    const again = await signIn('intl', 'lea@example.com');
    assert.ok(again.page.url.startsWith(RP_REDIRECT), 'confirmed: not asked again');
  });

  it('answers prompt=none with interaction_required when a required attribute is missing, and lets optional ones wait', async () => {
    await newUser('vic@example.com');
    const { browser, page } = await signIn('other', 'vic@example.com', 'openid');
    assert.ok(page.url.startsWith(RP_REDIRECT));
    const silent = async (app: string, scope: string) => {
      const request = await authorizationRequest(rp[app], { scope, prompt: 'none' });
      const landed = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
      return new URL(landed.url).searchParams.get('error');
    };
    assert.equal(await silent('shop', 'openid phone'), 'interaction_required', 'the shop cannot do without the phone number');
    // The forms client's attributes are optional: they wait, and what stops this silent request
    // is the next step (this client has no consent yet), not the profile.
    assert.equal(await silent('forms', 'openid'), 'consent_required');
  });
});
