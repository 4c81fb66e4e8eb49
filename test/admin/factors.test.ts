// The admin API's view of second factors: GET /users/{id}/factors shows what a user holds (never a
// secret), DELETE removes them for an owner who lost them (users:write only), and a client can be
// registered and changed with require_mfa; each answer fits the served OpenAPI document.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { operator } from '../helpers/fixtures.ts';
import { createUser } from '../../src/accounts/index.ts';
import { generateRecoveryCodes } from '../../src/mfa/recoveryCodes.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { ADMIN_BASE_PATH } from '../../src/admin/index.ts';

const DOCUMENT_ID = 'https://gatehouse.test/openapi.json';
const box = createSecretBox(TEST_SECRET_KEY);

describe('admin API: second factors', () => {
  let database: TestDatabase;
  let server: TestServer;
  let admin: AdminClient;
  let reader: AdminClient;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('uri', { validate: (value: string) => URL.canParse(value) });
  const fits = (name: string, body: unknown) => {
    const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/${name}` });
    assert.equal(validate(body), true, `${name}: ${ajv.errorsText(validate.errors)}`);
  };

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    admin = await bootstrapAdminClient(server, database, 'Operator');
    reader = await bootstrapAdminClient(server, database, 'Support desk', ['users:read']);
    ajv.addSchema((await (await fetch(`${server.url}${ADMIN_BASE_PATH}/openapi.json`)).json()) as object, DOCUMENT_ID);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  it('shows a user’s factors to a reader, and lets only a writer remove them', async () => {
    const user = await createUser(
      operator(database),
      { email: 'vera@example.com', password: 'a passphrase of hers', email_verified: true },
      4,
    );
    await generateRecoveryCodes(operator(database), { box }, user.id);
    const shown = await reader.call('GET', `/users/${user.id}/factors`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body, { totp: false, passkeys: 0, recovery_codes_remaining: 10, known_devices: 0 });
    fits('UserFactors', shown.body);

    const refused = await reader.call('DELETE', `/users/${user.id}/factors`);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.type, 'urn:gatehouse:problem:insufficient-scope');
    assert.equal((await database.db('recovery_codes').where('user_id', user.id)).length, 10, 'nothing changed');

    const removed = await admin.call('DELETE', `/users/${user.id}/factors`);
    assert.equal(removed.status, 204);
    assert.equal((await database.db('recovery_codes').where('user_id', user.id)).length, 0);
    assert.equal((await database.db('domain_events').where({ subject: user.id, type: 'gatehouse.user.factors_reset' })).length, 1);
  });

  it('answers 404 for a user it does not know', async () => {
    for (const method of ['GET', 'DELETE']) {
      const answer = await admin.call(method, '/users/no-such-user/factors');
      assert.equal(answer.status, 404, method);
      assert.equal(answer.headers.get('content-type'), 'application/problem+json');
    }
  });

  it('registers and changes a client with require_mfa', async () => {
    const created = await admin.call('POST', '/clients', {
      body: { client_name: 'Bank', redirect_uris: ['https://bank.example/callback'], require_mfa: true },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.require_mfa, true);
    const bad = await admin.call('POST', '/clients', {
      body: { client_name: 'Bank', redirect_uris: ['https://bank.example/callback'], require_mfa: 'yes' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type'), 'application/problem+json');
  });
});
