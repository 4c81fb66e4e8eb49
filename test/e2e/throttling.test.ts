// Sign-in throttling: five failures for one email from one address block it (right password
// included, unknown emails alike), parallel guesses cannot slip past the limit, and behind a
// trusted proxy the client cannot choose its own address through X-Forwarded-For.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser, findForm, type Page } from '../helpers/browserForm.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { authorizationRequest, discover } from '../helpers/relyingParty.ts';
import { createUser } from '../../src/accounts/index.ts';
import { operator } from '../helpers/fixtures.ts';

describe('sign-in throttling', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    // Behind one trusted proxy, which appends the address it saw to X-Forwarded-For.
    server = await startTestServer(database, { TRUST_PROXY: 'true' });
    await createAlice(database);
    await createUser(operator(database), { email: 'bob@example.com', password: 'velvet-harbour-kettle' }, 4);
    await createUser(operator(database), { email: 'carol@example.com', password: 'quiet-meadow-lantern' }, 4);
    const registered = await createClient(database, server.config);
    config = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function loginPage(browser: Browser) {
    return browser.navigate((await authorizationRequest(config)).url.toString());
  }

  /** Posts the sign-in form as if through the proxy, which saw `clientIp`. */
  async function post(browser: Browser, login: Page, email: string, password: string, forwardedFor: string) {
    const form = findForm(login.html, /\/password$/);
    const response = await browser.request(new URL(form.action, login.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
      body: new URLSearchParams({ ...form.hidden, email, password }),
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), html: await response.text() };
  }

  it('blocks an email after five failures from one address, even with the right password', async () => {
    const browser = new Browser();
    const login = await loginPage(browser);
    for (let attempt = 1; attempt <= 5; attempt++) {
      assert.equal((await post(browser, login, 'bob@example.com', `wrong-${attempt}`, '198.51.100.1')).status, 401, `attempt ${attempt}`);
    }
    const blocked = await post(browser, login, 'BOB@example.com', 'velvet-harbour-kettle', '198.51.100.1');
    assert.equal(blocked.status, 429);
    assert.match(blocked.html, /Too many sign-in attempts. Try again in 15 minutes./);
    assert.ok(Number(blocked.retryAfter) > 800);
    assert.match(blocked.html, /id="email"[^>]*value="BOB@example.com"/);

    // An unknown email is throttled the same way: the block reveals nothing about accounts.
    for (let attempt = 1; attempt <= 5; attempt++) await post(browser, login, 'ghost@example.com', 'x-password', '198.51.100.1');
    assert.equal((await post(browser, login, 'ghost@example.com', 'x-password', '198.51.100.1')).status, 429);

    // Someone else signing in from the same address is not affected.
    const alice = await post(browser, login, ALICE.email, ALICE.password, '198.51.100.1');
    assert.equal(alice.status, 303);
    const throttled = await database.db('audit_events').where('type', 'login.throttled').count('* as n').first();
    assert.equal(Number(throttled?.n), 2);
    if (database.url) {
      // On a PostgreSQL server the counters are shared by every instance, keyed by digests.
      const counters = await database.db('rate_limits').select('key');
      assert.ok(counters.length > 0);
      assert.ok(counters.every((c) => !c.key.includes('@') && !c.key.includes('198.51')));
    }
  });

  it('ignores addresses the client writes in front of the proxy’s own', async () => {
    const browser = new Browser();
    const login = await loginPage(browser);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const spoofed = `203.0.113.${attempt}, 198.51.100.2`;
      assert.equal((await post(browser, login, 'carol@example.com', `wrong-${attempt}`, spoofed)).status, 401);
    }
    const blocked = await post(browser, login, 'carol@example.com', 'quiet-meadow-lantern', '203.0.113.99, 198.51.100.2');
    assert.equal(blocked.status, 429);
    const ips = await database.db('audit_events').where('type', 'login.failed').distinct('ip').pluck('ip');
    assert.ok(!ips.some((ip: string) => ip.startsWith('203.0.113.')), `audited ${ips}`);
  });

  it('lets at most five of many parallel guesses be checked', async () => {
    const browser = new Browser();
    const login = await loginPage(browser);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post(browser, login, ALICE.email, `parallel-${i}`, '198.51.100.3')),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 401).length, 5, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 25);
  });
});
