// Machine-to-machine: client credentials with resource indicators (RFC 8707). JWT access tokens
// (RFC 9068) are verified against our JWKS as an API would; opaque ones through introspection.
// Key rotation keeps tokens signed by the retired key verifiable. Without `resource`, a token is
// for the client's default API or not issued at all: no audience-less tokens.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/fixtures.ts';
import { discover } from '../helpers/relyingParty.ts';
import { createApi, grantApiAccess, setResourceServerClient } from '../../src/apis/index.ts';
import { operator } from '../helpers/fixtures.ts';
import { commandContext } from '../../src/cli/context.ts';
import { rotateKeys } from '../../src/oidc/keys.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { runCommand } from '../../src/cli/run.ts';

const ES_API = 'https://orders.api.test';
const RS_API = 'https://billing.api.test';
const OPAQUE_API = 'https://legacy.api.test';
const ADMIN_API = 'https://admin.api.test';

describe('client credentials with resource indicators', () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;
  let clientId: string;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    await createApi(operator(database), {
      identifier: ES_API,
      name: 'Orders',
      scopes: ['orders:read', 'orders:write'],
      signing_alg: 'ES256',
      access_token_ttl: 600,
    });
    await createApi(operator(database), { identifier: RS_API, name: 'Billing', scopes: ['billing:read'], signing_alg: 'RS256' });
    await createApi(operator(database), { identifier: OPAQUE_API, name: 'Legacy', scopes: ['legacy'], access_token_format: 'opaque' });
    const registered = await createClient(database, server.config, {
      name: 'Worker',
      redirectUris: [],
      grantTypes: ['client_credentials'],
      postLogoutRedirectUris: [],
    });
    clientId = registered.client_id;
    config = await discover(server.issuer, clientId, registered.client_secret);
    for (const api of [ES_API, RS_API, OPAQUE_API]) await grantApiAccess(operator(database), api, { client_id: clientId, scopes: null });
    await createApi(operator(database), { identifier: ADMIN_API, name: 'Admin', scopes: ['admin'] });
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const jwks = () => createRemoteJWKSet(new URL('/jwks', server.issuer));

  async function verify(token: string, audience: string) {
    return jwtVerify(token, jwks(), { issuer: server.issuer, audience, typ: 'at+jwt' });
  }

  it('issues an ES256 JWT access token that verifies against JWKS', async () => {
    const tokens = await client.clientCredentialsGrant(config, { resource: ES_API, scope: 'orders:read' });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.expires_in, 600);
    const { payload, protectedHeader } = await verify(tokens.access_token, ES_API);
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.client_id, clientId);
    assert.equal(payload.scope, 'orders:read');
    assert.equal(payload.sub, clientId);
  });

  it('issues an RS256 JWT for an API registered with RS256', async () => {
    const tokens = await client.clientCredentialsGrant(config, { resource: RS_API, scope: 'billing:read' });
    const { protectedHeader, payload } = await verify(tokens.access_token, RS_API);
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.scope, 'billing:read');
  });

  it('issues an opaque token for an opaque API, active on introspection', async () => {
    const tokens = await client.clientCredentialsGrant(config, { resource: OPAQUE_API, scope: 'legacy' });
    assert.doesNotMatch(tokens.access_token, /^ey/);
    const introspection = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(introspection.active, true);
    assert.equal(introspection.aud, OPAQUE_API);
    assert.equal(introspection.scope, 'legacy');
  });

  it("lets an API's client introspect another client's token; only the owner revokes it", async () => {
    const tokens = await client.clientCredentialsGrant(config, { resource: OPAQUE_API, scope: 'legacy' });
    const api = await createClient(database, server.config, {
      name: 'Legacy API',
      redirectUris: [],
      grantTypes: ['client_credentials'],
      postLogoutRedirectUris: [],
    });
    const apiConfig = await discover(server.issuer, api.client_id, api.client_secret);
    // RFC 7662: the API checks the token it was handed, once it is known as the API's client.
    assert.deepEqual(await client.tokenIntrospection(apiConfig, tokens.access_token), { active: false });
    await setResourceServerClient(operator(database), OPAQUE_API, api.client_id);
    const seen = await client.tokenIntrospection(apiConfig, tokens.access_token);
    assert.equal(seen.active, true);
    assert.equal(seen.client_id, clientId);
    // RFC 7009 2.1: a token is revoked only by the client it was issued to.
    await assert.rejects(
      client.tokenRevocation(apiConfig, tokens.access_token),
      (e: client.ResponseBodyError) =>
        e.error === 'invalid_request' && e.error_description === 'client is not authorized to revoke the presented token',
    );
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
    // A public client (a browser or mobile app) learns nothing about tokens not issued to it.
    const app = await createClient(database, server.config, {
      name: 'Mobile app',
      authMethod: 'none',
      applicationType: 'native',
      redirectUris: ['http://127.0.0.1/callback'],
      postLogoutRedirectUris: [],
    });
    const appConfig = await discover(server.issuer, app.client_id);
    assert.deepEqual(await client.tokenIntrospection(appConfig, tokens.access_token), { active: false });

    await client.tokenRevocation(config, tokens.access_token);
    assert.equal((await client.tokenIntrospection(apiConfig, tokens.access_token)).active, false);
  });

  it('refuses a request without resource from a client that has no default API', async () => {
    await assert.rejects(
      client.clientCredentialsGrant(config, { scope: 'orders:read' }),
      (e: client.ResponseBodyError) =>
        e.error === 'invalid_target' && e.error_description === 'a resource parameter is required: this client has no default API',
    );
    await assert.rejects(
      client.clientCredentialsGrant(config, {}),
      (e: client.ResponseBodyError) =>
        e.error === 'invalid_target' && e.error_description === 'a resource parameter is required: this client has no default API',
    );
  });

  it("issues a token for the client's default API when the request names no resource", async () => {
    const defaulted = await createClient(database, server.config, {
      name: 'Defaulted worker',
      redirectUris: [],
      grantTypes: ['client_credentials'],
      postLogoutRedirectUris: [],
      defaultApi: ES_API,
    });
    const worker = await discover(server.issuer, defaulted.client_id, defaulted.client_secret);
    // The default names the audience; access to it is still granted separately.
    await assert.rejects(
      client.clientCredentialsGrant(worker, { scope: 'orders:read' }),
      (e: client.ResponseBodyError) => e.error === 'invalid_target' && e.error_description === `client is not allowed to access ${ES_API}`,
    );
    await grantApiAccess(operator(database), ES_API, { client_id: defaulted.client_id, scopes: null });
    const tokens = await client.clientCredentialsGrant(worker, { scope: 'orders:read' });
    const { payload } = await verify(tokens.access_token, ES_API);
    assert.equal(payload.aud, ES_API);
    assert.equal(payload.scope, 'orders:read');
    // An explicit resource still wins over the default.
    await grantApiAccess(operator(database), RS_API, { client_id: defaulted.client_id, scopes: null });
    const explicit = await client.clientCredentialsGrant(worker, { resource: RS_API, scope: 'billing:read' });
    assert.equal((await verify(explicit.access_token, RS_API)).payload.aud, RS_API);
  });

  it('refuses an unknown resource with invalid_target', async () => {
    await assert.rejects(
      client.clientCredentialsGrant(config, { resource: 'https://unknown.api.test', scope: 'x' }),
      (e: client.ResponseBodyError) => e.error === 'invalid_target',
    );
  });

  it('refuses an API the client was not granted access to', async () => {
    await assert.rejects(
      client.clientCredentialsGrant(config, { resource: ADMIN_API, scope: 'admin' }),
      (e: client.ResponseBodyError) =>
        e.error === 'invalid_target' && e.error_description === `client is not allowed to access ${ADMIN_API}`,
    );
  });

  it('issues only the scopes granted to the client', async () => {
    const limited = await createClient(database, server.config, {
      name: 'Reader',
      redirectUris: [],
      grantTypes: ['client_credentials'],
      postLogoutRedirectUris: [],
    });
    await grantApiAccess(operator(database), ES_API, { client_id: limited.client_id, scopes: ['orders:read'] });
    const reader = await discover(server.issuer, limited.client_id, limited.client_secret);
    const tokens = await client.clientCredentialsGrant(reader, { resource: ES_API, scope: 'orders:read orders:write' });
    const { payload } = await verify(tokens.access_token, ES_API);
    assert.equal(payload.scope, 'orders:read');
    const ungranted = await client.clientCredentialsGrant(reader, { resource: ES_API, scope: 'orders:write' });
    // RFC 6749 3.3: the server may issue a narrower scope than requested; here, none.
    assert.equal((await verify(ungranted.access_token, ES_API)).payload.scope, undefined);
  });

  it('drops scopes the API does not define', async () => {
    const tokens = await client.clientCredentialsGrant(config, { resource: ES_API, scope: 'orders:read admin' });
    const { payload } = await verify(tokens.access_token, ES_API);
    assert.equal(payload.scope, 'orders:read');
  });

  it('rotates keys at once with --now: new tokens use the new key, tokens from the retired key still verify', async () => {
    const before = await client.clientCredentialsGrant(config, { resource: ES_API, scope: 'orders:read' });
    const oldKid = decodeProtectedHeader(before.access_token).kid;

    const outcome = await runCommand(
      commandContext(server.config, database, () => server.reloadKeys()),
      ['keys', 'rotate', '--now', '--json'],
    );
    assert.equal(outcome.exitCode, 0, outcome.stderr);
    const rotation = JSON.parse(outcome.stdout) as { created: { kid: string; alg: string | null }[]; retired: { kid: string }[] };
    assert.ok(rotation.retired.some((k) => k.kid === oldKid));

    const after = await client.clientCredentialsGrant(config, { resource: ES_API, scope: 'orders:read' });
    const newKid = decodeProtectedHeader(after.access_token).kid;
    assert.notEqual(newKid, oldKid);
    assert.ok(rotation.created.some((k) => k.kid === newKid && k.alg === 'ES256'));

    const published = (await (await fetch(new URL('/jwks', server.issuer))).json()) as { keys: { kid: string; d?: string }[] };
    assert.ok(
      published.keys.some((k) => k.kid === oldKid),
      'retired key still published',
    );
    assert.ok(
      published.keys.some((k) => k.kid === newKid),
      'new key published',
    );
    assert.ok(
      published.keys.every((k) => k.d === undefined),
      'no private parts in JWKS',
    );
    await verify(before.access_token, ES_API);
    await verify(after.access_token, ES_API);
  });

  it('publishes a rotated key before any instance signs with it', async () => {
    const jwks = async () =>
      ((await (await fetch(new URL('/jwks', server.issuer))).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const signingKid = async () =>
      decodeProtectedHeader((await client.clientCredentialsGrant(config, { resource: ES_API, scope: 'orders:read' })).access_token).kid;
    const oldKid = await signingKid();
    const rotation = await rotateKeys(
      database.db,
      createSecretBox(TEST_SECRET_KEY),
      { signingRetentionSeconds: 3600, cookieRetentionSeconds: 3600, activationDelaySeconds: 60 },
      ['ES256'],
    );
    const newKid = rotation.created.find((k) => k.alg === 'ES256')?.kid as string;
    assert.ok(newKid);

    assert.equal(await server.reloadKeys(), true, 'the instance notices the new key');
    assert.ok((await jwks()).includes(newKid), 'the new key is published during the delay');
    assert.equal(await signingKid(), oldKid, 'but the retired key still signs');

    // The delay passes (moved here rather than waited for): the next reload switches signing.
    await database.db('keys').where('kid', newKid).update({ activates_at: database.db.fn.now() });
    assert.equal(await server.reloadKeys(), true);
    assert.equal(await signingKid(), newKid);
    assert.ok((await jwks()).includes(oldKid as string), 'the retired key stays published');
  });

  it('stops publishing a retired key once its retention has passed', async () => {
    const retired = await database.db('keys').where({ state: 'retired', kind: 'signing' }).select('kid');
    assert.ok(retired.length > 0);
    await database
      .db('keys')
      .where({ state: 'retired' })
      .update({ expires_at: new Date(Date.now() - 1000) });
    await server.reloadKeys();
    const published = (await (await fetch(new URL('/jwks', server.issuer))).json()) as { keys: { kid: string }[] };
    for (const { kid } of retired) assert.ok(!published.keys.some((k) => k.kid === kid), `${kid} no longer published`);
  });

  it('keeps signing keys encrypted at rest', async () => {
    const rows = await database.db('keys').select('secret');
    for (const { secret } of rows) {
      assert.match(secret, /^v2\.[\w-]{12}\./, 'sealed format v2, naming the key that sealed it');
      assert.doesNotMatch(secret, /"d"|"kty"/);
    }
  });
});
