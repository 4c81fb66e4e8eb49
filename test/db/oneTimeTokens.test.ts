// One-time tokens on the database: stored as digests, used once even by parallel requests
// (only the real PostgreSQL server runs them truly in parallel; PGlite serialises them), bound
// to their purpose, and worn out by wrong codes.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { consumeCode, consumeToken, issueToken, peekToken } from '../../src/accounts/oneTimeTokens.ts';
import { createUser } from '../../src/accounts/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { operator } from '../helpers/fixtures.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';

const box = createSecretBox(TEST_SECRET_KEY);

describe('one-time tokens', () => {
  let database: TestDatabase;
  let userId: string;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.dispose());
  beforeEach(async () => {
    await truncateAll(database);
    userId = (await createUser(operator(database), { email: 'tess@example.com' }, 4)).id;
  });

  const issue = (purpose: 'password_reset' | 'verify_email', withCode = false) =>
    database.db.transaction((trx) => issueToken(trx, box, { purpose, userId, ttlSeconds: 600, withCode, data: { interaction: 'uid-1' } }));

  it('keeps only a digest of the link and of the code', async () => {
    const issued = await issue('verify_email', true);
    const dump = JSON.stringify(await database.db('one_time_tokens').select());
    assert.equal(dump.includes(issued.token), false);
    assert.equal(dump.includes(`"${issued.code}"`), false);
  });

  it('lets exactly one of 8 parallel uses of a link win', async () => {
    const { token } = await issue('password_reset');
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => database.db.transaction((trx) => consumeToken(trx, 'password_reset', token))),
    );
    assert.equal(outcomes.filter((o) => o.ok).length, 1);
    assert.deepEqual(
      outcomes.filter((o) => !o.ok).map((o) => (o.ok ? '' : o.reason)),
      Array(7).fill('used'),
    );
  });

  it('refuses a link for another purpose, a tampered one, an expired one, and one replaced by a newer link', async () => {
    const first = await issue('password_reset');
    assert.deepEqual(await peekToken(database.db, 'verify_email', first.token), { ok: false, reason: 'invalid' });
    const tampered = `${first.token.slice(0, -1)}${first.token.endsWith('A') ? 'B' : 'A'}`;
    assert.deepEqual(await peekToken(database.db, 'password_reset', tampered), { ok: false, reason: 'invalid' });
    const second = await issue('password_reset');
    assert.deepEqual(await peekToken(database.db, 'password_reset', first.token), { ok: false, reason: 'replaced' });
    await database.db('one_time_tokens').update({ expires_at: database.db.raw("now() - interval '1 minute'") });
    assert.deepEqual(await peekToken(database.db, 'password_reset', second.token), { ok: false, reason: 'expired' });
  });

  it('accepts the right code once, only for its own sign-in, and wears the token out after five wrong codes', async () => {
    const issued = await issue('verify_email', true);
    const code = issued.code as string;
    const wrongFor = (right: string | undefined) => (right === '000000' ? '111111' : '000000');
    const use = (typed: string, uid = 'uid-1') =>
      database.db.transaction((trx) => consumeCode(trx, box, 'verify_email', userId, typed, uid));
    assert.equal(await use(code, 'another-sign-in'), undefined);
    assert.equal((await use(code))?.id, issued.id);
    assert.equal(await use(code), undefined); // used

    const next = await issue('verify_email', true);
    for (let i = 0; i < 5; i++) assert.equal(await use(wrongFor(next.code)), undefined);
    assert.equal(await use(next.code as string), undefined);
  });
});
