// Who learns what from introspection (RFC 7662 §4): a token's own client, and the resource server
// client of the API a token is for. Every other client, however it was registered, gets
// {"active":false}, exactly as for a token that does not exist.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ALICE, createAlice, createClient } from '../helpers/fixtures.ts';
import { discover, signInWithOfflineAccess } from '../helpers/relyingParty.ts';
import { createApi, grantApiAccess } from '../../src/apis/index.ts';
import { operator } from '../helpers/fixtures.ts';
import { commandContext } from '../../src/cli/context.ts';
import { runCommand } from '../../src/cli/run.ts';

const INITIAL_ACCESS_TOKEN = 'initial-access-token-introspection';
const LEDGER_API = 'https://ledger.api.test';
const AUDIT_API = 'https://audit.api.test';
const INACTIVE = { active: false };

describe('introspection policy', () => {
  let database: TestDatabase;
  let server: TestServer;
  let worker: client.Configuration; // gets client-credentials tokens for the ledger
  let ledger: client.Configuration; // the ledger API's own client
  let auditor: client.Configuration; // the resource server of another API
  let stranger: client.Configuration; // self-registered with the initial access token
  let mobile: client.Configuration; // a public client
  let app: client.Configuration; // a web app a user signed in to
  let workerToken: string;
  let userTokens: { access_token: string; refresh_token: string };

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { INITIAL_ACCESS_TOKEN });
    await createAlice(database);
    const m2m = { redirectUris: [], grantTypes: ['client_credentials'], postLogoutRedirectUris: [] };
    const workerClient = await createClient(database, server.config, { ...m2m, name: 'Worker' });
    const ledgerClient = await createClient(database, server.config, { ...m2m, name: 'Ledger API' });
    const auditorClient = await createClient(database, server.config, { ...m2m, name: 'Audit API' });
    const appClient = await createClient(database, server.config, { name: 'Web app' });
    const mobileClient = await createClient(database, server.config, {
      name: 'Mobile',
      authMethod: 'none',
      applicationType: 'native',
      redirectUris: ['http://127.0.0.1/callback'],
      postLogoutRedirectUris: [],
    });
    await createApi(operator(database), {
      identifier: LEDGER_API,
      name: 'Ledger',
      scopes: ['ledger:read'],
      access_token_format: 'opaque',
      resource_server_client_id: ledgerClient.client_id,
    });
    await createApi(operator(database), {
      identifier: AUDIT_API,
      name: 'Audit',
      scopes: ['audit:read'],
      access_token_format: 'opaque',
      resource_server_client_id: auditorClient.client_id,
    });
    await grantApiAccess(operator(database), LEDGER_API, { client_id: workerClient.client_id, scopes: null });

    worker = await discover(server.issuer, workerClient.client_id, workerClient.client_secret);
    ledger = await discover(server.issuer, ledgerClient.client_id, ledgerClient.client_secret);
    auditor = await discover(server.issuer, auditorClient.client_id, auditorClient.client_secret);
    app = await discover(server.issuer, appClient.client_id, appClient.client_secret);
    mobile = await discover(server.issuer, mobileClient.client_id);
    stranger = await client.dynamicClientRegistration(
      new URL(server.issuer),
      { client_name: 'Anyone', redirect_uris: [], response_types: [], grant_types: ['client_credentials'] },
      undefined,
      { initialAccessToken: INITIAL_ACCESS_TOKEN, execute: [client.allowInsecureRequests] },
    );

    workerToken = (await client.clientCredentialsGrant(worker, { resource: LEDGER_API, scope: 'ledger:read' })).access_token;
    userTokens = await signIn(app);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function signIn(config: client.Configuration) {
    const tokens = await signInWithOfflineAccess(config, ALICE.email, ALICE.password);
    assert.ok(tokens.refresh_token);
    return { access_token: tokens.access_token, refresh_token: tokens.refresh_token };
  }

  it('tells a client about its own tokens, refresh tokens included', async () => {
    const own = await client.tokenIntrospection(worker, workerToken);
    assert.equal(own.active, true);
    assert.equal(own.aud, LEDGER_API);
    const refresh = await client.tokenIntrospection(app, userTokens.refresh_token);
    assert.equal(refresh.active, true);
    assert.equal(refresh.client_id, app.clientMetadata().client_id);
    assert.equal((await client.tokenIntrospection(app, userTokens.access_token)).active, true);
  });

  it("tells an API's resource server client about the tokens issued for that API", async () => {
    const seen = await client.tokenIntrospection(ledger, workerToken);
    assert.equal(seen.active, true);
    assert.equal(seen.aud, LEDGER_API);
    assert.equal(seen.client_id, worker.clientMetadata().client_id);
    assert.equal(seen.scope, 'ledger:read');
  });

  it("tells a self-registered client nothing about another client's tokens", async () => {
    assert.deepEqual(await client.tokenIntrospection(stranger, workerToken), INACTIVE);
    assert.deepEqual(await client.tokenIntrospection(stranger, userTokens.refresh_token), INACTIVE);
    assert.deepEqual(await client.tokenIntrospection(stranger, userTokens.access_token), INACTIVE);
  });

  it('tells the resource server of another API nothing', async () => {
    assert.deepEqual(await client.tokenIntrospection(auditor, workerToken), INACTIVE);
  });

  it("tells an API's client nothing about refresh tokens or tokens for other audiences", async () => {
    // Refresh tokens have no audience: only their own client may look at them.
    assert.deepEqual(await client.tokenIntrospection(ledger, userTokens.refresh_token), INACTIVE);
    assert.deepEqual(await client.tokenIntrospection(ledger, userTokens.access_token), INACTIVE);
  });

  it('tells a public client nothing about tokens not issued to it', async () => {
    assert.deepEqual(await client.tokenIntrospection(mobile, workerToken), INACTIVE);
    assert.deepEqual(await client.tokenIntrospection(mobile, userTokens.refresh_token), INACTIVE);
  });

  it('stops telling an API client once it is no longer the resource server', async () => {
    const ctx = commandContext(server.config, database);
    const cleared = await runCommand(ctx, ['apis', 'resource-server', '--api', LEDGER_API, '--none', '--json']);
    assert.equal(cleared.exitCode, 0, cleared.stderr);
    assert.equal(JSON.parse(cleared.stdout).resource_server_client_id, null);
    assert.deepEqual(await client.tokenIntrospection(ledger, workerToken), INACTIVE);
    assert.equal((await client.tokenIntrospection(worker, workerToken)).active, true);

    const named = await runCommand(ctx, ['apis', 'resource-server', '--api', LEDGER_API, '--client', ledger.clientMetadata().client_id]);
    assert.equal(named.exitCode, 0, named.stderr);
    assert.equal((await client.tokenIntrospection(ledger, workerToken)).active, true);
  });
});
