// The admin API's /clients, end to end with real client-credentials tokens: registering a client
// (its secret shown once), reading and changing it with ETags, rotating its secret and deleting
// it, each checked at the token endpoint with openid-client as the client itself would use it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { discover, RP_REDIRECT } from '../helpers/relyingParty.ts';

const PROBLEM = 'application/problem+json';
const INVENTORY = 'https://inventory.api.test';

/** What GET /clients/{id} shows of a client: never its secret. */
const CLIENT_FIELDS = [
  'allow_code_without_pkce',
  'allow_signup',
  'application_type',
  'client_id',
  'client_name',
  'confidential',
  'created_at',
  'default_resource',
  'grant_types',
  'post_logout_redirect_uris',
  'redirect_uris',
  'registered_by',
  'require_mfa',
  'require_verified_email',
  'response_types',
  'scope',
  'token_endpoint_auth_method',
  'updated_at',
];

describe('admin API: clients', () => {
  let database: TestDatabase;
  let server: TestServer;
  let admin: AdminClient;
  let reader: AdminClient;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    admin = await bootstrapAdminClient(server, database, 'Operator');
    reader = await bootstrapAdminClient(server, database, 'Client auditor', ['clients:read']);
    const api = await admin.call('POST', '/apis', {
      body: { identifier: INVENTORY, name: 'Inventory', scopes: ['stock:read', 'stock:write'], access_token_ttl: 600 },
    });
    assert.equal(api.status, 201);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  /** A client-credentials token for the inventory API, as the client gets it with its own secret. */
  const inventoryToken = async (clientId: string, secret: string, scope = 'stock:read') =>
    client.clientCredentialsGrant(await discover(server.issuer, clientId, secret), { resource: INVENTORY, scope });

  /** The token endpoint's refusal of a client's credentials: 401 with a Basic challenge naming invalid_client. */
  const refusedClient = () => ({
    status: 401,
    cause: [
      { scheme: 'basic', parameters: { realm: server.issuer, error: 'invalid_client', error_description: 'client authentication failed' } },
    ],
  });

  const grantInventory = async (clientId: string) =>
    assert.equal((await admin.call('PUT', `/apis/${encodeURIComponent(INVENTORY)}/clients/${clientId}`, { body: {} })).status, 200);

  const clientRows = async (where: Record<string, string>) =>
    Number((await database.db('clients').where(where).count({ n: '*' }).first())?.n);

  describe('create and read', () => {
    it('registers a client (201, Location), shows its secret once, and the client gets tokens for an API it was granted', async () => {
      const created = await admin.call('POST', '/clients', { body: { client_name: 'Stock worker', grant_types: ['client_credentials'] } });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(created.headers.get('cache-control'), 'no-store');
      const { client_id: clientId, client_secret: secret } = created.body;
      assert.match(clientId, /^[0-9a-f]{32}$/);
      assert.match(secret, /^[\w-]{43}$/);
      assert.equal(created.headers.get('location'), `/api/admin/v1/clients/${clientId}`);
      assert.deepEqual(Object.keys(created.body).sort(), [...CLIENT_FIELDS, 'client_secret'].sort());
      const { client_secret: _, ...shown } = created.body;
      assert.deepEqual(shown, {
        client_id: clientId,
        client_name: 'Stock worker',
        redirect_uris: [],
        post_logout_redirect_uris: [],
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        application_type: 'web',
        scope: null,
        default_resource: null,
        allow_code_without_pkce: false,
        allow_signup: true,
        require_verified_email: true,
        require_mfa: false,
        confidential: true,
        registered_by: 'admin_api',
        created_at: created.body.created_at,
        updated_at: created.body.updated_at,
      });

      // Read back: the same client, with an ETag, and no secret.
      const read = await admin.call('GET', `/clients/${clientId}`);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, shown);
      assert.match(read.headers.get('etag') ?? '', /^"[\w-]{27}"$/);
      assert.equal((await admin.call('GET', `/clients/${clientId}`)).headers.get('etag'), read.headers.get('etag'));

      // Listed, never with a secret (nor any field a read does not show).
      const list = await admin.call('GET', '/clients');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.data.filter((c: { client_id: string }) => c.client_id === clientId),
        [shown],
      );
      for (const listed of list.body.data) assert.deepEqual(Object.keys(listed).sort(), CLIENT_FIELDS, listed.client_id);
      assert.equal(JSON.stringify(list.body).includes(secret), false);
      assert.equal(JSON.stringify(read.body).includes(secret), false);

      // Not granted yet: no token for the API.
      await assert.rejects(inventoryToken(clientId, secret), { error: 'invalid_target' });
      const granted = await admin.call('PUT', `/apis/${encodeURIComponent(INVENTORY)}/clients/${clientId}`, {
        body: { scopes: ['stock:read'] },
      });
      assert.equal(granted.status, 200);
      const tokens = await inventoryToken(clientId, secret);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.scope, 'stock:read');
      assert.equal(tokens.expires_in, 600);
      const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL('/jwks', server.issuer)), {
        issuer: server.issuer,
        audience: INVENTORY,
        typ: 'at+jwt',
      });
      assert.equal(payload.client_id, clientId);
      assert.equal(payload.scope, 'stock:read');
      // Only the scopes it was granted (RFC 6749 3.3: a narrower scope than asked for).
      assert.equal((await inventoryToken(clientId, secret, 'stock:read stock:write')).scope, 'stock:read');
    });

    it('answers 404 problem+json for a client that does not exist', async () => {
      const answer = await admin.call('GET', '/clients/no-such-client');
      assert.equal(answer.status, 404);
      assert.equal(answer.headers.get('content-type'), PROBLEM);
      assert.deepEqual(answer.body, {
        type: 'urn:gatehouse:problem:not-found',
        title: 'Not found',
        status: 404,
        detail: 'No client with id no-such-client',
        instance: '/api/admin/v1/clients/no-such-client',
        request_id: answer.headers.get('x-request-id'),
      });
    });

    it('lets a clients:read token read but not register (403 insufficient_scope)', async () => {
      assert.equal((await reader.call('GET', '/clients')).status, 200);
      const answer = await reader.call('POST', '/clients', { body: { client_name: 'Sneaky', grant_types: ['client_credentials'] } });
      assert.equal(answer.status, 403);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:insufficient-scope');
      assert.equal(await clientRows({ client_name: 'Sneaky' }), 0);
    });
  });

  describe('changes', () => {
    let shopId: string;

    before(async () => {
      const created = await admin.call('POST', '/clients', { body: { client_name: 'Shop', redirect_uris: [RP_REDIRECT] } });
      assert.equal(created.status, 201);
      shopId = created.body.client_id;
    });

    it('changes client_name and redirect_uris with If-Match; a stale ETag gets 412 and changes nothing', async () => {
      const read = await admin.call('GET', `/clients/${shopId}`);
      const etag = read.headers.get('etag') as string;
      assert.deepEqual(read.body.grant_types, ['authorization_code', 'refresh_token']);

      const changed = await admin.call('PATCH', `/clients/${shopId}`, {
        body: { client_name: 'Shop (new)', redirect_uris: [RP_REDIRECT, 'http://rp.test/callback-2'] },
        headers: { 'if-match': etag },
      });
      assert.equal(changed.status, 200);
      assert.deepEqual(changed.body, {
        ...read.body,
        client_name: 'Shop (new)',
        redirect_uris: [RP_REDIRECT, 'http://rp.test/callback-2'],
        updated_at: changed.body.updated_at,
      });
      const newTag = changed.headers.get('etag') as string;
      assert.notEqual(newTag, etag);
      const reread = await admin.call('GET', `/clients/${shopId}`);
      assert.deepEqual(reread.body, changed.body);
      assert.equal(reread.headers.get('etag'), newTag);

      const stale = await admin.call('PATCH', `/clients/${shopId}`, {
        body: { client_name: 'Lost update', redirect_uris: ['http://rp.test/elsewhere'] },
        headers: { 'if-match': etag },
      });
      assert.equal(stale.status, 412);
      assert.equal(stale.headers.get('content-type'), PROBLEM);
      assert.equal(stale.body.type, 'urn:gatehouse:problem:precondition-failed');
      const after = await admin.call('GET', `/clients/${shopId}`);
      assert.deepEqual(after.body, changed.body);
      assert.equal(after.headers.get('etag'), newTag);
      assert.equal((await database.db('clients').where('client_id', shopId).first()).client_name, 'Shop (new)');
    });

    it('refuses invalid metadata with 400 invalid-input and keeps the client as it was', async () => {
      const before = await admin.call('GET', `/clients/${shopId}`);

      const fragment = await admin.call('PATCH', `/clients/${shopId}`, { body: { redirect_uris: ['http://rp.test/callback#part'] } });
      assert.equal(fragment.status, 400);
      assert.equal(fragment.headers.get('content-type'), PROBLEM);
      assert.equal(fragment.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.equal(fragment.body.detail, 'Invalid client: redirect_uris must not contain fragments');

      const grant = await admin.call('PATCH', `/clients/${shopId}`, { body: { grant_types: ['authorization_code', 'password'] } });
      assert.equal(grant.status, 400);
      assert.equal(grant.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.deepEqual(grant.body.errors, [
        {
          path: 'grant_types.1',
          message:
            'Invalid option: expected one of "authorization_code"|"refresh_token"|"client_credentials"|"urn:ietf:params:oauth:grant-type:device_code"',
        },
      ]);

      const onCreate = await admin.call('POST', '/clients', {
        body: { client_name: 'Fragmented', redirect_uris: ['https://app.example.test/cb#x'] },
      });
      assert.equal(onCreate.status, 400);
      assert.equal(onCreate.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.equal(onCreate.body.detail, 'Invalid client: redirect_uris must not contain fragments');
      assert.equal(await clientRows({ client_name: 'Fragmented' }), 0);

      const after = await admin.call('GET', `/clients/${shopId}`);
      assert.deepEqual(after.body, before.body);
      assert.equal(after.headers.get('etag'), before.headers.get('etag'));
    });

    it('gives a client that switches to client_secret_jwt a new secret, sealed, since only a digest of the old one is kept', async () => {
      const created = await admin.call('POST', '/clients', {
        body: { client_name: 'Digest only', grant_types: ['client_credentials'] },
      });
      await grantInventory(created.body.client_id);
      const answer = await admin.call('PATCH', `/clients/${created.body.client_id}`, {
        body: { token_endpoint_auth_method: 'client_secret_jwt' },
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.token_endpoint_auth_method, 'client_secret_jwt');
      const secret = answer.body.client_secret as string;
      assert.match(secret, /^[\w-]{43}$/);
      assert.notEqual(secret, created.body.client_secret);
      // Kept sealed (the protocol needs it back as an HMAC key), never as the plain value.
      const stored = (await database.db('clients').where('client_id', created.body.client_id).first()).client_secret as string;
      assert.match(stored, /^enc:v2\./);
      assert.ok(!stored.includes(secret));
      assert.equal((await admin.call('GET', `/clients/${created.body.client_id}`)).body.client_secret, undefined);
      // The new secret signs a client assertion the token endpoint accepts.
      const config = await client.discovery(new URL(server.issuer), created.body.client_id, undefined, client.ClientSecretJwt(secret), {
        execute: [client.allowInsecureRequests],
      });
      const tokens = await client.clientCredentialsGrant(config, { resource: INVENTORY });
      assert.equal(typeof tokens.access_token, 'string');
    });

    it('gives a public client that becomes confidential a secret, shown once', async () => {
      const created = await admin.call('POST', '/clients', {
        body: { client_name: 'Was public', redirect_uris: [RP_REDIRECT], token_endpoint_auth_method: 'none' },
      });
      assert.equal(created.body.client_secret, undefined);
      const changed = await admin.call('PATCH', `/clients/${created.body.client_id}`, {
        body: { token_endpoint_auth_method: 'client_secret_basic' },
      });
      assert.equal(changed.status, 200);
      assert.equal(changed.body.confidential, true);
      assert.match(changed.body.client_secret, /^[\w-]{43}$/);
    });

    it('drops the secret of a client that becomes public (token_endpoint_auth_method none): not confidential, nothing to rotate', async () => {
      const created = await admin.call('POST', '/clients', { body: { client_name: 'Going public', redirect_uris: [RP_REDIRECT] } });
      assert.equal(created.body.confidential, true);
      const changed = await admin.call('PATCH', `/clients/${created.body.client_id}`, { body: { token_endpoint_auth_method: 'none' } });
      assert.equal(changed.status, 200);
      assert.equal(changed.body.token_endpoint_auth_method, 'none');
      assert.equal(changed.body.confidential, false, 'a public client is shown as confidential');
      assert.equal((await database.db('clients').where('client_id', created.body.client_id).first()).client_secret, null);
      const rotated = await admin.call('POST', `/clients/${created.body.client_id}/secret`);
      assert.equal(rotated.status, 409, 'a public client was given a secret');
    });

    it('refuses unknown fields, naming each', async () => {
      const create = await admin.call('POST', '/clients', { body: { client_name: 'Colourful', colour: 'blue' } });
      assert.equal(create.status, 400);
      assert.equal(create.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.deepEqual(create.body.errors, [{ path: 'colour', message: 'unknown field' }]);
      assert.equal(await clientRows({ client_name: 'Colourful' }), 0);

      const patch = await admin.call('PATCH', `/clients/${shopId}`, { body: { client_secret: 'chosen-by-me' } });
      assert.equal(patch.status, 400);
      assert.deepEqual(patch.body.errors, [{ path: 'client_secret', message: 'unknown field' }]);
    });

    it('refuses a second client with the same client_id (409) and keeps the first', async () => {
      const body = { client_id: 'billing-worker', client_name: 'Billing worker', grant_types: ['client_credentials'] };
      const first = await admin.call('POST', '/clients', { body });
      assert.equal(first.status, 201);
      const second = await admin.call('POST', '/clients', { body: { ...body, client_name: 'Impostor' } });
      assert.equal(second.status, 409);
      assert.equal(second.headers.get('content-type'), PROBLEM);
      assert.equal(second.body.type, 'urn:gatehouse:problem:conflict');
      assert.equal(second.body.detail, 'A client with id billing-worker already exists');
      assert.equal(await clientRows({ client_id: 'billing-worker' }), 1);
      assert.equal((await admin.call('GET', '/clients/billing-worker')).body.client_name, 'Billing worker');
      // The first secret still works.
      assert.equal((await admin.call('PUT', `/apis/${encodeURIComponent(INVENTORY)}/clients/billing-worker`, { body: {} })).status, 200);
      assert.equal((await inventoryToken('billing-worker', first.body.client_secret)).scope, 'stock:read');
    });
  });

  describe('secret rotation', () => {
    it('gives a new secret: the old one fails at the token endpoint at once, the new one works', async () => {
      const created = await admin.call('POST', '/clients', {
        body: { client_name: 'Rotating worker', grant_types: ['client_credentials'] },
      });
      const { client_id: clientId, client_secret: oldSecret } = created.body;
      assert.equal((await admin.call('PUT', `/apis/${encodeURIComponent(INVENTORY)}/clients/${clientId}`, { body: {} })).status, 200);
      assert.equal((await inventoryToken(clientId, oldSecret)).scope, 'stock:read');

      const rotated = await admin.call('POST', `/clients/${clientId}/secret`);
      assert.equal(rotated.status, 200);
      assert.equal(rotated.headers.get('cache-control'), 'no-store');
      const newSecret = rotated.body.client_secret;
      assert.match(newSecret, /^[\w-]{43}$/);
      assert.notEqual(newSecret, oldSecret);
      assert.equal(rotated.body.client_id, clientId);
      assert.equal(rotated.body.confidential, true);

      await assert.rejects(inventoryToken(clientId, oldSecret), refusedClient());
      assert.equal((await inventoryToken(clientId, newSecret)).scope, 'stock:read');
      const read = await admin.call('GET', `/clients/${clientId}`);
      assert.equal(JSON.stringify(read.body).includes(newSecret), false);
      assert.equal('client_secret' in read.body, false);
    });

    it('answers the rotation with the ETag of the client as it now is, so If-Match with it opens the next change', async () => {
      const created = await admin.call('POST', '/clients', { body: { client_name: 'Tagged worker', grant_types: ['client_credentials'] } });
      const clientId = created.body.client_id;
      const rotated = await admin.call('POST', `/clients/${clientId}/secret`);
      assert.equal(rotated.status, 200);
      const read = await admin.call('GET', `/clients/${clientId}`);
      // The ETag names the client's version, which a secret the read never shows cannot be part of.
      assert.equal(rotated.headers.get('etag'), read.headers.get('etag'), 'the rotation answers with the ETag a read gives');
      const changed = await admin.call('PATCH', `/clients/${clientId}`, {
        body: { client_name: 'Tagged worker (renamed)' },
        headers: { 'if-match': rotated.headers.get('etag') as string },
      });
      assert.equal(changed.status, 200, 'If-Match with the ETag of the rotation');
    });

    it('refuses a stale If-Match on rotation (412) and keeps the old secret', async () => {
      const created = await admin.call('POST', '/clients', {
        body: { client_name: 'Careful worker', grant_types: ['client_credentials'] },
      });
      const { client_id: clientId, client_secret: secret } = created.body;
      const etag = (await admin.call('GET', `/clients/${clientId}`)).headers.get('etag') as string;
      assert.equal((await admin.call('PATCH', `/clients/${clientId}`, { body: { client_name: 'Careful worker 2' } })).status, 200);
      const stale = await admin.call('POST', `/clients/${clientId}/secret`, { headers: { 'if-match': etag } });
      assert.equal(stale.status, 412);
      assert.equal(stale.body.type, 'urn:gatehouse:problem:precondition-failed');
      assert.equal('client_secret' in stale.body, false);
      assert.equal((await admin.call('PUT', `/apis/${encodeURIComponent(INVENTORY)}/clients/${clientId}`, { body: {} })).status, 200);
      assert.equal((await inventoryToken(clientId, secret)).scope, 'stock:read');
    });

    it('refuses to rotate a public client (409): it has no secret', async () => {
      const created = await admin.call('POST', '/clients', {
        body: {
          client_name: 'Mobile app',
          redirect_uris: ['com.example.app:/callback'],
          application_type: 'native',
          token_endpoint_auth_method: 'none',
        },
      });
      assert.equal(created.status, 201);
      assert.equal('client_secret' in created.body, false);
      assert.equal(created.body.confidential, false);
      const before = await admin.call('GET', `/clients/${created.body.client_id}`);
      const answer = await admin.call('POST', `/clients/${created.body.client_id}/secret`);
      assert.equal(answer.status, 409);
      assert.equal(answer.headers.get('content-type'), PROBLEM);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:conflict');
      assert.equal(answer.body.detail, `Client ${created.body.client_id} has no secret to rotate (it is public or uses private_key_jwt)`);
      const after = await admin.call('GET', `/clients/${created.body.client_id}`);
      assert.deepEqual(after.body, before.body);
      assert.equal((await database.db('clients').where('client_id', created.body.client_id).first()).client_secret, null);
    });

    it('answers 404 for rotating a client that does not exist', async () => {
      const answer = await admin.call('POST', '/clients/no-such-client/secret');
      assert.equal(answer.status, 404);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:not-found');
    });
  });

  describe('delete', () => {
    it('deletes a client (204), after which it is gone and its secret gets no token', async () => {
      const created = await admin.call('POST', '/clients', { body: { client_name: 'Doomed worker', grant_types: ['client_credentials'] } });
      const { client_id: clientId, client_secret: secret } = created.body;
      assert.equal((await admin.call('PUT', `/apis/${encodeURIComponent(INVENTORY)}/clients/${clientId}`, { body: {} })).status, 200);
      assert.equal((await inventoryToken(clientId, secret)).scope, 'stock:read');

      const etag = (await admin.call('GET', `/clients/${clientId}`)).headers.get('etag') as string;
      const stale = await admin.call('DELETE', `/clients/${clientId}`, { headers: { 'if-match': '"not-the-version"' } });
      assert.equal(stale.status, 412);
      assert.equal(await clientRows({ client_id: clientId }), 1);

      const deleted = await admin.call('DELETE', `/clients/${clientId}`, { headers: { 'if-match': etag } });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.body, undefined);
      const gone = await admin.call('GET', `/clients/${clientId}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.type, 'urn:gatehouse:problem:not-found');
      assert.equal(await clientRows({ client_id: clientId }), 0);
      assert.equal((await admin.call('DELETE', `/clients/${clientId}`)).status, 404);
      await assert.rejects(inventoryToken(clientId, secret), refusedClient());
    });
  });

  it('ends the live management tokens of an admin client it deletes', async () => {
    const temporary = await bootstrapAdminClient(server, database, 'Temporary operator', ['clients:read']);
    assert.equal((await temporary.call('GET', '/clients')).status, 200);
    assert.equal((await admin.call('DELETE', `/clients/${temporary.clientId}`)).status, 204);
    const answer = await temporary.call('GET', '/clients');
    assert.equal(answer.status, 401);
    assert.equal(answer.body.type, 'urn:gatehouse:problem:unauthorized');
    assert.equal(answer.body.detail, 'The access token is not valid (unknown, expired or revoked)');
  });

  describe('Idempotency-Key', () => {
    it('answers a retried create with the same client and the same secret, and registers one client', async () => {
      const headers = { 'idempotency-key': 'create-nightly-export-1' };
      const body = { client_name: 'Nightly export', grant_types: ['client_credentials'] };
      const first = await admin.call('POST', '/clients', { body, headers });
      assert.equal(first.status, 201);
      assert.equal(first.headers.get('idempotent-replayed'), null);
      const retry = await admin.call('POST', '/clients', { body, headers });
      assert.equal(retry.status, 201);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      assert.equal(retry.body.client_id, first.body.client_id);
      assert.equal(retry.body.client_secret, first.body.client_secret);
      assert.deepEqual(retry.body, first.body);
      assert.equal(retry.headers.get('location'), first.headers.get('location'));
      assert.equal(await clientRows({ client_name: 'Nightly export' }), 1);
      assert.deepEqual(
        (await database.db('domain_events').where('subject', first.body.client_id).select('type')).map((e) => e.type),
        ['gatehouse.client.created'],
      );
      // The secret the replay shows is the one that works.
      assert.equal(
        (await admin.call('PUT', `/apis/${encodeURIComponent(INVENTORY)}/clients/${first.body.client_id}`, { body: {} })).status,
        200,
      );
      assert.equal((await inventoryToken(first.body.client_id, retry.body.client_secret)).scope, 'stock:read');

      const other = await admin.call('POST', '/clients', { body: { ...body, client_name: 'Nightly import' }, headers });
      assert.equal(other.status, 422);
      assert.equal(other.body.type, 'urn:gatehouse:problem:idempotency-key-reused');
      assert.equal(await clientRows({ client_name: 'Nightly import' }), 0);
    });

    it('keeps no client secret in the clear in the database to answer a replay with', async () => {
      const headers = { 'idempotency-key': 'create-hourly-sync-1' };
      const created = await admin.call('POST', '/clients', {
        body: { client_name: 'Hourly sync', grant_types: ['client_credentials'] },
        headers,
      });
      assert.equal(created.status, 201);
      const secret = created.body.client_secret as string;
      // The clients table keeps a digest only ...
      const row = await database.db('clients').where('client_id', created.body.client_id).first();
      assert.equal(JSON.stringify(row).includes(secret), false);
      // ... and so must the store of idempotent answers: a database reader must not learn the secret.
      const stored = await database.db('idempotency_keys').where({ client_id: admin.clientId, key: 'create-hourly-sync-1' }).first();
      assert.equal(JSON.stringify(stored).includes(secret), false, 'idempotency_keys.response holds the client secret in the clear');
    });
  });
});
