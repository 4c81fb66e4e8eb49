// The account area's Profile page over real HTTP: it shows what the profile schema lets its
// owner see, edits what it lets them edit (checked like every other form of the schema, input
// kept on error), removes emptied optional values, refuses to empty a required one, ignores what
// it did not show, and refuses a form without its CSRF token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, type Page } from '../helpers/browserForm.ts';
import { operator } from '../helpers/fixtures.ts';
import { createUser, type User } from '../../src/accounts/index.ts';

const SCHEMA = `
attributes:
  - name: given_name
    required: true
  - name: phone_number
  - name: shoe_size
    type: number
    label: Shoe size
    min: 16
    max: 52
  - name: member_tier
    type: enum
    label: Member tier
    values:
      - { value: gold, label: Gold member }
    user_editable: false
  - name: risk_score
    type: number
    label: Risk score
    user_visible: false
    user_editable: false
`;

const PASSWORD = 'a long and unguessable passphrase';

describe('the account area’s Profile page', () => {
  let database: TestDatabase;
  let server: TestServer;
  let user: User;

  before(async () => {
    database = await createTestDatabase();
    const schemaFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-profile-')), 'profile.json');
    writeFileSync(schemaFile, JSON.stringify((await import('yaml')).parse(SCHEMA)));
    server = await startTestServer(database, { PROFILE_SCHEMA_FILE: schemaFile });
    user = await createUser(
      operator(database),
      {
        email: 'paula@example.com',
        password: PASSWORD,
        email_verified: true,
        profile: { given_name: 'Paula', nickname: 'Pau', member_tier: 'gold', risk_score: 7 },
      },
      4,
      server.config.declarations.current().profile,
    );
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function signedIn(): Promise<{ browser: Browser; page: Page }> {
    const browser = new Browser();
    let page = await browser.navigate(`${server.issuer}/account/profile`);
    page = await browser.submit(page, /\/password$/, { email: user.email, password: PASSWORD });
    assert.equal(page.url, `${server.issuer}/account/profile`, page.html.slice(0, 500));
    return { browser, page };
  }

  const storedProfile = async () =>
    ((await database.db('users').where('id', user.id).first('profile')) as { profile: Record<string, unknown> }).profile;

  it('shows the editable attributes filled in, the read-only ones as text, and never the hidden ones', async () => {
    const { page } = await signedIn();
    assert.match(page.html, /id="given_name"[^>]*value="Paula"/);
    assert.match(page.html, /id="phone_number"/);
    assert.match(page.html, /<dt>Member tier<\/dt>\s*<dd>Gold member<\/dd>/);
    assert.match(page.html, /id="nickname"[^>]*value="Pau"/, 'a standard claim the schema leaves out shows when it holds a value');
    assert.doesNotMatch(page.html, /id="website"/, 'one that holds nothing does not');
    assert.doesNotMatch(page.html, /Risk score|risk_score/);
    assert.match(page.html, /<a [^>]*href="\/account\/profile"[^>]*aria-current="page"/);
  });

  it('refuses bad values and an emptied required attribute with what to fix, keeps the input, and changes nothing', async () => {
    const { browser, page } = await signedIn();
    const before = await storedProfile();
    const bad = await browser.submit(page, /^\/account\/profile$/, {
      given_name: '',
      phone_number: '12',
      shoe_size: '60',
      nickname: 'Pau',
    });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /id="given_name-error">First name is required</);
    assert.match(bad.html, /id="phone_number-error">Enter the number in international format/);
    assert.match(bad.html, /id="shoe_size-error">Enter a number of at most 52</);
    assert.match(bad.html, /id="phone_number"[^>]*value="12"/);
    assert.deepEqual(await storedProfile(), before);
  });

  it('saves what changed, removes an emptied optional value, and ignores what it did not show', async () => {
    const { browser, page } = await signedIn();
    const saved = await browser.submit(page, /^\/account\/profile$/, {
      given_name: 'Paula',
      phone_number: '+44 20 7946 0958',
      shoe_size: '39',
      nickname: '',
      member_tier: 'platinum',
      risk_score: '0',
    });
    assert.equal(saved.url, `${server.issuer}/account/profile?done=saved`);
    assert.match(saved.html, /Your profile was saved/);
    assert.deepEqual(await storedProfile(), {
      given_name: 'Paula',
      phone_number: '+442079460958',
      shoe_size: 39,
      member_tier: 'gold',
      risk_score: 7,
    });
    const event = await database.db('domain_events').where('type', 'gatehouse.user.profile_updated').orderBy('seq', 'desc').first();
    assert.deepEqual(event.data.changed.sort(), ['nickname', 'phone_number', 'shoe_size']);
  });

  it('refuses a save without the form’s CSRF token', async () => {
    const { browser } = await signedIn();
    const before = await storedProfile();
    const response = await browser.request(`${server.issuer}/account/profile`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ given_name: 'Mallory' }),
    });
    assert.equal(response.status, 403);
    assert.deepEqual(await storedProfile(), before);
  });
});
