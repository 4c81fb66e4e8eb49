// Adaptive MFA by country, end to end: a server with a GeoIP database (a City file from the test
// writer) and MFA_RISK_RULES=new_device,new_country behind a trusted proxy, so each browser's
// X-Forwarded-For is the address the rules place. A user with an authenticator app finishes a
// multi-factor sign-in in France (the browser is remembered, with its country); the same browser
// from another French address signs in with the password alone; from Germany it is asked for the
// second factor, and the screen says why.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { generate } from 'otplib';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { type Browser, type Page, ProxiedBrowser } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { PLACES, testCityDatabase } from '../helpers/mmdbWriter.ts';
import { RP_REDIRECT, authorizationRequest, discover, exchangeCode } from '../helpers/relyingParty.ts';
import { createUser } from '../../src/accounts/index.ts';
import { confirmTotp, startTotpEnrolment } from '../../src/mfa/totp.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { ACR } from '../../src/mfa/levels.ts';

const PASSWORD = 'a long and unguessable passphrase';
const box = createSecretBox(TEST_SECRET_KEY);
const codeFrom = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 });

describe('adaptive MFA by country (GEOIP_DATABASE, new_country)', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, {
      TRUST_PROXY: 'true',
      GEOIP_DATABASE: testCityDatabase(),
      MFA_RISK_RULES: 'new_device,new_country',
    });
    const app = await createClient(database, server.config, { name: 'Shop' });
    config = await discover(server.issuer, app.client_id, app.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function signIn(browser: Browser, email: string) {
    const request = await authorizationRequest(config, { prompt: 'consent' });
    let page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    page = await browser.submit(page, /\/password$/, { email, password: PASSWORD }, RP_REDIRECT);
    return { request, page };
  }

  async function finish(browser: Browser, page: Page, request: Awaited<ReturnType<typeof authorizationRequest>>) {
    let at = page;
    if (at.html.includes('/consent"')) at = await browser.submit(at, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    assert.ok(at.url.startsWith(RP_REDIRECT), `ended at ${at.url}`);
    return (await exchangeCode(config, at.url, request)).claims() as { acr?: string; amr?: string[] };
  }

  /** The same browser (its device cookie, no session), now reaching us from `ip`. */
  function travelled(from: Browser, ip: string): ProxiedBrowser {
    const next = new ProxiedBrowser(ip);
    for (const name of ['gatehouse.device', 'gatehouse.device.sig']) next.jar.set(name, from.jar.get(name) as string);
    return next;
  }

  const isMfaScreen = (page: Page) => /<h1 id="page-title">Confirm it is you<\/h1>/.test(page.html);

  it('asks a remembered browser for the second factor from a country it was not seen in, not from its own', async () => {
    const user = await createUser(operator(database), { email: 'geo@example.com', password: PASSWORD, email_verified: true }, 4);
    const { secret } = await startTotpEnrolment(operator(database), { box }, user.id, { accountName: user.email, issuer: 'Gatehouse' });
    assert.equal(await confirmTotp(operator(database), { box }, user.id, await codeFrom(secret, -1)), true);

    // Paris: a new browser, asked; once through, remembered with where it was.
    const laptop = new ProxiedBrowser(PLACES.paris.ip);
    const first = await signIn(laptop, user.email);
    assert.ok(isMfaScreen(first.page), 'a new browser is asked');
    assert.match(first.page.html, /You are signing in from a browser we do not recognise/);
    const done = await laptop.submit(first.page, /\/totp$/, { code: await codeFrom(secret) }, RP_REDIRECT);
    assert.equal((await finish(laptop, done, first.request)).acr, ACR.multiFactor);
    const device = await database.db('known_devices').where('user_id', user.id).first('country', 'latitude', 'longitude', 'network');
    assert.deepEqual(
      { ...device },
      {
        country: 'FR',
        latitude: PLACES.paris.latitude,
        longitude: PLACES.paris.longitude,
        network: '192.0.2.0/24',
      },
    );

    // Lyon: the same browser on another French network signs in with the password alone.
    const inLyon = travelled(laptop, PLACES.lyon.ip);
    const second = await signIn(inLyon, user.email);
    assert.ok(!isMfaScreen(second.page), 'the same country is not asked');
    assert.deepEqual((await finish(inLyon, second.page, second.request)).amr, ['pwd']);

    // Berlin: another country; the screen says so.
    const inBerlin = travelled(laptop, PLACES.berlin.ip);
    const third = await signIn(inBerlin, user.email);
    assert.ok(isMfaScreen(third.page), 'another country is asked');
    assert.match(third.page.html, /You are signing in from a country we have not seen for your account, so we ask for your second step\./);
    const stepped = await inBerlin.submit(third.page, /\/totp$/, { code: await codeFrom(secret, 1) }, RP_REDIRECT);
    assert.deepEqual((await finish(inBerlin, stepped, third.request)).amr, ['pwd', 'otp', 'mfa']);
    assert.equal((await database.db('known_devices').where('user_id', user.id).first('country')).country, 'DE', 'seen in Germany now');
  });
});
