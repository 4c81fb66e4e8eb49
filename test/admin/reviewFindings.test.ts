// What a review of the admin API found, each a test that failed before its fix: privilege
// escalation through grants and secret rotation, access withdrawn on another instance,
// suspension of a user whose tokens were not (yet) deleted, NUL bytes, and If-Match semantics.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { basicAuth, discover, signInWithOfflineAccess } from '../helpers/relyingParty.ts';
import { managementApiIdentifier } from '../../src/admin/index.ts';
import { openDatabase } from '../../src/db/index.ts';

const ON_PGLITE = !process.env.DATABASE_URL;

describe('admin API: review findings', () => {
  let database: TestDatabase;
  let server: TestServer;
  let root: AdminClient;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    root = await bootstrapAdminClient(server, database, 'Root');
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const mgmt = () => encodeURIComponent(managementApiIdentifier(server.issuer));

  it('does not let apis:write grant itself (or anyone) management scopes it does not hold', async () => {
    const integrator = await bootstrapAdminClient(server, database, 'Integrator', ['apis:write']);
    const self = await integrator.call('PUT', `/apis/${mgmt()}/clients/${integrator.clientId}`, { body: {} });
    assert.equal(self.status, 403);
    assert.equal(self.body.type, 'urn:gatehouse:problem:forbidden');
    const narrow = await integrator.call('PUT', `/apis/${mgmt()}/clients/${integrator.clientId}`, { body: { scopes: ['users:write'] } });
    assert.equal(narrow.status, 403);
    assert.match(narrow.body.detail, /users:write/);
    // Within its own scopes it may grant (to a client that holds nothing more).
    const other = await createClient(database, server.config, { name: 'Other', redirectUris: [], grantTypes: ['client_credentials'] });
    const within = await integrator.call('PUT', `/apis/${mgmt()}/clients/${other.client_id}`, { body: { scopes: ['apis:write'] } });
    assert.equal(within.status, 200);
    // Nor may it take away the access of a client that holds more than it does.
    assert.equal((await integrator.call('DELETE', `/apis/${mgmt()}/clients/${root.clientId}`)).status, 403);
    assert.equal((await root.call('GET', '/keys')).status, 200);
  });

  it('does not let clients:write take over a client that holds more management scopes', async () => {
    const helpdesk = await bootstrapAdminClient(server, database, 'Helpdesk', ['clients:write', 'clients:read']);
    for (const [method, path, body] of [
      ['POST', `/clients/${root.clientId}/secret`, undefined],
      ['PATCH', `/clients/${root.clientId}`, { token_endpoint_auth_method: 'client_secret_post' }],
      ['DELETE', `/clients/${root.clientId}`, undefined],
    ] as const) {
      const answer = await helpdesk.call(method, path, { body });
      assert.equal(answer.status, 403, `${method} ${path}`);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:forbidden');
    }
    // The root client's secret still works.
    assert.equal(typeof (await root.newToken()), 'string');
    // Clients without management access are its to manage.
    const app = await createClient(database, server.config, { name: 'Plain app' });
    assert.equal((await helpdesk.call('POST', `/clients/${app.client_id}/secret`)).status, 200);
  });

  it('ends admin access withdrawn on another instance at once, even if a cached grant there still mints tokens', {
    skip: ON_PGLITE && 'PGlite: one process owns the database, so there is no second instance (runs with DATABASE_URL)',
  }, async () => {
    const worker = await bootstrapAdminClient(server, database, 'Worker', ['users:read']);
    // A second instance of the same issuer on the same database, with caches of its own.
    const otherDatabase = await openDatabase({ databaseUrl: database.url, poolMax: 2 });
    const other = await startTestServer(otherDatabase, { ISSUER: server.issuer });
    try {
      // Tokens straight from the other instance's token endpoint (its issuer is the first's).
      const mintAtOther = async () => {
        const answer = await fetch(`${other.url}/token`, {
          method: 'POST',
          headers: { authorization: basicAuth(worker.clientId, worker.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            resource: managementApiIdentifier(server.issuer),
            scope: 'users:read',
          }),
        });
        assert.equal(answer.status, 200);
        return ((await answer.json()) as { access_token: string }).access_token;
      };
      await mintAtOther(); // the other instance now caches the worker's access
      assert.equal((await root.call('DELETE', `/apis/${mgmt()}/clients/${worker.clientId}`)).status, 204);
      const minted = await mintAtOther(); // still allowed by the other instance's cache
      const answer = await worker.call('GET', '/users', { token: minted });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.detail, 'The client no longer has access to the management API');
    } finally {
      await other.close();
      await otherDatabase.close();
    }
  });

  it('refuses the tokens and sessions of a suspended user even where they were not deleted (a straggler)', async () => {
    await createAlice(database);
    const app = await createClient(database, server.config, { name: 'Straggler app' });
    const config = await discover(server.issuer, app.client_id, app.client_secret);
    const tokens = await signInWithOfflineAccess(config, ALICE.email, ALICE.password);
    // Suspended behind the service's back: only the flag, every token still in place.
    await database.db('users').where('email', ALICE.email).update({ suspended_at: database.db.fn.now() });
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token as string), { error: 'invalid_grant' });
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck), { status: 401 });
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
  });

  it('answers a NUL byte in a path or query parameter with 400, not 500', async () => {
    for (const path of ['/users/a%00b', '/clients/a%00', '/events?subject=a%00', '/audit-events?type=%00']) {
      const answer = await root.call('GET', path);
      assert.equal(answer.status, 400, path);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:invalid-input');
    }
  });

  it('compares If-Match strongly, and refuses it where nothing is versioned', async () => {
    const user = await root.call('POST', '/users', { body: { email: 'weak@example.com' } });
    const etag = user.headers.get('etag') as string;
    const weak = await root.call('PATCH', `/users/${user.body.id}`, {
      body: { profile: { name: 'W' } },
      headers: { 'if-match': `W/${etag}` },
    });
    assert.equal(weak.status, 412);
    const unversioned = await root.call('POST', '/keys/rotate', { body: {}, headers: { 'if-match': etag } });
    assert.equal(unversioned.status, 400);
    assert.match(unversioned.body.detail, /does not take If-Match/);

    const api = 'https://versioned.api.test';
    assert.equal((await root.call('POST', '/apis', { body: { identifier: api, name: 'Versioned' } })).status, 201);
    const read = await root.call('GET', `/apis/${encodeURIComponent(api)}`);
    const apiTag = read.headers.get('etag') as string;
    assert.match(apiTag, /^"[\w-]+"$/);
    await root.call('PUT', `/apis/${encodeURIComponent(api)}/clients/${root.clientId}`, { body: {} });
    const stale = await root.call('DELETE', `/apis/${encodeURIComponent(api)}`, { headers: { 'if-match': apiTag } });
    assert.equal(stale.status, 412);
    const fresh = (await root.call('GET', `/apis/${encodeURIComponent(api)}`)).headers.get('etag') as string;
    assert.equal((await root.call('DELETE', `/apis/${encodeURIComponent(api)}`, { headers: { 'if-match': fresh } })).status, 204);
  });
});
