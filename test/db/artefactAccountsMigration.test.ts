// Artefacts name their account in an indexed column the database generates from the payload. The
// upgrade fills it in for every row issued before it, so revoking everything a user holds still
// reaches those rows; new rows get it as they are written; and it is indexed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, insertEarlierArtefacts, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { down, up } from '../../migrations/20261206001100_artefact_accounts.ts';
import { revokeEverything } from '../../src/accounts/service.ts';
import { KnexAdapter } from '../../src/oidc/adapter.ts';
import { ArtefactProtection } from '../../src/oidc/storedArtefacts.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const iat = Math.floor(Date.now() / 1000);

// Rows as Gatehouse wrote them before the upgrade: the account only inside the payload.
const EARLIER_ROWS = [
  { model: 'Session', id: 'session-of-ann', payload: { kind: 'Session', accountId: 'ann', iat, exp: iat + 3600 } },
  { model: 'Grant', id: 'grant-of-ann', payload: { kind: 'Grant', accountId: 'ann', clientId: 'c', iat, exp: iat + 3600 } },
  {
    model: 'RefreshToken',
    id: 'refresh-of-ann',
    grant_id: 'grant-of-ann',
    payload: { kind: 'RefreshToken', accountId: 'ann', grantId: 'grant-of-ann', clientId: 'c', iat, exp: iat + 3600 },
  },
  { model: 'Session', id: 'session-of-bob', payload: { kind: 'Session', accountId: 'bob', iat, exp: iat + 3600 } },
  { model: 'ClientCredentials', id: 'machine-token', payload: { kind: 'ClientCredentials', clientId: 'c', iat, exp: iat + 3600 } },
];

const accountsByRow = async (database: TestDatabase) =>
  Object.fromEntries((await database.db('oidc_payloads').select('id', 'account_id').orderBy('id')).map((row) => [row.id, row.account_id]));

describe('migration 20261206001100: artefacts name their account', () => {
  let database: TestDatabase;

  before(async () => {
    database = await createTestDatabase();
    await truncateAll(database);
    await down(database.db);
    await insertEarlierArtefacts(database, EARLIER_ROWS);
    await up(database.db);
  });

  after(async () => {
    await database?.dispose();
  });

  it('fills in the account of every row issued before the upgrade, and leaves rows without one alone', async () => {
    assert.deepEqual(await accountsByRow(database), {
      'grant-of-ann': 'ann',
      'machine-token': null,
      'refresh-of-ann': 'ann',
      'session-of-ann': 'ann',
      'session-of-bob': 'bob',
    });
  });

  it('gives a row written through the adapter its account, and a new one when the session changes hands', async () => {
    const protection = new ArtefactProtection(createSecretBox('migration-test-secret-key-0123456789-abcdefghij'));
    const sessions = new KnexAdapter('Session', database.db, protection);
    await sessions.upsert('new-session', { kind: 'Session', uid: 'new-session-uid', accountId: 'ann', iat, exp: iat + 60 }, 60);
    const stored = () => database.db('oidc_payloads').where({ model: 'Session', uid: 'new-session-uid' }).first('account_id');
    assert.equal((await stored())?.account_id, 'ann');
    await sessions.upsert('new-session', { kind: 'Session', uid: 'new-session-uid', accountId: 'bob', iat, exp: iat + 60 }, 60);
    assert.equal((await stored())?.account_id, 'bob');
    await sessions.destroy('new-session');
  });

  it('indexes the rows that name an account, by account and then model', async () => {
    // The catalog rather than a query plan: right after the upgrade's update an index may stay
    // out of plans until transactions older than it end (elsewhere on a shared server too).
    const result = await database.db.raw("select indexdef from pg_indexes where indexname = 'oidc_payloads_account_id'");
    assert.match(String(result.rows[0]?.indexdef), /\(account_id, model\) WHERE \(account_id IS NOT NULL\)/);
  });

  it('revokes what a user held before the upgrade with the rest, and nobody else’s', async () => {
    assert.equal(await revokeEverything(database.db, 'ann'), 3);
    assert.deepEqual(await accountsByRow(database), { 'machine-token': null, 'session-of-bob': 'bob' });
  });
});
