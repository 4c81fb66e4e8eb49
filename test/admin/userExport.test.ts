// GET /users/{id}/export: a user's data as they may ask for it. The profile schema decides which
// attributes are in it (export: false stays out), the policy decisions and the consent ledger
// come along, and the answer fits the served OpenAPI document.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { operator } from '../helpers/fixtures.ts';
import { createUser } from '../../src/accounts/index.ts';
import { recordConsents, recordPolicyDecisions } from '../../src/policies/index.ts';
import { ADMIN_BASE_PATH } from '../../src/admin/index.ts';

const DOCUMENT_ID = 'https://gatehouse.test/openapi.json';

describe('admin API: a user’s data export', () => {
  let database: TestDatabase;
  let server: TestServer;
  let reader: AdminClient;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('uri', { validate: (value: string) => URL.canParse(value) });

  before(async () => {
    database = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-export-'));
    writeFileSync(
      join(dir, 'profile.yaml'),
      'attributes:\n  - name: risk_score\n    type: number\n    label: Risk\n    export: false\n    user_visible: false\n    user_editable: false\n',
    );
    writeFileSync(
      join(dir, 'policies.yaml'),
      'documents:\n  - { id: terms, title: Terms, version: "2", url: "https://example.com/terms" }\npurposes:\n  - { id: newsletter, label: News, version: "1" }\n',
    );
    server = await startTestServer(database, { PROFILE_SCHEMA_FILE: join(dir, 'profile.yaml'), POLICIES_FILE: join(dir, 'policies.yaml') });
    reader = await bootstrapAdminClient(server, database, 'Privacy desk', ['users:read']);
    ajv.addSchema((await (await fetch(`${server.url}${ADMIN_BASE_PATH}/openapi.json`)).json()) as object, DOCUMENT_ID);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  it('holds the account, the exported attributes, the policy decisions and the consent ledger', async () => {
    const { policies, profile } = server.config.declarations.current();
    const user = await createUser(
      operator(database),
      { email: 'ed@example.com', password: 'an entirely fine passphrase', profile: { given_name: 'Ed', risk_score: 9 } },
      4,
      profile,
    );
    await recordPolicyDecisions(operator(database), { userId: user.id, policies, accepted: ['terms'], declined: [], clientId: 'shop' });
    await recordConsents(operator(database), {
      userId: user.id,
      policies,
      decisions: [{ purpose: 'newsletter', granted: true }],
      source: 'admin',
    });
    await recordConsents(operator(database), {
      userId: user.id,
      policies,
      decisions: [{ purpose: 'newsletter', granted: false }],
      source: 'admin',
    });

    const answer = await reader.call('GET', `/users/${user.id}/export`);
    assert.equal(answer.status, 200);
    const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/UserExport` });
    assert.equal(validate(answer.body), true, ajv.errorsText(validate.errors));
    assert.equal(answer.body.account.email, 'ed@example.com');
    assert.deepEqual(answer.body.profile, { given_name: 'Ed' }, 'risk_score says export: false');
    assert.deepEqual(
      answer.body.policy_decisions.map((d: Record<string, unknown>) => [d.document, d.version, d.decision, d.client_id]),
      [['terms', '2', 'accepted', 'shop']],
    );
    assert.deepEqual(
      answer.body.consents.map((c: Record<string, unknown>) => [c.purpose, c.granted]),
      [
        ['newsletter', true],
        ['newsletter', false],
      ],
    );
    assert.doesNotMatch(JSON.stringify(answer.body), /password|\$2[aby]\$/);
  });

  it('answers an unknown user with a problem+json 404', async () => {
    const answer = await reader.call('GET', '/users/no-such-user/export');
    assert.equal(answer.status, 404);
    assert.equal(answer.body.type, 'urn:gatehouse:problem:not-found');
  });
});
