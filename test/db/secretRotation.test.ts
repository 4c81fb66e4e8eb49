// Rotating SECRET_KEY against a real database: the keyring opens what the previous key sealed,
// `secrets rotate` moves everything to the new key in one transaction (or changes nothing),
// start-up names what is wrong when a key is missing, and a sealed value moved to another row
// opens nowhere but answers invalid_client, not a server error.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createAlice, createClient, operator } from '../helpers/fixtures.ts';
import { legacySeal } from '../helpers/legacySeal.ts';
import { loadConfig } from '../../src/config.ts';
import { commandContext } from '../../src/cli/context.ts';
import { runCommand } from '../../src/cli/run.ts';
import { clearReadCaches } from '../../src/db/readCache.ts';
import { createSecretBox, secretKeyId } from '../../src/secrets/secretBox.ts';
import { createClientStore } from '../../src/oidc/clients.ts';
import { KnexAdapter } from '../../src/oidc/adapter.ts';
import { ArtefactProtection } from '../../src/oidc/storedArtefacts.ts';
import { DamagedKeyError, SecretKeyMismatchError } from '../../src/server.ts';
import { enqueueMail } from '../../src/mail/index.ts';
import { payloadContext } from '../../src/mail/queue.ts';
import { pendingTotpEnrolment, startTotpEnrolment } from '../../src/mfa/totp.ts';

const KEY_A = 'first-secret-key-of-gatehouse-tests-0123456789';
const KEY_B = 'second-secret-key-of-gatehouse-tests-0123456789';
const KEY_C = 'unrelated-secret-key-of-gatehouse-tests-012345';
const ID_A = secretKeyId(KEY_A);
const ID_B = secretKeyId(KEY_B);

const keyring = (current: string, previous?: string): Record<string, string> => ({
  SECRET_KEY: current,
  ...(previous ? { SECRET_KEY_PREVIOUS: previous } : {}),
});

describe('rotating SECRET_KEY', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => database?.dispose());
  beforeEach(async () => {
    await truncateAll(database);
    await database.db('secret_key_handovers').delete();
  });

  const config = (current: string, previous?: string) =>
    loadConfig({ NODE_ENV: 'test', BCRYPT_COST: '4', DATA_DIR: '/nonexistent-test-data-dir', ...keyring(current, previous) });
  const cli = (argv: string[], current: string, previous?: string) => runCommand(commandContext(config(current, previous), database), argv);
  async function cliJson<T = Record<string, unknown>>(argv: string[], current: string, previous?: string): Promise<T> {
    const outcome = await cli([...argv, '--json'], current, previous);
    assert.equal(outcome.exitCode, 0, outcome.stdout + outcome.stderr);
    return JSON.parse(outcome.stdout) as T;
  }
  const sealedValues = async () => [
    ...(await database.db('keys').orderBy('kid').pluck('secret')),
    ...(await database.db('clients').whereLike('client_secret', 'enc:%').orderBy('client_id').pluck('client_secret')),
  ];
  const snapshot = async () => ({
    keys: await database.db('keys').select('kid', 'secret').orderBy('kid'),
    clients: await database.db('clients').select('client_id', 'client_secret').orderBy('client_id'),
  });
  async function withServer<T>(env: Record<string, string>, work: (server: TestServer) => Promise<T>): Promise<T> {
    const server = await startTestServer(database, env);
    try {
      return await work(server);
    } finally {
      await server.close();
    }
  }
  const jwksKids = (server: TestServer) =>
    fetch(new URL('/jwks', server.issuer))
      .then((r) => r.json() as Promise<{ keys: { kid: string }[] }>)
      .then((jwks) => jwks.keys.map((k) => k.kid).sort());
  /** A client authenticated with client_secret_jwt: its secret must open for this to work. */
  const symmetricClient = (server: TestServer) =>
    createClient(server.database, server.config, { authMethod: 'client_secret_jwt', grantTypes: ['client_credentials'], redirectUris: [] });
  async function tokenRequest(server: TestServer, clientId: string, secret: string) {
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(`${server.issuer}/token`)
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(secret));
    const response = await fetch(new URL('/token', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    });
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: (await response.json()) as Record<string, unknown>,
    };
  }

  // Past client authentication, whatever the grant then says (this client has no API to ask for).
  const authenticated = (result: { status: number; body: Record<string, unknown> }) =>
    result.status !== 401 && result.body.error !== 'invalid_client';

  it('opens with the previous key, re-seals everything under the new one, then starts without the previous key', async () => {
    const { kids, client } = await withServer(keyring(KEY_A), async (server) => ({
      kids: await jwksKids(server),
      client: await symmetricClient(server),
    }));
    assert.ok((await sealedValues()).every((v) => v.replace(/^enc:/, '').startsWith(`v2.${ID_A}.`)));

    await withServer(keyring(KEY_B, KEY_A), async (server) => {
      assert.deepEqual(await jwksKids(server), kids, 'the new keyring opens what the previous key sealed');
      assert.ok(authenticated(await tokenRequest(server, client.client_id, client.client_secret as string)));
    });

    // A mail still waiting to be sent, sealed with the previous key: rotated with the rest.
    await database.db.transaction((trx) =>
      enqueueMail(trx, createSecretBox(KEY_A), { to: 'waiting@example.com', template: 'password_changed', data: {} }),
    );
    // An authenticator app being added, its seed sealed with the previous key.
    const alice = await createAlice(database);
    const labels = { accountName: alice.email, issuer: 'Gatehouse' };
    const { secret } = await startTotpEnrolment(operator(database), { box: createSecretBox(KEY_A) }, alice.id, labels);
    const before = await cliJson(['secrets', 'status'], KEY_B, KEY_A);
    assert.deepEqual(before, {
      keyId: ID_B,
      previousKeyIds: [ID_A],
      tables: {
        keys: { previous: 3 },
        clients: { previous: 1 },
        mail_queue: { previous: 1 },
        totp_factors: { previous: 1 },
        connections: {},
      },
      unreadable: [],
      rotateNeeded: true,
      previousKeyNeeded: true,
    });

    assert.deepEqual(await cliJson(['secrets', 'rotate'], KEY_B, KEY_A), {
      keyId: ID_B,
      resealed: { keys: 3, clients: 1, mail_queue: 1, totp_factors: 1, connections: 0, oidc_payloads: 0 },
      unchanged: { keys: 0, clients: 0, mail_queue: 0, totp_factors: 0, connections: 0 },
    });
    const [waiting] = await database.db('mail_queue').select('id', 'payload');
    assert.deepEqual(JSON.parse(createSecretBox(KEY_B).open(waiting.payload, payloadContext(waiting.id))), {});
    const seed = await database.db('totp_factors').where('user_id', alice.id).first('secret');
    assert.ok(seed.secret.startsWith(`v2.${ID_B}.`));
    assert.equal((await pendingTotpEnrolment(database.db, { box: createSecretBox(KEY_B) }, alice.id, labels)).secret, secret);
    assert.ok((await sealedValues()).every((v) => v.replace(/^enc:/, '').startsWith(`v2.${ID_B}.`)));
    const audited = await database.db('audit_events').where('type', 'secrets.rotated').first();
    assert.deepEqual(audited.details, {
      keyId: ID_B,
      resealed: { keys: 3, clients: 1, mail_queue: 1, totp_factors: 1, connections: 0, oidc_payloads: 0 },
      actor: { type: 'cli' },
    });
    const event = await database.db('domain_events').where('type', 'gatehouse.secrets.rotated').first();
    assert.deepEqual(event.data, {
      keyId: ID_B,
      resealed: { keys: 3, clients: 1, mail_queue: 1, totp_factors: 1, connections: 0, oidc_payloads: 0 },
    });
    const after = await cliJson(['secrets', 'status'], KEY_B, KEY_A);
    assert.equal(after.rotateNeeded, false);
    assert.equal(after.previousKeyNeeded, false);
    assert.deepEqual(await cliJson(['secrets', 'rotate'], KEY_B, KEY_A), {
      keyId: ID_B,
      resealed: { keys: 0, clients: 0, mail_queue: 0, totp_factors: 0, connections: 0, oidc_payloads: 0 },
      unchanged: { keys: 3, clients: 1, mail_queue: 1, totp_factors: 1, connections: 0 },
    });
    const human = await cli(['secrets', 'rotate'], KEY_B);
    assert.match(
      human.stdout,
      /^keyId: +[\w-]{12}\nresealed: +\{"keys":0,"clients":0,"mail_queue":0,"totp_factors":0,"connections":0,"oidc_payloads":0\}\nunchanged: +\{"keys":3,"clients":1,"mail_queue":1,"totp_factors":1,"connections":0\}\n$/,
    );

    await withServer(keyring(KEY_B), async (server) => {
      assert.deepEqual(await jwksKids(server), kids, 'the same signing keys, now sealed with the new key only');
      assert.ok(authenticated(await tokenRequest(server, client.client_id, client.client_secret as string)));
    });
  });

  it('re-seals the sealed fields of sessions in progress, and drops one that opens with no key', async () => {
    await withServer(keyring(KEY_A), async () => {});
    const sessions = (key: string, previous?: string) =>
      new KnexAdapter('Session', database.db, new ArtefactProtection(createSecretBox(key, previous ? [previous] : [])));
    const session = { kind: 'Session', jti: 'session-value', uid: 'session-uid', accountId: 'u', iat: 1, exp: 4_000_000_000 };
    await sessions(KEY_A).upsert('session-value', session, 3600);
    await sessions(KEY_C).upsert('stray-session', { ...session, jti: 'stray-session', uid: 'stray-uid' }, 3600);

    const rotated = await cliJson<{ resealed: Record<string, number>; dropped: Record<string, number> }>(
      ['secrets', 'rotate'],
      KEY_B,
      KEY_A,
    );
    assert.deepEqual(rotated.resealed, { keys: 3, clients: 0, mail_queue: 0, totp_factors: 0, connections: 0, oidc_payloads: 1 });
    assert.deepEqual(rotated.dropped, { oidc_payloads: 1 });
    // With the new key alone, the session found by its uid still gives its value back.
    assert.equal((await sessions(KEY_B).findByUid('session-uid'))?.jti, 'session-value');
    assert.equal(await sessions(KEY_C).find('stray-session'), undefined, 'the row that opened with no key is gone');
  });

  it('refuses to start when SECRET_KEY_PREVIOUS is removed before rotating, and says so', async () => {
    await withServer(keyring(KEY_A), async () => {});
    await withServer(keyring(KEY_B, KEY_A), async () => {});
    const before = await snapshot();
    await assert.rejects(
      startTestServer(database, keyring(KEY_B)),
      (error: unknown) =>
        error instanceof SecretKeyMismatchError &&
        error.message ===
          `SECRET_KEY_PREVIOUS was removed before "gatehouse secrets rotate" re-sealed everything: 3 secrets (keys: 3) are still sealed with the previous key (key id ${ID_A}). Set SECRET_KEY_PREVIOUS to that key again, run "gatehouse secrets rotate", then remove it.`,
    );
    // A key that is neither the current nor the previous one is still simply the wrong key.
    await assert.rejects(
      startTestServer(database, keyring(KEY_C)),
      (error: unknown) =>
        error instanceof SecretKeyMismatchError &&
        error.message === 'SECRET_KEY cannot decrypt the keys stored in the database: it is not the key they were created with.',
    );
    assert.deepEqual(await snapshot(), before, 'refused starts change nothing');
  });

  it('names secrets sealed with a key it does not have when the rest opens', async () => {
    await withServer(keyring(KEY_A), async () => {});
    // A client stored by a CLI that ran with another SECRET_KEY than the server.
    await createClientStore(database.db, createSecretBox(KEY_B)).create(
      {
        client_id: 'hmac-client',
        client_secret: 'a-symmetric-secret-of-the-hmac-client-0123456789',
        token_endpoint_auth_method: 'client_secret_jwt',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      'cli',
    );
    await assert.rejects(
      startTestServer(database, keyring(KEY_B)),
      (error: unknown) =>
        error instanceof SecretKeyMismatchError &&
        error.message ===
          `3 secrets (keys: 3) are sealed with a key that is neither SECRET_KEY nor SECRET_KEY_PREVIOUS (key id ${ID_A}). If SECRET_KEY was changed, set SECRET_KEY_PREVIOUS to the key that sealed them and run "gatehouse secrets rotate".`,
    );
  });

  it('opens values of the old format and re-seals them bound to their rows', async () => {
    const { kids, client } = await withServer(keyring(KEY_A), async (server) => ({
      kids: await jwksKids(server),
      client: await symmetricClient(server),
    }));
    // Turn the database into one written before this format: v1, no key id, no associated data.
    const box = createSecretBox(KEY_A);
    for (const row of await database.db('keys').select('kid', 'kind', 'secret')) {
      const plain = box.open(row.secret, { table: 'keys', rowId: row.kid, purpose: row.kind });
      await database
        .db('keys')
        .where('kid', row.kid)
        .update({ secret: legacySeal(KEY_A, plain) });
    }
    await database
      .db('clients')
      .where('client_id', client.client_id)
      .update({ client_secret: `enc:${legacySeal(KEY_A, client.client_secret as string)}` });
    clearReadCaches(database.db);

    await withServer(keyring(KEY_A), async (server) => {
      assert.deepEqual(await jwksKids(server), kids);
      assert.ok(authenticated(await tokenRequest(server, client.client_id, client.client_secret as string)));
    });
    assert.deepEqual((await cliJson(['secrets', 'status'], KEY_A)).tables, {
      keys: { legacy: 3 },
      clients: { legacy: 1 },
      mail_queue: {},
      totp_factors: {},
      connections: {},
    });
    assert.deepEqual((await cliJson(['secrets', 'rotate'], KEY_A)).resealed, {
      keys: 3,
      clients: 1,
      mail_queue: 0,
      totp_factors: 0,
      connections: 0,
      oidc_payloads: 0,
    });
    assert.ok((await sealedValues()).every((v) => v.replace(/^enc:/, '').startsWith(`v2.${ID_A}.`)));
    await withServer(keyring(KEY_A), async (server) => assert.deepEqual(await jwksKids(server), kids));
  });

  it('changes nothing when a value fails to open midway through the rotation', async () => {
    const [first, second] = await withServer(keyring(KEY_A), async (server) => [
      await symmetricClient(server),
      await symmetricClient(server),
    ]);
    const copied = await database.db('clients').where('client_id', first.client_id).first('client_secret');
    await database.db('clients').where('client_id', second.client_id).update(copied);
    const before = await snapshot();

    // Keys come first: they are re-sealed inside the transaction before the broken client is met.
    const outcome = await cli(['secrets', 'rotate'], KEY_B, KEY_A);
    assert.equal(outcome.exitCode, 1);
    assert.equal(
      outcome.stderr,
      `Nothing was re-sealed: 1 secret (clients: 1) does not open with SECRET_KEY or SECRET_KEY_PREVIOUS\n  - The sealed secret of clients:${second.client_id}:client_secret does not open: it was sealed for another row or purpose, or it was altered\n`,
    );
    const json = await cli(['secrets', 'rotate', '--json'], KEY_B, KEY_A);
    assert.deepEqual(JSON.parse(json.stdout), {
      error: 'Nothing was re-sealed: 1 secret (clients: 1) does not open with SECRET_KEY or SECRET_KEY_PREVIOUS',
      problems: [
        `The sealed secret of clients:${second.client_id}:client_secret does not open: it was sealed for another row or purpose, or it was altered`,
      ],
    });
    assert.deepEqual(await snapshot(), before);
    assert.equal(await database.db('audit_events').where('type', 'secrets.rotated').first(), undefined);
  });

  it('answers invalid_client for a client whose sealed secret was copied from another client', async () => {
    await withServer(keyring(KEY_A), async (server) => {
      const first = await symmetricClient(server);
      const second = await symmetricClient(server);
      assert.ok(authenticated(await tokenRequest(server, second.client_id, second.client_secret as string)));
      assert.ok(!authenticated(await tokenRequest(server, second.client_id, 'not-the-secret-of-this-client-0123456789')));

      const copied = await database.db('clients').where('client_id', first.client_id).first('client_secret');
      await database.db('clients').where('client_id', second.client_id).update(copied);
      clearReadCaches(database.db);

      // Neither the secret it had nor the one copied in gets it through.
      for (const secret of [second.client_secret as string, first.client_secret as string]) {
        const refused = await tokenRequest(server, second.client_id, secret);
        assert.equal(refused.status, 401);
        assert.deepEqual(refused.body, { error: 'invalid_client', error_description: 'client authentication failed' });
      }
      assert.ok(authenticated(await tokenRequest(server, first.client_id, first.client_secret as string)), 'the other client is unharmed');
    });
    // One broken client does not keep the server from serving the others.
    await withServer(keyring(KEY_A), async () => {});
  });

  it('refuses to start when a signing key was copied over another key', async () => {
    await withServer(keyring(KEY_A), async () => {});
    const [es, rs] = await Promise.all(
      ['ES256', 'RS256'].map((alg) => database.db('keys').where({ kind: 'signing', alg }).first('kid', 'secret')),
    );
    await database.db('keys').where('kid', rs.kid).update({ secret: es.secret });
    await assert.rejects(
      startTestServer(database, keyring(KEY_A)),
      (error: unknown) =>
        error instanceof DamagedKeyError &&
        error.message ===
          `The sealed secret of keys:${rs.kid}:signing does not open: it was sealed for another row or purpose, or it was altered. Restore the keys table from a backup, or delete these rows and run "gatehouse keys rotate".`,
    );
  });
});
