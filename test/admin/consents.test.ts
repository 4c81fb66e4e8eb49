// The admin API's view of terms and consents: a user's current consents with their ledger, a
// user's decisions on the documents, and the whole ledger exported a page at a time (oldest
// first, Link header, signed cursor). Unknown users answer 404, bad cursors and unknown query
// parameters 400, all problem+json; each answer fits the served OpenAPI document.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { operator } from '../helpers/fixtures.ts';
import { policiesFile } from '../helpers/policiesFile.ts';
import { createUser, type User } from '../../src/accounts/index.ts';
import { recordConsents, recordPolicyDecisions } from '../../src/policies/index.ts';
import { ADMIN_BASE_PATH } from '../../src/admin/index.ts';
import type { ServiceContext } from '../../src/changes/index.ts';

const DOCUMENT_ID = 'https://gatehouse.test/openapi.json';
const POLICIES = {
  documents: [{ id: 'terms', title: 'Terms', version: '4', url: 'https://legal.example/terms' }],
  purposes: [
    { id: 'marketing_email', label: 'News', version: '1' },
    { id: 'analytics', label: 'Statistics', version: '2' },
  ],
};

describe('admin API: terms and consents', () => {
  let database: TestDatabase;
  let server: TestServer;
  let reader: AdminClient;
  let user: User;
  let other: User;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('uri', { validate: (value: string) => URL.canParse(value) });
  const fits = (name: string, body: unknown) => {
    const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/${name}` });
    assert.equal(validate(body), true, `${name}: ${ajv.errorsText(validate.errors)}`);
  };

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { POLICIES_FILE: policiesFile(POLICIES).path });
    reader = await bootstrapAdminClient(server, database, 'Compliance', ['users:read']);
    ajv.addSchema((await (await fetch(`${server.url}${ADMIN_BASE_PATH}/openapi.json`)).json()) as object, DOCUMENT_ID);
    user = await createUser(operator(database), { email: 'ines@example.com', email_verified: true }, 4);
    other = await createUser(operator(database), { email: 'omar@example.com', email_verified: true }, 4);
    const policies = server.config.declarations.current().policies;
    const as = (who: User): ServiceContext => ({ ...operator(database), actor: { type: 'user', id: who.id }, ip: '198.51.100.4' });
    await recordPolicyDecisions(as(user), { userId: user.id, policies, clientId: 'shop', accepted: ['terms'], declined: [] });
    const consent = (who: User, purpose: string, granted: boolean) =>
      recordConsents(as(who), { userId: who.id, policies, decisions: [{ purpose, granted }], source: 'sign_in', clientId: 'shop' });
    await consent(user, 'marketing_email', true);
    await consent(other, 'analytics', true);
    await consent(user, 'marketing_email', false);
    await consent(user, 'analytics', true);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  it('shows a user’s state for every declared purpose and their ledger', async () => {
    const answer = await reader.call('GET', `/users/${user.id}/consents`);
    assert.equal(answer.status, 200);
    fits('UserConsents', answer.body);
    assert.deepEqual(
      answer.body.data.map((s: Record<string, unknown>) => [s.purpose, s.granted, s.version, s.current_version]),
      [
        ['marketing_email', false, '1', '1'],
        ['analytics', true, '2', '2'],
      ],
    );
    assert.deepEqual(
      answer.body.records.map((r: Record<string, unknown>) => [r.purpose, r.granted, r.source, r.client_id, r.ip]),
      [
        ['marketing_email', true, 'sign_in', 'shop', '198.51.100.4'],
        ['marketing_email', false, 'sign_in', 'shop', '198.51.100.4'],
        ['analytics', true, 'sign_in', 'shop', '198.51.100.4'],
      ],
    );
    const undecided = await reader.call('GET', `/users/${other.id}/consents`);
    assert.deepEqual(undecided.body.data[0], {
      purpose: 'marketing_email',
      granted: false,
      current_version: '1',
      version: null,
      decided_at: null,
    });
  });

  it('lists a user’s decisions on the documents', async () => {
    const answer = await reader.call('GET', `/users/${user.id}/policy-acceptances`);
    assert.equal(answer.status, 200);
    fits('PolicyAcceptanceList', answer.body);
    assert.equal(answer.body.data.length, 1);
    const [row] = answer.body.data;
    assert.deepEqual(
      { ...row, id: typeof row.id, recorded_at: typeof row.recorded_at },
      {
        id: 'number',
        document: 'terms',
        version: '4',
        decision: 'accepted',
        recorded_at: 'string',
        ip: '198.51.100.4',
        client_id: 'shop',
      },
    );
    assert.deepEqual((await reader.call('GET', `/users/${other.id}/policy-acceptances`)).body, { data: [] });
  });

  it('exports the whole ledger oldest first, a page at a time, following the Link header', async () => {
    const seen: Record<string, unknown>[] = [];
    let path: string | undefined = '/consent-records?limit=2';
    while (path) {
      const answer = await reader.call('GET', path);
      assert.equal(answer.status, 200);
      fits('ConsentRecordPage', answer.body);
      seen.push(...answer.body.data);
      const link = answer.headers.get('link');
      assert.equal(Boolean(link), Boolean(answer.body.next_cursor));
      path = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? '').slice(ADMIN_BASE_PATH.length) : undefined;
    }
    assert.deepEqual(
      seen.map((r) => [r.user_id, r.purpose, r.granted]),
      [
        [user.id, 'marketing_email', true],
        [other.id, 'analytics', true],
        [user.id, 'marketing_email', false],
        [user.id, 'analytics', true],
      ],
    );
    const ids = seen.map((r) => r.id as number);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );

    const filtered = await reader.call('GET', `/consent-records?purpose=analytics&user_id=${other.id}`);
    assert.deepEqual(
      filtered.body.data.map((r: Record<string, unknown>) => r.user_id),
      [other.id],
    );
    assert.equal(filtered.body.next_cursor, null);
  });

  it('answers an unknown user with 404, and a bad cursor or an unknown parameter with 400', async () => {
    for (const path of ['/users/nobody/consents', '/users/nobody/policy-acceptances']) {
      const answer = await reader.call('GET', path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.headers.get('content-type'), 'application/problem+json');
      assert.equal(answer.body.type, 'urn:gatehouse:problem:not-found');
      assert.equal(answer.body.detail, 'No user nobody');
    }
    const forged = await reader.call('GET', '/consent-records?cursor=eyJpZCI6MH0.AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(forged.status, 400);
    assert.equal(forged.body.type, 'urn:gatehouse:problem:invalid-input');
    assert.deepEqual(forged.body.errors, [{ path: 'cursor', message: 'not a valid cursor' }]);
    // A cursor of another list is not one of this list's.
    const users = await reader.call('GET', '/users?limit=1');
    const foreign = await reader.call('GET', `/consent-records?cursor=${encodeURIComponent(users.body.next_cursor)}`);
    assert.equal(foreign.status, 400);
    const unknown = await reader.call('GET', '/consent-records?granted=true');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.type, 'urn:gatehouse:problem:invalid-input');
    const tooMany = await reader.call('GET', '/consent-records?limit=201');
    assert.equal(tooMany.status, 400);
  });

  it('needs a token with users:read', async () => {
    const answer = await reader.call('GET', '/consent-records', { token: null });
    assert.equal(answer.status, 401);
    const events = await bootstrapAdminClient(server, database, 'Events only', ['events:read']);
    const refused = await events.call('GET', `/users/${user.id}/consents`);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.type, 'urn:gatehouse:problem:insufficient-scope');
  });
});
