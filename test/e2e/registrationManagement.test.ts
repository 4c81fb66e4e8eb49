// Client registration management (RFC 7592): read, update and delete with the registration
// access token; the stored secret digest is never shown and the client's own secret still works.
// Registration (RFC 7591) accepts the scopes of registered APIs and a default API in a client's
// metadata, and refuses what only an operator may set.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { basicAuth } from '../helpers/relyingParty.ts';
import { createApi, grantApiAccess } from '../../src/apis/index.ts';
import { operator } from '../helpers/fixtures.ts';

const INITIAL_ACCESS_TOKEN = 'initial-access-token-management';
const ORDERS_API = 'https://orders.api.test';

interface Registration {
  client_id: string;
  client_secret?: string;
  registration_access_token: string;
  registration_client_uri: string;
  client_name?: string;
  redirect_uris: string[];
  scope?: string;
  default_resource?: string;
}

describe('client registration management (RFC 7592)', () => {
  let database: TestDatabase;
  let server: TestServer;
  let registration: Registration;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { INITIAL_ACCESS_TOKEN });
    await createApi(operator(database), {
      identifier: ORDERS_API,
      name: 'Orders',
      scopes: ['orders:read', 'orders:write'],
      access_token_format: 'opaque',
    });
    const response = await register({
      client_name: 'Managed',
      redirect_uris: ['https://rp.example/cb'],
      grant_types: ['authorization_code', 'client_credentials'],
    });
    assert.equal(response.status, 201);
    registration = (await response.json()) as Registration;
    await grantApiAccess(operator(database), ORDERS_API, { client_id: registration.client_id, scopes: null });
  });

  const register = (metadata: Record<string, unknown>) =>
    fetch(new URL('/reg', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      body: JSON.stringify(metadata),
    });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const manage = (
    method: string,
    body?: unknown,
    token = registration.registration_access_token,
    uri = registration.registration_client_uri,
  ) =>
    fetch(uri, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  const clientCredentials = (
    secret: string,
    params: Record<string, string> = { resource: ORDERS_API },
    clientId = registration.client_id,
  ) =>
    fetch(new URL('/token', server.issuer), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(clientId, secret),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
    });

  const clientCount = async () => Number((await database.db('clients').count('* as n').first())?.n);

  it('accepts the scopes of registered APIs in scope, stores and shows them, and issues no others', async () => {
    const response = await register({
      client_name: 'Order reader',
      redirect_uris: ['https://rp.example/cb'],
      grant_types: ['authorization_code', 'client_credentials'],
      scope: 'openid orders:read',
    });
    assert.equal(response.status, 201, await response.clone().text());
    const reader = (await response.json()) as Registration & Record<string, unknown>;
    assert.equal(reader.scope, 'openid orders:read');
    assert.equal(reader.api_scope, undefined);
    assert.equal((await database.db('clients').where('client_id', reader.client_id).first()).scope, 'openid orders:read');
    const read = await fetch(reader.registration_client_uri, { headers: { authorization: `Bearer ${reader.registration_access_token}` } });
    assert.equal(((await read.json()) as Registration).scope, 'openid orders:read');

    // Granted every scope of the API, the client still gets only the API scopes it registered.
    await grantApiAccess(operator(database), ORDERS_API, { client_id: reader.client_id, scopes: null });
    const token = await clientCredentials(
      reader.client_secret as string,
      { resource: ORDERS_API, scope: 'orders:read orders:write' },
      reader.client_id,
    );
    assert.equal(token.status, 200);
    assert.equal(((await token.json()) as { scope?: string }).scope, 'orders:read');

    // RFC 7592: the client updates its scope; what it sends is what it has.
    const update = await fetch(reader.registration_client_uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${reader.registration_access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: reader.client_id,
        redirect_uris: ['https://rp.example/cb'],
        grant_types: ['authorization_code', 'client_credentials'],
        scope: 'orders:read orders:write openid',
        api_scope: 'ignored:anyway',
      }),
    });
    assert.equal(update.status, 200, await update.clone().text());
    assert.equal(((await update.json()) as Registration).scope, 'openid orders:read orders:write');
    assert.equal((await database.db('clients').where('client_id', reader.client_id).first()).scope, 'openid orders:read orders:write');
  });

  it('accepts the claim scopes (phone, address, consents), and refuses a profile:<name> scope the profile schema does not declare', async () => {
    const response = await register({
      client_name: 'Shop',
      redirect_uris: ['https://rp.example/cb'],
      scope: 'openid phone address consents',
    });
    assert.equal(response.status, 201, await response.clone().text());
    assert.equal(((await response.json()) as Registration).scope, 'openid phone address consents');
    const before = await clientCount();
    const unknown = await register({ client_name: 'Shop', redirect_uris: ['https://rp.example/cb'], scope: 'openid profile:shop' });
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { error: string }).error, 'invalid_client_metadata');
    assert.equal(await clientCount(), before);
  });

  it('refuses a scope that is neither an OpenID scope nor one of a registered API', async () => {
    const before = await clientCount();
    const response = await register({
      client_name: 'Greedy',
      redirect_uris: ['https://rp.example/cb'],
      scope: 'openid orders:read billing:admin',
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: 'invalid_client_metadata',
      error_description: 'scope must only contain OpenID scopes and scopes of registered APIs; not known: billing:admin',
    });
    assert.equal(await clientCount(), before);
  });

  it('accepts a registered API as default_resource, the audience of client credentials without resource', async () => {
    const response = await register({
      client_name: 'Defaulted worker',
      redirect_uris: [],
      response_types: [],
      grant_types: ['client_credentials'],
      default_resource: ORDERS_API,
    });
    assert.equal(response.status, 201, await response.clone().text());
    const worker = (await response.json()) as Registration & { client_secret: string };
    assert.equal(worker.default_resource, ORDERS_API);
    assert.equal((await database.db('clients').where('client_id', worker.client_id).first()).default_resource, ORDERS_API);
    await grantApiAccess(operator(database), ORDERS_API, { client_id: worker.client_id, scopes: null });
    const token = await clientCredentials(worker.client_secret, { scope: 'orders:read' }, worker.client_id);
    assert.equal(token.status, 200);
    const { access_token } = (await token.json()) as { access_token: string };
    const introspection = await fetch(new URL('/token/introspection', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(worker.client_id, worker.client_secret) },
      body: new URLSearchParams({ token: access_token }),
    });
    assert.equal(((await introspection.json()) as { aud?: string }).aud, ORDERS_API);
  });

  it('refuses a default_resource that is not a registered API', async () => {
    const before = await clientCount();
    const response = await register({
      client_name: 'Lost',
      redirect_uris: ['https://rp.example/cb'],
      default_resource: 'https://nowhere.api.test',
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: 'invalid_client_metadata',
      error_description: 'default_resource https://nowhere.api.test is not a registered API',
    });
    const malformed = await register({ client_name: 'Lost', redirect_uris: ['https://rp.example/cb'], default_resource: 'not a uri' });
    assert.deepEqual(await malformed.json(), {
      error: 'invalid_client_metadata',
      error_description: 'default_resource must be an absolute URI without a fragment',
    });
    assert.equal(await clientCount(), before);
  });

  it('refuses a registration that lets itself off PKCE: only an operator may', async () => {
    const before = await clientCount();
    const response = await register({ client_name: 'Legacy', redirect_uris: ['https://rp.example/cb'], allow_code_without_pkce: true });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: 'invalid_client_metadata',
      error_description: 'allow_code_without_pkce can only be set by an operator (gatehouse clients create --allow-code-without-pkce)',
    });
    assert.equal(await clientCount(), before);
    // Asking for the default is no request for anything.
    const plain = await register({ client_name: 'Modern', redirect_uris: ['https://rp.example/cb'], allow_code_without_pkce: false });
    assert.equal(plain.status, 201);
    assert.equal(((await plain.json()) as Record<string, unknown>).allow_code_without_pkce, undefined);
  });

  it('lets a registration turn sign-up off for itself, but not let unverified emails in: only an operator may', async () => {
    const before = await clientCount();
    const lax = await register({ client_name: 'Lax', redirect_uris: ['https://rp.example/cb'], require_verified_email: false });
    assert.equal(lax.status, 400);
    assert.deepEqual(await lax.json(), {
      error: 'invalid_client_metadata',
      error_description: 'require_verified_email can only be turned off by an operator (gatehouse clients create --allow-unverified-email)',
    });
    const malformed = await register({ client_name: 'Odd', redirect_uris: ['https://rp.example/cb'], allow_signup: 'no' });
    assert.equal(malformed.status, 400);
    assert.deepEqual(await malformed.json(), { error: 'invalid_client_metadata', error_description: 'allow_signup must be a boolean' });
    assert.equal(await clientCount(), before);
    const closed = await register({ client_name: 'Closed', redirect_uris: ['https://rp.example/cb'], allow_signup: false });
    assert.equal(closed.status, 201);
    const body = (await closed.json()) as Registration & { allow_signup?: boolean };
    assert.equal(body.allow_signup, false);
    const row = await database.db('clients').where('client_id', body.client_id).first('allow_signup', 'require_verified_email');
    assert.deepEqual(row, { allow_signup: false, require_verified_email: true });
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

  it('refuses that switch however the path is spelt (oidc-provider routes any case and a trailing slash)', async () => {
    const canonical = new URL(registration.registration_client_uri);
    for (const path of [canonical.pathname.replace('/reg/', '/REG/'), `${canonical.pathname}/`]) {
      const response = await manage(
        'PUT',
        {
          client_id: registration.client_id,
          redirect_uris: ['https://rp.example/cb'],
          grant_types: ['authorization_code', 'client_credentials'],
          token_endpoint_auth_method: 'client_secret_jwt',
        },
        registration.registration_access_token,
        new URL(path, canonical).toString(),
      );
      assert.equal(response.status, 400, path);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata', path);
    }
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
