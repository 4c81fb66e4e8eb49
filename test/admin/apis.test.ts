// The admin API's /apis, end to end with real client-credentials tokens: registering APIs
// (resource servers), reading them with the clients allowed to use them, granting and
// withdrawing that access (checked at the token endpoint), and the built-in management API.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { discover } from '../helpers/relyingParty.ts';
import { MANAGEMENT_SCOPES, managementApiIdentifier } from '../../src/admin/index.ts';

const PROBLEM = 'application/problem+json';
// An identifier with a path, a port and a query: every reserved character must survive the trip.
const ORDERS = 'https://shop.example.test:8443/api/orders?v=2';
const path = (identifier: string) => `/apis/${encodeURIComponent(identifier)}`;

describe('admin API: apis', () => {
  let database: TestDatabase;
  let server: TestServer;
  let admin: AdminClient;
  let reader: AdminClient;
  let worker: { client_id: string; client_secret: string };

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    admin = await bootstrapAdminClient(server, database, 'Operator');
    reader = await bootstrapAdminClient(server, database, 'API auditor', ['apis:read']);
    const created = await admin.call('POST', '/clients', { body: { client_name: 'Order worker', grant_types: ['client_credentials'] } });
    assert.equal(created.status, 201);
    worker = created.body;
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const workerToken = async (scope: string) =>
    client.clientCredentialsGrant(await discover(server.issuer, worker.client_id, worker.client_secret), { resource: ORDERS, scope });

  const apiRows = async (identifier: string) =>
    Number((await database.db('resource_servers').where('identifier', identifier).count({ n: '*' }).first())?.n);

  it('lists the built-in management API', async () => {
    const list = await admin.call('GET', '/apis');
    assert.equal(list.status, 200);
    const management = list.body.data.filter((a: { identifier: string }) => a.identifier === managementApiIdentifier(server.issuer));
    assert.deepEqual(management, [
      {
        identifier: `${server.issuer}/api/admin/v1`,
        name: 'Gatehouse management API',
        scopes: Object.keys(MANAGEMENT_SCOPES),
        access_token_format: 'opaque',
        signing_alg: null,
        access_token_ttl: 600,
        resource_server_client_id: null,
        created_at: management[0].created_at,
      },
    ]);
    const read = await admin.call('GET', path(managementApiIdentifier(server.issuer)));
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.clients.map((c: { client_id: string }) => c.client_id).sort(), [admin.clientId, reader.clientId].sort());
    assert.deepEqual(read.body.clients.find((c: { client_id: string }) => c.client_id === reader.clientId).scopes, ['apis:read']);
    assert.equal(read.body.clients.find((c: { client_id: string }) => c.client_id === admin.clientId).scopes, 'all');
  });

  it('registers an API (201, Location with the identifier percent-encoded), lists it and reads it back', async () => {
    const created = await admin.call('POST', '/apis', {
      body: { identifier: ORDERS, name: 'Orders', scopes: ['orders:read', 'orders:write'] },
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(created.headers.get('location'), `/api/admin/v1/apis/${encodeURIComponent(ORDERS)}`);
    assert.equal(created.headers.get('location'), '/api/admin/v1/apis/https%3A%2F%2Fshop.example.test%3A8443%2Fapi%2Forders%3Fv%3D2');
    assert.match(created.body.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const expected = {
      identifier: ORDERS,
      name: 'Orders',
      scopes: ['orders:read', 'orders:write'],
      access_token_format: 'jwt',
      signing_alg: 'ES256',
      access_token_ttl: 3600,
      resource_server_client_id: null,
      created_at: created.body.created_at,
    };
    assert.deepEqual(created.body, expected);

    const list = await admin.call('GET', '/apis');
    assert.deepEqual(
      list.body.data.filter((a: { identifier: string }) => a.identifier === ORDERS),
      [expected],
    );
    // The reader may read.
    const read = await reader.call('GET', path(ORDERS));
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, { ...expected, clients: [] });
    assert.equal((await admin.call('GET', created.headers.get('location')?.replace('/api/admin/v1', '') as string)).status, 200);
  });

  it('finds an API only by its percent-encoded identifier', async () => {
    // Unencoded, the identifier's slashes make it another path, which nothing serves.
    const raw = await fetch(`${server.url}/api/admin/v1/apis/${ORDERS}`, { headers: { authorization: `Bearer ${admin.token}` } });
    assert.equal(raw.status, 404);
    await raw.arrayBuffer();
    const missing = await admin.call('GET', path('https://nowhere.example.test'));
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('content-type'), PROBLEM);
    assert.equal(missing.body.type, 'urn:gatehouse:problem:not-found');
    assert.equal(missing.body.detail, 'No API https://nowhere.example.test');
  });

  it('answers a path it does not serve (an unencoded identifier) with a problem+json 404, as every admin API error', async () => {
    const raw = await fetch(`${server.url}/api/admin/v1/apis/${ORDERS}`, { headers: { authorization: `Bearer ${admin.token}` } });
    const body = await raw.text();
    assert.equal(raw.status, 404);
    assert.equal(raw.headers.get('content-type'), PROBLEM, `answered ${raw.headers.get('content-type')}: ${body}`);
    assert.equal(JSON.parse(body).type, 'urn:gatehouse:problem:not-found');
  });

  it('refuses a second API with the same identifier (409)', async () => {
    const again = await admin.call('POST', '/apis', { body: { identifier: ORDERS, name: 'Orders again', scopes: ['x'] } });
    assert.equal(again.status, 409);
    assert.equal(again.headers.get('content-type'), PROBLEM);
    assert.equal(again.body.type, 'urn:gatehouse:problem:conflict');
    assert.equal(again.body.detail, `An API with identifier ${ORDERS} already exists`);
    assert.equal(await apiRows(ORDERS), 1);
    assert.equal((await admin.call('GET', path(ORDERS))).body.name, 'Orders');
  });

  it('refuses an identifier that is not an absolute URI, and unknown fields', async () => {
    const relative = await admin.call('POST', '/apis', { body: { identifier: 'orders', name: 'Orders' } });
    assert.equal(relative.status, 400);
    assert.equal(relative.body.type, 'urn:gatehouse:problem:invalid-input');
    assert.deepEqual(relative.body.errors, [
      { path: 'identifier', message: 'identifier must be an absolute URI such as https://api.example.com' },
    ]);
    const unknown = await admin.call('POST', '/apis', { body: { identifier: 'https://x.example.test', name: 'X', audience: 'x' } });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body.errors, [{ path: 'audience', message: 'unknown field' }]);
    assert.equal(await apiRows('https://x.example.test'), 0);
  });

  it('refuses API scopes that are the names of claim scopes (phone, profile:<name>, …)', async () => {
    const refused = await admin.call('POST', '/apis', {
      body: { identifier: 'https://y.example.test', name: 'Y', scopes: ['read', 'phone', 'profile:shop'] },
    });
    assert.equal(refused.status, 400);
    const message =
      'scopes that release claims about the user (openid, profile, email, phone, address, consents, offline_access, profile:<name>) cannot be an API’s';
    assert.deepEqual(refused.body.errors, [
      { path: 'scopes.1', message },
      { path: 'scopes.2', message },
    ]);
    assert.equal(await apiRows('https://y.example.test'), 0);
  });

  it('lets an apis:read token read but not change (403)', async () => {
    const answer = await reader.call('PUT', `${path(ORDERS)}/clients/${worker.client_id}`, { body: {} });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.type, 'urn:gatehouse:problem:insufficient-scope');
    assert.equal(
      answer.headers.get('www-authenticate'),
      'Bearer realm="gatehouse-admin", error="insufficient_scope", scope="apis:write", error_description="This operation needs the scope apis:write"',
    );
    assert.deepEqual((await admin.call('GET', path(ORDERS))).body.clients, []);
  });

  describe('client access', () => {
    it('grants a client every scope ({}), then only some, and the token endpoint follows', async () => {
      await assert.rejects(workerToken('orders:read'), { error: 'invalid_target' });

      const all = await admin.call('PUT', `${path(ORDERS)}/clients/${worker.client_id}`, { body: {} });
      assert.equal(all.status, 200);
      assert.equal(all.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(all.body, { client_id: worker.client_id, resource: ORDERS, scopes: 'all', created_at: all.body.created_at });
      assert.deepEqual((await admin.call('GET', path(ORDERS))).body.clients, [{ client_id: worker.client_id, scopes: 'all' }]);
      assert.equal((await workerToken('orders:read orders:write')).scope, 'orders:read orders:write');

      const some = await admin.call('PUT', `${path(ORDERS)}/clients/${worker.client_id}`, { body: { scopes: ['orders:read'] } });
      assert.equal(some.status, 200);
      assert.deepEqual(some.body, {
        client_id: worker.client_id,
        resource: ORDERS,
        scopes: ['orders:read'],
        created_at: all.body.created_at,
      });
      assert.deepEqual((await admin.call('GET', path(ORDERS))).body.clients, [{ client_id: worker.client_id, scopes: ['orders:read'] }]);
      assert.equal((await workerToken('orders:read orders:write')).scope, 'orders:read');
      assert.equal(Number((await database.db('client_api_access').where('resource', ORDERS).count({ n: '*' }).first())?.n), 1);
    });

    it('refuses a scope the API does not define (400) and keeps the access as it was', async () => {
      const answer = await admin.call('PUT', `${path(ORDERS)}/clients/${worker.client_id}`, {
        body: { scopes: ['orders:read', 'orders:delete'] },
      });
      assert.equal(answer.status, 400);
      assert.equal(answer.headers.get('content-type'), PROBLEM);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.equal(answer.body.detail, `The API ${ORDERS} does not define the scope orders:delete`);
      assert.deepEqual((await admin.call('GET', path(ORDERS))).body.clients, [{ client_id: worker.client_id, scopes: ['orders:read'] }]);
    });

    it('refuses access for a client that does not exist (400), and for an API that does not exist (404)', async () => {
      const noClient = await admin.call('PUT', `${path(ORDERS)}/clients/no-such-client`, { body: {} });
      assert.equal(noClient.status, 400);
      assert.equal(noClient.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.equal(noClient.body.detail, 'No client no-such-client');
      const noApi = await admin.call('PUT', `${path('https://nowhere.example.test')}/clients/${worker.client_id}`, { body: {} });
      assert.equal(noApi.status, 404);
      assert.equal(noApi.body.type, 'urn:gatehouse:problem:not-found');
      assert.equal(Number((await database.db('client_api_access').where('client_id', 'no-such-client').count({ n: '*' }).first())?.n), 0);
    });

    it('refuses a client_id in the body: the path names the client', async () => {
      const answer = await admin.call('PUT', `${path(ORDERS)}/clients/${worker.client_id}`, { body: { client_id: admin.clientId } });
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.body.errors, [{ path: 'client_id', message: 'unknown field' }]);
    });

    it('withdraws access (204): the client gets no more tokens, and a second withdrawal is 404', async () => {
      const revoked = await admin.call('DELETE', `${path(ORDERS)}/clients/${worker.client_id}`);
      assert.equal(revoked.status, 204);
      assert.equal(revoked.body, undefined);
      assert.deepEqual((await admin.call('GET', path(ORDERS))).body.clients, []);
      await assert.rejects(workerToken('orders:read'), { error: 'invalid_target' });
      const again = await admin.call('DELETE', `${path(ORDERS)}/clients/${worker.client_id}`);
      assert.equal(again.status, 404);
      assert.equal(again.body.type, 'urn:gatehouse:problem:not-found');
      assert.equal(again.body.detail, `Client ${worker.client_id} has no access to ${ORDERS}`);
    });
  });

  describe('delete', () => {
    it('deletes an API (204), after which it is gone, with its clients’ access', async () => {
      const identifier = 'https://returns.api.test';
      assert.equal((await admin.call('POST', '/apis', { body: { identifier, name: 'Returns', scopes: ['returns:read'] } })).status, 201);
      assert.equal((await admin.call('PUT', `${path(identifier)}/clients/${worker.client_id}`, { body: {} })).status, 200);
      const deleted = await admin.call('DELETE', path(identifier));
      assert.equal(deleted.status, 204);
      assert.equal(deleted.body, undefined);
      const gone = await admin.call('GET', path(identifier));
      assert.equal(gone.status, 404);
      assert.equal(gone.body.type, 'urn:gatehouse:problem:not-found');
      assert.equal(
        (await admin.call('GET', '/apis')).body.data.some((a: { identifier: string }) => a.identifier === identifier),
        false,
      );
      assert.equal(Number((await database.db('client_api_access').where('resource', identifier).count({ n: '*' }).first())?.n), 0);
      assert.equal((await admin.call('DELETE', path(identifier))).status, 404);
      await assert.rejects(
        client.clientCredentialsGrant(await discover(server.issuer, worker.client_id, worker.client_secret), {
          resource: identifier,
          scope: 'returns:read',
        }),
        { error: 'invalid_target' },
      );
    });

    it('ends the live management tokens of a client whose access to the management API is withdrawn', async () => {
      // As the README says: "deleting the client or revoking its access ends them at once".
      const temporary = await bootstrapAdminClient(server, database, 'Temporary auditor', ['apis:read']);
      assert.equal((await temporary.call('GET', '/apis')).status, 200);
      const revoked = await admin.call('DELETE', `${path(managementApiIdentifier(server.issuer))}/clients/${temporary.clientId}`);
      assert.equal(revoked.status, 204);
      await assert.rejects(temporary.newToken(), { error: 'invalid_target' });
      const answer = await temporary.call('GET', '/apis');
      assert.equal(answer.status, 401, 'a token issued before the access was withdrawn still opens the admin API');
      assert.equal(answer.body.type, 'urn:gatehouse:problem:unauthorized');
    });

    it('refuses to delete the management API (409); admin tokens keep working', async () => {
      const identifier = managementApiIdentifier(server.issuer);
      const answer = await admin.call('DELETE', path(identifier));
      assert.equal(answer.status, 409);
      assert.equal(answer.headers.get('content-type'), PROBLEM);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:conflict');
      assert.equal(await apiRows(identifier), 1);
      assert.equal((await admin.call('GET', '/apis')).status, 200);
      admin.token = await admin.newToken();
      assert.equal((await admin.call('GET', path(identifier))).status, 200);
    });
  });

  it('answers a retried create with an Idempotency-Key with the first answer, and registers one API', async () => {
    const headers = { 'idempotency-key': 'create-payments-api' };
    const body = { identifier: 'https://payments.api.test', name: 'Payments', access_token_format: 'opaque' };
    const first = await admin.call('POST', '/apis', { body, headers });
    assert.equal(first.status, 201);
    assert.equal(first.body.signing_alg, null);
    const retry = await admin.call('POST', '/apis', { body, headers });
    assert.equal(retry.status, 201);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(retry.body, first.body);
    assert.equal(retry.headers.get('location'), first.headers.get('location'));
    assert.equal(await apiRows('https://payments.api.test'), 1);
  });
});
