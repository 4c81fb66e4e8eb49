// The database becomes unreachable: /readyz answers 503, requests that need it fail with a clear
// 503 (never a 500 or a hang), and everything recovers by itself once it is back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { unpluggableDatabase, type UnpluggableDatabase } from '../helpers/unplugDatabase.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/fixtures.ts';
import { openDatabase, type Database } from '../../src/db/index.ts';
import { RP_REDIRECT, basicAuth } from '../helpers/relyingParty.ts';
import { createApi, grantApiAccess } from '../../src/apis/index.ts';
import { operator } from '../helpers/fixtures.ts';

const API = 'https://outage.api.test';

describe('database outage', () => {
  let relay: UnpluggableDatabase;
  let database: Database;
  let server: TestServer;
  let clientId: string;
  let clientSecret: string;

  before(async () => {
    relay = await unpluggableDatabase();
    // One connection: PGlite behind its socket server serves one session at a time.
    database = await openDatabase({ databaseUrl: relay.url, poolMax: 1 });
    server = await startTestServer(database);
    await createApi(operator(database), { identifier: API, name: 'Outage', access_token_format: 'opaque' });
    // Client credentials without `resource` are for the client's default API.
    const registered = await createClient(database, server.config, {
      grantTypes: ['client_credentials', 'authorization_code'],
      defaultApi: API,
    });
    await grantApiAccess(operator(database), API, { client_id: registered.client_id, scopes: null });
    clientId = registered.client_id;
    clientSecret = registered.client_secret as string;
  });

  after(async () => {
    await server?.close();
    await database?.close();
    await relay?.dispose();
  });

  const get = (path: string, accept = 'application/json') =>
    fetch(new URL(path, server.issuer), { headers: { accept }, redirect: 'manual' });
  const token = () =>
    fetch(new URL('/token', server.issuer), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(clientId, clientSecret),
      },
      body: 'grant_type=client_credentials',
    });

  it('is ready and serves tokens while the database answers', async () => {
    assert.equal((await get('/readyz')).status, 200);
    assert.equal((await token()).status, 200);
  });

  it('answers 503 everywhere the database is needed while it is unreachable', async () => {
    await relay.unplug();

    const ready = await get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.headers.get('content-type'), 'application/problem+json');
    assert.deepEqual(await ready.json(), {
      type: 'about:blank',
      title: 'Not ready',
      status: 503,
      detail: 'The database is not answering.',
      request_id: ready.headers.get('x-request-id'),
    });

    const tokenResponse = await token();
    assert.equal(tokenResponse.status, 503);
    assert.equal(tokenResponse.headers.get('retry-after'), '5');
    assert.deepEqual(await tokenResponse.json(), {
      error: 'temporarily_unavailable',
      error_description: 'the service is temporarily unavailable, try again later',
    });

    const authorize = await get(
      `/auth?client_id=${clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_REDIRECT)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
      'text/html',
    );
    assert.equal(authorize.status, 503);
    assert.match(await authorize.text(), /We cannot reach our database right now/);

    // The process itself is fine, and so is what needs no database.
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/.well-known/openid-configuration')).status, 200);
  });

  it('recovers by itself when the database is back', async () => {
    await relay.plugIn();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await get('/readyz')).status;
      if (status !== 200) await sleep(100);
    }
    assert.equal(status, 200);
    assert.equal((await token()).status, 200);
  });
});
