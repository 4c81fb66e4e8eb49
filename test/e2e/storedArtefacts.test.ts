// A read-only leak of the database (a dump, a backup) must hold no credential that works: after a
// full sign-in, token exchange, refresh, pushed authorization request, device authorization and
// dynamic registration, none of the values handed out appears anywhere in any table.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser } from '../helpers/browserForm.ts';
import { ALICE, createAlice } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest } from '../helpers/relyingParty.ts';

const INITIAL_ACCESS_TOKEN = 'initial-access-token-for-tests';

describe('what the database holds after a full code flow', () => {
  let database: TestDatabase;
  let server: TestServer;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { INITIAL_ACCESS_TOKEN });
    await createAlice(database);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  /** Every row of every table of ours, as text. */
  async function dumpAllTables(): Promise<string> {
    const tables = await database.db('information_schema.tables').where({ table_schema: 'public' }).pluck('table_name');
    const rows = await Promise.all(tables.map((table: string) => database.db(table).select('*')));
    return JSON.stringify(rows);
  }

  it('finds none of the issued values in any table', async () => {
    const registered = await client.dynamicClientRegistration(
      new URL(server.issuer),
      { redirect_uris: [RP_REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
      undefined,
      { initialAccessToken: INITIAL_ACCESS_TOKEN, execute: [client.allowInsecureRequests] },
    );
    const metadata = registered.clientMetadata();
    const issued: Record<string, string> = {
      client_secret: metadata.client_secret as string,
      registration_access_token: metadata.registration_access_token as string,
    };

    const browser = new Browser();
    const request = await authorizationRequest(registered, { scope: 'openid email offline_access', prompt: 'consent' });
    let page = await browser.navigate(request.url.toString());
    page = await browser.submit(page, /\/password$/, { email: ALICE.email, password: ALICE.password });
    page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
    issued.code = new URL(page.url).searchParams.get('code') as string;
    const tokens = await client.authorizationCodeGrant(registered, new URL(page.url), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    issued.access_token = tokens.access_token;
    issued.refresh_token = tokens.refresh_token as string;
    const refreshed = await client.refreshTokenGrant(registered, tokens.refresh_token as string);
    issued.rotated_access_token = refreshed.access_token;
    issued.rotated_refresh_token = refreshed.refresh_token as string;
    // The browser's session id: the value of the session cookie (its signature is a separate cookie).
    const sessionCookie = /(?:^|; )_session=([^;]+)/.exec(browser.jar.header())?.[1];
    assert.ok(sessionCookie, 'the browser holds a session cookie');
    issued.session_id = sessionCookie;

    // A pushed authorization request (its request_uri is a bearer reference to the pushed
    // parameters) and a device authorization: the device code, and the user code a person types.
    const pushed = await client.buildAuthorizationUrlWithPAR(registered, {
      redirect_uri: RP_REDIRECT,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    issued.request_uri = pushed.searchParams.get('request_uri') as string;
    const tv = await client.dynamicClientRegistration(
      new URL(server.issuer),
      {
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
        response_types: [],
        token_endpoint_auth_method: 'none',
        application_type: 'native',
      },
      undefined,
      { initialAccessToken: INITIAL_ACCESS_TOKEN, execute: [client.allowInsecureRequests] },
    );
    const device = await client.initiateDeviceAuthorization(tv, { scope: 'openid' });
    issued.device_code = device.device_code;
    // Typed by the person, with or without its dash: neither form may be stored.
    issued.user_code = device.user_code;
    issued.user_code_as_typed = device.user_code.replace('-', '');
    const devicePage = await browser.navigate(device.verification_uri);
    const confirm = await browser.submit(devicePage, /\/device$/, { user_code: device.user_code });
    // Confirming starts an interaction that carries the device code (Alice is signed in already,
    // so it asks for her consent).
    const deviceSignIn = await browser.submit(confirm, /\/device$/, {});
    assert.match(deviceSignIn.html, /<h1 id="page-title">Allow access<\/h1>/);
    const carrying = await database
      .db('oidc_payloads')
      .where({ model: 'Interaction' })
      .whereRaw("payload -> 'gatehouse:sealed' ->> 'deviceCode' is not null")
      .count<{ count: string | number }[]>('* as count');
    assert.equal(Number(carrying[0].count), 1, 'one interaction carries the device code, sealed');

    // Everything still works before the look at the tables...
    assert.equal((await client.tokenIntrospection(registered, refreshed.refresh_token as string)).active, true);

    const dump = await dumpAllTables();
    for (const [name, value] of Object.entries(issued)) {
      assert.ok(value.length >= 8, `${name} is a real value`);
      assert.equal(dump.includes(value), false, `the database holds the ${name}`);
    }
  });
});
