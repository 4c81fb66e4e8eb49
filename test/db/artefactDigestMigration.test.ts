// The upgrade to digest-keyed artefacts rewrites rows in place: what was issued before it still
// works after it (nobody is signed out), and no stored row holds the issued values any more.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, insertEarlierArtefacts, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { KnexAdapter } from '../../src/oidc/adapter.ts';
import { ArtefactProtection } from '../../src/oidc/storedArtefacts.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { up } from '../../migrations/20261202000100_artefact_digests.ts';

const iat = Math.floor(Date.now() / 1000);

// Rows as Gatehouse wrote them before the upgrade: the value is the id, and sits in the payload.
const LEGACY_ROWS = [
  {
    model: 'AccessToken',
    id: 'legacy-access-token-value',
    grant_id: 'legacy-grant',
    payload: { kind: 'AccessToken', jti: 'legacy-access-token-value', grantId: 'legacy-grant', clientId: 'c', iat, exp: iat + 3600 },
  },
  {
    model: 'Grant',
    id: 'legacy-grant',
    payload: { kind: 'Grant', jti: 'legacy-grant', clientId: 'c', accountId: 'u', iat, exp: iat + 3600 },
  },
  {
    model: 'Session',
    id: 'legacy-session-id-value',
    uid: 'legacy-session-uid',
    payload: { kind: 'Session', jti: 'legacy-session-id-value', uid: 'legacy-session-uid', accountId: 'u', iat, exp: iat + 3600 },
  },
  {
    model: 'DeviceCode',
    id: 'legacy-device-code-value',
    user_code: 'LGCYCODE',
    payload: { kind: 'DeviceCode', jti: 'legacy-device-code-value', userCode: 'LGCYCODE', clientId: 'c', iat, exp: iat + 600 },
  },
  {
    model: 'Interaction',
    id: 'legacy-sign-in',
    payload: {
      kind: 'Interaction',
      jti: 'legacy-sign-in',
      session: { uid: 'legacy-session-uid', cookie: 'legacy-session-id-value', accountId: 'u' },
      iat,
      exp: iat + 3600,
    },
  },
  {
    model: 'Interaction',
    id: 'legacy-interaction',
    payload: {
      kind: 'Interaction',
      jti: 'legacy-interaction',
      deviceCode: 'legacy-device-code-value',
      parJti: 'legacy-par-value',
      session: { uid: 'legacy-session-uid', cookie: 'legacy-session-id-value', accountId: 'u' },
      iat,
      exp: iat + 3600,
    },
  },
];

describe('migration 20261202000100: artefacts keyed by digest', () => {
  let database: TestDatabase;
  const protection = new ArtefactProtection(createSecretBox('migration-test-secret-key-0123456789-abcdefghij'));
  const adapter = (model: string) => new KnexAdapter(model, database.db, protection);

  before(async () => {
    database = await createTestDatabase();
    await truncateAll(database);
    await insertEarlierArtefacts(database, LEGACY_ROWS);
    await up(database.db);
  });

  after(async () => {
    await database?.dispose();
  });

  it('keeps every artefact issued before the upgrade working', async () => {
    assert.equal((await adapter('AccessToken').find('legacy-access-token-value'))?.jti, 'legacy-access-token-value');
    assert.equal((await adapter('Grant').find('legacy-grant'))?.accountId, 'u');
    assert.equal((await adapter('Session').find('legacy-session-id-value'))?.accountId, 'u');
    assert.equal((await adapter('Session').findByUid('legacy-session-uid'))?.accountId, 'u');
    const signIn = await adapter('Interaction').find('legacy-sign-in');
    assert.deepEqual(signIn?.session, { uid: 'legacy-session-uid', accountId: 'u' }, 'the session id it carried is gone, the rest kept');
    // Revoking by grant still reaches tokens issued before the upgrade.
    await adapter('AccessToken').revokeByGrantId('legacy-grant');
    assert.equal(await adapter('AccessToken').find('legacy-access-token-value'), undefined);
  });

  it('ends the device-flow sign-ins in progress, whose values cannot be kept unsealed', async () => {
    // oidc-provider would need the device code back from its user code, and the interaction's
    // device code and pushed request: without a sealed copy, confirming the code would fail.
    assert.equal(await adapter('DeviceCode').findByUserCode('LGCYCODE'), undefined);
    assert.equal(await adapter('DeviceCode').find('legacy-device-code-value'), undefined);
    assert.equal(await adapter('Interaction').find('legacy-interaction'), undefined);
  });

  it('leaves none of the values in the table', async () => {
    const dump = JSON.stringify(await database.db('oidc_payloads').select('*'));
    for (const value of [
      'legacy-access-token-value',
      'legacy-session-id-value',
      'legacy-device-code-value',
      'LGCYCODE',
      'legacy-par-value',
    ]) {
      assert.equal(dump.includes(value), false, `the table still holds ${value}`);
    }
  });
});
