// Client registration management (RFC 7592): read, update and delete with the registration
// access token; the stored secret digest is never shown and the client's own secret still works.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { basicAuth } from '../helpers/relyingParty.ts';

const INITIAL_ACCESS_TOKEN = 'initial-access-token-management';

interface Registration {
  client_id: string;
  client_secret?: string;
  registration_access_token: string;
  registration_client_uri: string;
  client_name?: string;
  redirect_uris: string[];
}

describe('client registration management (RFC 7592)', () => {
  let database: TestDatabase;
  let server: TestServer;
  let registration: Registration;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { INITIAL_ACCESS_TOKEN });
    const response = await fetch(new URL('/reg', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      body: JSON.stringify({
        client_name: 'Managed',
        redirect_uris: ['https://rp.example/cb'],
        grant_types: ['authorization_code', 'client_credentials'],
      }),
    });
    assert.equal(response.status, 201);
    registration = (await response.json()) as Registration;
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const manage = (method: string, body?: unknown, token = registration.registration_access_token) =>
    fetch(registration.registration_client_uri, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  const clientCredentials = (secret: string) =>
    fetch(new URL('/token', server.issuer), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(registration.client_id, secret),
      },
      body: 'grant_type=client_credentials',
    });

  it('reads the registration without exposing the stored secret digest', async () => {
    const response = await manage('GET');
    assert.equal(response.status, 200);
    const body = (await response.json()) as Registration;
    assert.equal(body.client_id, registration.client_id);
    assert.equal(body.client_name, 'Managed');
    assert.equal(body.client_secret, undefined);
  });

  it('refuses management with a wrong registration access token', async () => {
    const response = await manage('GET', undefined, 'not-the-token');
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_token');
  });

  it('updates the registration when the client presents its own secret, and rotates the access token', async () => {
    const response = await manage('PUT', {
      client_id: registration.client_id,
      client_secret: registration.client_secret,
      client_name: 'Managed, renamed',
      redirect_uris: ['https://rp.example/cb', 'https://rp.example/cb2'],
      grant_types: ['authorization_code', 'client_credentials'],
    });
    assert.equal(response.status, 200, await response.clone().text());
    const updated = (await response.json()) as Registration;
    assert.equal(updated.client_name, 'Managed, renamed');
    assert.equal(updated.client_secret, undefined, 'the stored digest is not handed out as the secret');
    assert.notEqual(updated.registration_access_token, registration.registration_access_token);
    registration = { ...registration, registration_access_token: updated.registration_access_token };
    const row = await database.db('clients').where('client_id', registration.client_id).first();
    assert.equal(row.client_name, 'Managed, renamed');
    assert.deepEqual(row.redirect_uris, ['https://rp.example/cb', 'https://rp.example/cb2']);
    assert.equal((await clientCredentials(registration.client_secret as string)).status, 200, 'the secret still works');
  });

  it('refuses an update that presents a wrong secret', async () => {
    const response = await manage('PUT', {
      client_id: registration.client_id,
      client_secret: 'wrong',
      redirect_uris: ['https://rp.example/cb'],
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: 'invalid_request',
      error_description: "provided client_secret does not match the authenticated client's one",
    });
  });

  it('refuses to switch the client to a symmetric use of its secret, which only exists as a digest', async () => {
    const response = await manage('PUT', {
      client_id: registration.client_id,
      redirect_uris: ['https://rp.example/cb'],
      grant_types: ['authorization_code', 'client_credentials'],
      token_endpoint_auth_method: 'client_secret_jwt',
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
    const row = await database.db('clients').where('client_id', registration.client_id).first();
    assert.equal(row.token_endpoint_auth_method, 'client_secret_basic');
  });

  it('answers a malformed update body with the RFC 6749 error', async () => {
    const response = await fetch(registration.registration_client_uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${registration.registration_access_token}`, 'content-type': 'application/json' },
      body: '{"client_id":',
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: 'invalid_request', error_description: 'failed to parse the request body' });
  });

  it('deletes the registration, after which the client cannot authenticate', async () => {
    assert.equal((await manage('DELETE')).status, 204);
    assert.equal(await database.db('clients').where('client_id', registration.client_id).first(), undefined);
    assert.equal((await clientCredentials(registration.client_secret as string)).status, 401);
  });
});
