// The admin API's /connections and /users/{id}/identities, end to end with real management tokens:
// connecting an upstream provider (201, Location, Idempotency-Key), reading, changing with
// If-Match and deleting it; 400 field by field, 404, 409, 412; connections:read may only read;
// the upstream client secret goes in and never comes out of any answer; a user's linked
// identities are listed and unlinked, except the last way in. Every answer fits the OpenAPI document.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSamlIdp, keyPair } from '../helpers/samlIdp.ts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { type AdminAnswer, bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { ADMIN_BASE_PATH } from '../../src/admin/index.ts';
import { insertIdentity } from '../../src/federation/index.ts';

const DOCUMENT_ID = 'https://gatehouse.test/openapi.json';
const PROBLEM = 'application/problem+json';
const SECRET = 'upstream-s3cret-never-shown';

const newConnection = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'oidc',
  display_name: `${id} provider`,
  settings: { issuer: `https://${id}.idp.example`, client_id: 'gatehouse', scopes: ['openid', 'email'] },
  client_secret: SECRET,
  ...extra,
});

describe('admin API: connections and linked identities', () => {
  let database: TestDatabase;
  let server: TestServer;
  let admin: AdminClient;
  let reader: AdminClient;
  let support: AdminClient;
  /** Every answer of the suite, to check that none ever shows the secret. */
  const answers: AdminAnswer[] = [];
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('uri', { validate: (value: string) => URL.canParse(value) });
  const fits = (name: string, body: unknown) => {
    const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/${name}` });
    assert.equal(validate(body), true, `${name}: ${ajv.errorsText(validate.errors)}`);
  };
  const call = async (as: AdminClient, method: string, path: string, options: Parameters<AdminClient['call']>[2] = {}) => {
    const answer = await as.call(method, path, options);
    answers.push(answer);
    return answer;
  };
  const isProblem = (answer: AdminAnswer, status: number, type: string) => {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.equal(answer.headers.get('content-type'), PROBLEM);
    assert.equal(answer.body.type, `urn:gatehouse:problem:${type}`);
    fits('Problem', answer.body);
  };

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    admin = await bootstrapAdminClient(server, database, 'Operator');
    reader = await bootstrapAdminClient(server, database, 'Auditor', ['connections:read']);
    support = await bootstrapAdminClient(server, database, 'Support desk', ['users:read', 'users:write']);
    ajv.addSchema((await (await fetch(`${server.url}${ADMIN_BASE_PATH}/openapi.json`)).json()) as object, DOCUMENT_ID);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  describe('/connections', () => {
    it('creates a connection (201, Location, ETag) whose secret is sealed and never answered', async () => {
      const created = await call(admin, 'POST', '/connections', { body: newConnection('acme', { domains: ['Acme.example'] }) });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.headers.get('location'), `${ADMIN_BASE_PATH}/connections/acme`);
      assert.match(created.headers.get('etag') ?? '', /^"[\w-]{27}"$/);
      fits('Connection', created.body);
      assert.deepEqual(
        { ...created.body, created_at: undefined, updated_at: undefined },
        {
          id: 'acme',
          type: 'oidc',
          display_name: 'acme provider',
          enabled: true,
          clients: null,
          domains: ['acme.example'],
          jit: true,
          linking: 'verified_email_with_proof',
          claims_update: 'on_sign_in',
          mapping: {},
          settings: {
            issuer: 'https://acme.idp.example',
            client_id: 'gatehouse',
            scopes: ['openid', 'email'],
            token_endpoint_auth_method: 'client_secret_basic',
            preset: 'generic',
            response_mode: 'query',
          },
          has_client_secret: true,
          created_at: undefined,
          updated_at: undefined,
        },
      );
      const row = await database.db('connections').where('id', 'acme').first();
      assert.ok(row.secret && !row.secret.includes(SECRET), 'stored sealed');
      const event = await database.db('domain_events').where({ type: 'gatehouse.connection.created', subject: 'acme' }).first();
      assert.ok(event);
      assert.ok(!JSON.stringify(event).includes(SECRET));

      const read = await call(reader, 'GET', '/connections/acme');
      assert.equal(read.status, 200);
      assert.equal(read.headers.get('etag'), created.headers.get('etag'));
      fits('Connection', read.body);
      const list = await call(reader, 'GET', '/connections');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.data.map((c: { id: string }) => c.id),
        ['acme'],
      );
      fits('ConnectionList', list.body);
    });

    it('answers a retry with the same Idempotency-Key with the first answer, creating once', async () => {
      const headers = { 'idempotency-key': 'create-retry-1' };
      const first = await call(admin, 'POST', '/connections', { body: newConnection('retry'), headers });
      const retry = await call(admin, 'POST', '/connections', { body: newConnection('retry'), headers });
      assert.equal(first.status, 201);
      assert.equal(retry.status, 201);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(retry.body, first.body);
      assert.equal(retry.headers.get('location'), first.headers.get('location'));
      assert.equal((await database.db('connections').where('id', 'retry')).length, 1);
      const reused = await call(admin, 'POST', '/connections', { body: newConnection('other'), headers });
      isProblem(reused, 422, 'idempotency-key-reused');
    });

    it('changes a connection with If-Match: a stale tag is 412 and changes nothing; settings left out stay', async () => {
      await call(admin, 'POST', '/connections', { body: newConnection('beta', { clients: ['portal'] }) });
      const read = await call(admin, 'GET', '/connections/beta');
      const etag = read.headers.get('etag') as string;
      const changed = await call(admin, 'PATCH', '/connections/beta', {
        body: { display_name: 'Beta SSO', settings: { issuer: 'https://login.beta.example' }, enabled: false },
        headers: { 'if-match': etag },
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      fits('Connection', changed.body);
      assert.equal(changed.body.display_name, 'Beta SSO');
      assert.equal(changed.body.enabled, false);
      assert.deepEqual(changed.body.clients, ['portal']);
      assert.deepEqual(changed.body.settings, {
        issuer: 'https://login.beta.example',
        client_id: 'gatehouse',
        scopes: ['openid', 'email'],
        token_endpoint_auth_method: 'client_secret_basic',
        preset: 'generic',
        response_mode: 'query',
      });
      assert.notEqual(changed.headers.get('etag'), etag);

      const stale = await call(admin, 'PATCH', '/connections/beta', {
        body: { display_name: 'Lost update' },
        headers: { 'if-match': etag },
      });
      isProblem(stale, 412, 'precondition-failed');
      const staleDelete = await call(admin, 'DELETE', '/connections/beta', { headers: { 'if-match': etag } });
      isProblem(staleDelete, 412, 'precondition-failed');
      assert.equal((await call(admin, 'GET', '/connections/beta')).body.display_name, 'Beta SSO');

      const noSecret = await call(admin, 'PATCH', '/connections/beta', { body: { client_secret: null } });
      assert.equal(noSecret.body.has_client_secret, false);
      assert.equal((await database.db('connections').where('id', 'beta').first()).secret, null);
      const newSecret = await call(admin, 'PATCH', '/connections/beta', { body: { client_secret: SECRET } });
      assert.equal(newSecret.body.has_client_secret, true);

      const deleted = await call(admin, 'DELETE', '/connections/beta', {
        headers: { 'if-match': newSecret.headers.get('etag') as string },
      });
      assert.equal(deleted.status, 204);
      isProblem(await call(admin, 'GET', '/connections/beta'), 404, 'not-found');
      isProblem(await call(admin, 'DELETE', '/connections/beta'), 404, 'not-found');
    });

    it('refuses bad input field by field (400), a duplicate id (409) and an unknown connection (404)', async () => {
      const invalid = await call(admin, 'POST', '/connections', {
        body: newConnection('Not An Id', { settings: { issuer: 'ftp://x.example', client_id: 'c', scopes: ['email'] }, colour: 'red' }),
      });
      isProblem(invalid, 400, 'invalid-input');
      assert.deepEqual(invalid.body.errors, [
        { path: 'id', message: 'id must be 2-63 lower case letters, digits and -, such as acme-sso' },
        { path: 'settings.issuer', message: 'issuer must be an http or https URL' },
        { path: 'settings.scopes', message: 'scopes must include openid' },
        { path: 'colour', message: 'unknown field' },
      ]);
      await call(admin, 'POST', '/connections', { body: newConnection('gamma') });
      const duplicate = await call(admin, 'POST', '/connections', { body: newConnection('gamma') });
      isProblem(duplicate, 409, 'conflict');
      assert.equal(duplicate.body.detail, 'A connection gamma already exists');

      const badPatch = await call(admin, 'PATCH', '/connections/gamma', { body: { settings: { issuer: 'not a url' }, jit: 'yes' } });
      isProblem(badPatch, 400, 'invalid-input');
      assert.ok(
        badPatch.body.errors.some((e: { path: string; message: string }) => e.path === 'jit'),
        JSON.stringify(badPatch.body.errors),
      );
      const badSettings = await call(admin, 'PATCH', '/connections/gamma', { body: { settings: { issuer: 'not a url' } } });
      isProblem(badSettings, 400, 'invalid-input');
      assert.deepEqual(badSettings.body.errors, [{ path: 'settings.issuer', message: 'issuer must be an http or https URL' }]);
      assert.equal((await call(admin, 'GET', '/connections/gamma')).body.settings.issuer, 'https://gamma.idp.example');
      isProblem(await call(admin, 'PATCH', '/connections/nope', { body: { enabled: false } }), 404, 'not-found');
      isProblem(await call(admin, 'GET', '/connections/nope'), 404, 'not-found');
    });

    it('changes a SAML connection’s key as sp_private_key, only to the key of its certificate, and turns encryption on only with a key', async () => {
      const ours = keyPair();
      const created = await call(admin, 'POST', '/connections', {
        body: {
          id: 'zeta-saml',
          type: 'saml',
          display_name: 'Zeta',
          settings: {
            idp_entity_id: 'https://idp.zeta.example',
            sso_url: 'https://idp.zeta.example/sso',
            idp_certificates: [keyPair().cert],
            sp_certificate: ours.cert,
          },
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const encryptWithoutKey = await call(admin, 'PATCH', '/connections/zeta-saml', {
        body: { settings: { want_encrypted_assertions: true } },
      });
      isProblem(encryptWithoutKey, 400, 'invalid-input');
      assert.deepEqual(encryptWithoutKey.body.errors, [
        { path: 'sp_private_key', message: 'sp_private_key is required for encrypted assertions' },
      ]);
      const asClientSecret = await call(admin, 'PATCH', '/connections/zeta-saml', { body: { client_secret: ours.key } });
      isProblem(asClientSecret, 400, 'invalid-input');
      assert.deepEqual(asClientSecret.body.errors, [
        { path: 'client_secret', message: 'a SAML connection has no client secret: give sp_private_key' },
      ]);
      const wrongKey = await call(admin, 'PATCH', '/connections/zeta-saml', { body: { sp_private_key: keyPair().key } });
      assert.deepEqual(wrongKey.body.errors, [{ path: 'sp_private_key', message: 'sp_private_key is not the key of sp_certificate' }]);
      assert.equal((await database.db('connections').where('id', 'zeta-saml').first()).secret, null, 'nothing changed');
      const encrypted = await call(admin, 'PATCH', '/connections/zeta-saml', {
        body: { sp_private_key: ours.key, settings: { want_encrypted_assertions: true } },
      });
      assert.equal(encrypted.status, 200, JSON.stringify(encrypted.body));
      assert.equal(encrypted.body.has_client_secret, true);
      assert.equal(encrypted.body.settings.want_encrypted_assertions, true);
      assert.ok(!JSON.stringify(encrypted.body).includes('PRIVATE KEY'), 'the key is never shown');
    });

    it('removes a setting given as null in a change, and keeps the others', async () => {
      const tenant = 'aaaaaaaa-1111-4111-8111-111111111111';
      const created = await call(admin, 'POST', '/connections', {
        body: {
          id: 'iota-entra',
          type: 'oidc',
          display_name: 'Iota',
          settings: { preset: 'microsoft', client_id: 'app', tenant: 'organizations', allowed_tenants: [tenant] },
          client_secret: SECRET,
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const opened = await call(admin, 'PATCH', '/connections/iota-entra', { body: { settings: { allowed_tenants: null } } });
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      assert.equal(opened.body.settings.allowed_tenants, undefined, 'every directory may sign in again');
      assert.equal(opened.body.settings.tenant, 'organizations');
      const required = await call(admin, 'PATCH', '/connections/iota-entra', { body: { settings: { client_id: null } } });
      isProblem(required, 400, 'invalid-input');
      assert.equal(required.body.errors[0].path, 'settings.client_id');
    });

    it('takes IdP metadata far larger than the usual 64 KB body, and refuses a body over its limit with 413', async () => {
      const { metadata } = createSamlIdp();
      // Large metadata (an AD FS federation document runs to hundreds of KB) padded the way
      // theirs are, with descriptors and extensions we do not read: here, a long comment.
      const large = metadata.replace(/(<\/[\w:]*EntityDescriptor>)\s*$/, `<!-- ${'role descriptors '.repeat(20_000)} -->$1`);
      assert.ok(large.length > 300_000, `${large.length}`);
      const created = await call(admin, 'POST', '/connections', {
        body: { id: 'eta-saml', type: 'saml', display_name: 'Eta', settings: { idp_metadata_xml: large } },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body).slice(0, 500));
      assert.equal(created.body.settings.idp_entity_id, 'https://idp.example.test/metadata');
      const tooLarge = await call(admin, 'POST', '/connections', {
        body: { id: 'theta-saml', type: 'saml', display_name: 'Theta', settings: { idp_metadata_xml: 'x'.repeat(1_700_000) } },
      });
      isProblem(tooLarge, 413, 'payload-too-large');
      assert.equal(tooLarge.body.detail, 'The body is larger than 1.5 MB');
    });

    it('lets connections:read read but not change, and keeps other tokens out (403)', async () => {
      await call(admin, 'POST', '/connections', { body: newConnection('delta') });
      assert.equal((await call(reader, 'GET', '/connections/delta')).status, 200);
      const writes: [string, string, unknown][] = [
        ['POST', '/connections', newConnection('epsilon')],
        ['PATCH', '/connections/delta', { enabled: false }],
        ['DELETE', '/connections/delta', undefined],
      ];
      for (const [method, path, body] of writes) {
        const answer = await call(reader, method, path, { body });
        isProblem(answer, 403, 'insufficient-scope');
        assert.match(answer.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="connections:write"/);
      }
      const outsider = await call(support, 'GET', '/connections');
      isProblem(outsider, 403, 'insufficient-scope');
      assert.match(outsider.headers.get('www-authenticate') ?? '', /scope="connections:read"/);
      const row = await database.db('connections').where('id', 'delta').first();
      assert.equal(row.enabled, true, 'nothing changed');
      assert.equal((await database.db('connections').where('id', 'epsilon')).length, 0);
    });
  });

  describe('/users/{userId}/identities', () => {
    it('lists a user’s linked identities and unlinks them, never the last way in (409)', async () => {
      await call(admin, 'POST', '/connections', { body: newConnection('zeta') });
      await call(admin, 'POST', '/connections', { body: newConnection('eta') });
      // Invited users have no password: their upstream identities are their only ways in.
      const user = await call(admin, 'POST', '/users', { body: { email: 'nia@example.com' } });
      assert.equal(user.status, 201);
      await insertIdentity(database.db, {
        connectionId: 'zeta',
        subject: 'nia|42',
        userId: user.body.id,
        email: 'nia@zeta.example',
        proven: true,
      });

      const listed = await call(support, 'GET', `/users/${user.body.id}/identities`);
      assert.equal(listed.status, 200);
      fits('LinkedIdentityList', listed.body);
      assert.deepEqual(
        listed.body.data.map(({ created_at, last_used_at, ...rest }: Record<string, unknown>) => rest),
        [{ connection_id: 'zeta', display_name: 'zeta provider', subject: 'nia|42', email: 'nia@zeta.example' }],
      );
      const path = `/users/${user.body.id}/identities/zeta/${encodeURIComponent('nia|42')}`;
      const last = await call(support, 'DELETE', path);
      isProblem(last, 409, 'conflict');
      assert.equal(last.body.detail, 'This is your only way to sign in. Set a password or add a passkey before you remove it.');

      await insertIdentity(database.db, { connectionId: 'eta', subject: 'nia-eta', userId: user.body.id, proven: true });
      assert.equal((await call(support, 'DELETE', path)).status, 204);
      assert.deepEqual(
        (await call(support, 'GET', `/users/${user.body.id}/identities`)).body.data.map((i: { connection_id: string }) => i.connection_id),
        ['eta'],
      );
      const event = await database.db('domain_events').where({ type: 'gatehouse.user.identity_unlinked', subject: user.body.id }).first();
      assert.ok(event);
      isProblem(await call(support, 'DELETE', path), 404, 'not-found');
    });

    it('answers 404 for an unknown user and needs users:read / users:write', async () => {
      isProblem(await call(support, 'GET', '/users/00000000-0000-0000-0000-000000000000/identities'), 404, 'not-found');
      isProblem(await call(reader, 'GET', '/users/00000000-0000-0000-0000-000000000000/identities'), 403, 'insufficient-scope');
      const refused = await call(reader, 'DELETE', '/users/00000000-0000-0000-0000-000000000000/identities/zeta/x');
      isProblem(refused, 403, 'insufficient-scope');
      assert.match(refused.headers.get('www-authenticate') ?? '', /scope="users:write"/);
    });
  });

  // Last, once every other test has run: their answers were all kept.
  it('never showed the secret in any answer of this suite, body or header', () => {
    assert.ok(answers.length > 40);
    for (const answer of answers) {
      assert.ok(!JSON.stringify(answer.body ?? '').includes(SECRET));
      answer.headers.forEach((value, name) => {
        assert.ok(!value.includes(SECRET), name);
      });
    }
  });
});
