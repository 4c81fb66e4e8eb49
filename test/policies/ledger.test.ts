// The records of terms and consents against the database: what is pending for whom, what a
// decision appends (and what it does not: the same answer again, an id the file does not
// declare), the ledger's current state and claim, and that both tables are append-only (an
// UPDATE is refused) while erasing the user erases their records.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { operator } from '../helpers/fixtures.ts';
import { createUser, deleteUser, type User } from '../../src/accounts/index.ts';
import {
  consentsClaim,
  currentConsents,
  listConsentRecords,
  pendingDocuments,
  purposesToAsk,
  recordConsents,
  recordPolicyDecisions,
  resolvePolicies,
  type Policies,
} from '../../src/policies/index.ts';
import type { ServiceContext } from '../../src/changes/index.ts';
import { NotFoundError } from '../../src/errors/index.ts';

function policiesOf(input: unknown): Policies {
  const resolved = resolvePolicies(input);
  if (!('policies' in resolved)) throw new Error(resolved.problems.map((p) => p.message).join('; '));
  return resolved.policies;
}

const V1 = policiesOf({
  documents: [
    { id: 'terms', title: 'Terms', version: '1', url: 'https://legal.example/terms' },
    { id: 'beta', title: 'Beta programme', version: '1', url: 'https://legal.example/beta', mandatory: false },
  ],
  purposes: [
    { id: 'marketing_email', label: 'News', version: '1', ask_at_sign_in: true },
    { id: 'analytics', label: 'Statistics', version: '1' },
  ],
});
const V2 = policiesOf({
  documents: [
    { id: 'terms', title: 'Terms', version: '2', url: 'https://legal.example/terms' },
    { id: 'beta', title: 'Beta programme', version: '1', url: 'https://legal.example/beta', mandatory: false },
  ],
  purposes: [
    { id: 'marketing_email', label: 'News', version: '2', ask_at_sign_in: true },
    { id: 'analytics', label: 'Statistics', version: '1' },
  ],
});

describe('terms and consents records', () => {
  let database: TestDatabase;
  let user: User;
  let ctx: ServiceContext;

  before(async () => {
    database = await createTestDatabase();
  });

  let counter = 0;
  const newUser = () => {
    counter += 1;
    return createUser(operator(database), { email: `ledger-${counter}@example.com`, email_verified: true }, 4);
  };

  // A user of its own for each test: their records are all the test looks at.
  beforeEach(async () => {
    user = await newUser();
    ctx = { ...operator(database), actor: { type: 'user', id: user.id }, ip: '192.0.2.7' };
  });

  after(async () => {
    await database?.dispose();
  });

  const pendingIds = async (policies: Policies) =>
    (await pendingDocuments(database.db, user.id, policies)).map((p) => [p.document.id, p.previouslyAccepted]);
  const decide = (policies: Policies, accepted: string[], declined: string[] = []) =>
    recordPolicyDecisions(ctx, { userId: user.id, policies, clientId: 'shop', accepted, declined });

  it('keeps a mandatory document pending until its current version is accepted, an optional one until answered', async () => {
    assert.deepEqual(await pendingIds(V1), [
      ['terms', false],
      ['beta', false],
    ]);
    await decide(V1, [], ['terms', 'beta']);
    assert.deepEqual(await pendingIds(V1), [['terms', false]], 'a declined optional document is answered; a declined mandatory one is not');
    await decide(V1, ['terms']);
    assert.deepEqual(await pendingIds(V1), []);
    assert.deepEqual(await pendingIds(V2), [['terms', true]], 'a new version is pending again, with what changed');
    const rows = await database.db('policy_acceptances').where('user_id', user.id).orderBy('id');
    assert.deepEqual(
      rows.map((r) => [r.document, r.version, r.decision, r.ip, r.client_id]),
      [
        ['terms', '1', 'declined', '192.0.2.7', 'shop'],
        ['beta', '1', 'declined', '192.0.2.7', 'shop'],
        ['terms', '1', 'accepted', '192.0.2.7', 'shop'],
      ],
    );
  });

  it('records the same decision at the same version once, and ignores documents the file does not declare', async () => {
    assert.equal((await decide(V1, ['terms', 'cookies'])).length, 1);
    assert.deepEqual(await decide(V1, ['terms']), []);
    assert.deepEqual(await decide(V1, ['nonexistent'], ['other']), []);
    const rows = await database.db('policy_acceptances').where('user_id', user.id);
    assert.deepEqual(
      rows.map((r) => r.document),
      ['terms'],
    );
    await assert.rejects(decide(V1, ['terms'], ['terms']), /Document terms cannot be both accepted and declined/);
  });

  it('keeps the IP a decision came from when it is not the request’s (an import)', async () => {
    await recordPolicyDecisions(ctx, { userId: user.id, policies: V1, accepted: ['terms'], declined: [], ip: '203.0.113.9' });
    await recordConsents(ctx, {
      userId: user.id,
      policies: V1,
      decisions: [{ purpose: 'analytics', granted: true }],
      source: 'admin',
      ip: '203.0.113.9',
    });
    assert.deepEqual(await database.db('policy_acceptances').where('user_id', user.id).pluck('ip'), ['203.0.113.9']);
    assert.deepEqual(await database.db('consent_records').where('user_id', user.id).pluck('ip'), ['203.0.113.9']);
  });

  it('refuses decisions for a user who does not exist', async () => {
    await assert.rejects(
      recordPolicyDecisions(ctx, { userId: 'nobody', policies: V1, accepted: ['terms'], declined: [] }),
      (error: unknown) => error instanceof NotFoundError && error.message === 'No user nobody',
    );
    await assert.rejects(
      recordConsents(ctx, { userId: 'nobody', policies: V1, decisions: [{ purpose: 'analytics', granted: true }], source: 'account' }),
      NotFoundError,
    );
  });

  it('appends a consent only when its state changes, or it is answered at a new version', async () => {
    const record = (policies: Policies, purpose: string, granted: boolean) =>
      recordConsents(ctx, { userId: user.id, policies, decisions: [{ purpose, granted }], source: 'account' });
    assert.equal((await record(V1, 'marketing_email', true)).length, 1);
    assert.equal((await record(V1, 'marketing_email', true)).length, 0, 'granting what is granted is no news');
    assert.equal((await record(V1, 'marketing_email', false)).length, 1);
    assert.equal((await record(V2, 'marketing_email', false)).length, 1, 'the same answer at a new version is recorded');
    assert.equal((await record(V2, 'marketing_email', true)).length, 1);
    assert.equal((await record(V1, 'partner_sharing', true)).length, 0, 'a purpose the file does not declare is ignored');
    const rows = await listConsentRecords(database.db, { userId: user.id });
    assert.deepEqual(
      rows.map((r) => [r.purpose, r.version, r.granted, r.source, r.ip]),
      [
        ['marketing_email', '1', true, 'account', '192.0.2.7'],
        ['marketing_email', '1', false, 'account', '192.0.2.7'],
        ['marketing_email', '2', false, 'account', '192.0.2.7'],
        ['marketing_email', '2', true, 'account', '192.0.2.7'],
      ],
    );
    assert.deepEqual(
      rows.map((r) => typeof r.id),
      ['number', 'number', 'number', 'number'],
    );
  });

  it('tells the current state of every declared purpose, the purposes to ask, and the claim', async () => {
    assert.deepEqual(
      (await purposesToAsk(database.db, user.id, V1)).map((p) => p.id),
      ['marketing_email'],
    );
    await recordConsents(ctx, {
      userId: user.id,
      policies: V1,
      decisions: [
        { purpose: 'marketing_email', granted: false },
        { purpose: 'analytics', granted: true },
      ],
      source: 'sign_in',
      clientId: 'shop',
    });
    assert.deepEqual(await purposesToAsk(database.db, user.id, V1), []);
    assert.deepEqual(
      (await purposesToAsk(database.db, user.id, V2)).map((p) => p.id),
      ['marketing_email'],
      'asked again at its new version',
    );
    const states = await currentConsents(database.db, user.id, V2);
    assert.deepEqual(
      states.map((s) => [s.purpose.id, s.granted, s.decision?.version]),
      [
        ['marketing_email', false, '1'],
        ['analytics', true, '1'],
      ],
    );
    const claim = await consentsClaim(database.db, user.id, V2);
    assert.deepEqual(Object.keys(claim).sort(), ['analytics', 'marketing_email']);
    assert.equal(claim.analytics.granted, true);
    assert.equal(claim.analytics.version, '1');
    assert.equal(claim.analytics.time, Math.floor((states[1].decision?.at.getTime() ?? Number.NaN) / 1000), 'seconds since the epoch');
    const withoutAnalytics = policiesOf({ purposes: [{ id: 'marketing_email', label: 'News', version: '1' }] });
    assert.deepEqual(
      Object.keys(await consentsClaim(database.db, user.id, withoutAnalytics)),
      ['marketing_email'],
      'only declared purposes',
    );
  });

  it('pages through the ledger in the order it was written, by user and by purpose', async () => {
    const other = await newUser();
    for (const [who, purpose, granted] of [
      [user.id, 'analytics', true],
      [other.id, 'analytics', true],
      [user.id, 'marketing_email', true],
      [user.id, 'analytics', false],
    ] as const) {
      await recordConsents(ctx, { userId: who, policies: V1, decisions: [{ purpose, granted }], source: 'admin' });
    }
    const all = await listConsentRecords(database.db, {});
    const ours = all.filter((r) => r.user_id === user.id || r.user_id === other.id);
    assert.deepEqual(
      ours.map((r) => [r.user_id, r.purpose, r.granted]),
      [
        [user.id, 'analytics', true],
        [other.id, 'analytics', true],
        [user.id, 'marketing_email', true],
        [user.id, 'analytics', false],
      ],
    );
    const paged = [];
    for (let afterId: number | undefined, page = await listConsentRecords(database.db, { limit: 3 }); page.length; ) {
      paged.push(...page);
      afterId = page.at(-1)?.id;
      page = await listConsentRecords(database.db, { limit: 3, afterId });
    }
    assert.deepEqual(paged, all);
    assert.deepEqual(
      (await listConsentRecords(database.db, { userId: user.id })).map((r) => [r.purpose, r.granted]),
      [
        ['analytics', true],
        ['marketing_email', true],
        ['analytics', false],
      ],
    );
    assert.deepEqual(
      (await listConsentRecords(database.db, { purpose: 'analytics', userId: user.id })).map((r) => r.granted),
      [true, false],
    );
  });

  it('refuses to change a recorded decision, and erases them with the user', async () => {
    await decide(V1, ['terms']);
    await recordConsents(ctx, { userId: user.id, policies: V1, decisions: [{ purpose: 'analytics', granted: true }], source: 'account' });
    await assert.rejects(
      database.db('policy_acceptances').where('user_id', user.id).update({ decision: 'declined' }),
      /policy_acceptances is append-only: a recorded decision cannot be changed/,
    );
    await assert.rejects(
      database.db('consent_records').where('user_id', user.id).update({ granted: false }),
      /consent_records is append-only: a recorded decision cannot be changed/,
    );
    assert.equal((await database.db('consent_records').where({ user_id: user.id, granted: true })).length, 1, 'unchanged');

    await deleteUser(operator(database), user.id);
    assert.deepEqual(await database.db('policy_acceptances').where('user_id', user.id), []);
    assert.deepEqual(await database.db('consent_records').where('user_id', user.id), []);
  });
});
