// The outbox: a change commits with exactly one event and one audit record, or with neither;
// and a reader with a cursor never skips an event whose transaction commits after a later one.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { commitChange, cliContext } from '../../src/changes/index.ts';
import { listEvents, writeEvent, type EventPosition } from '../../src/events/index.ts';
import { createUser, updateUser } from '../../src/accounts/index.ts';
import { ConflictError } from '../../src/errors/index.ts';

const ON_PGLITE = !process.env.DATABASE_URL;
const SOURCE = 'http://gatehouse.test';

describe('domain events (outbox)', () => {
  let database: TestDatabase;
  const count = async (table: string) => Number((await database.db(table).count({ n: '*' }).first())?.n);

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.dispose();
  });
  beforeEach(async () => {
    await truncateAll(database);
  });

  it('writes one event and one audit record with each change, in its transaction', async () => {
    const ctx = cliContext(database.db, SOURCE);
    const user = await createUser(ctx, { email: 'kim@example.com', password: 'a long enough password' }, 4);
    await updateUser(ctx, user.id, { profile: { name: 'Kim' } });
    const { events } = await listEvents(database.db, { limit: 10 });
    assert.deepEqual(
      events.map((e) => [e.type, e.subject, e.source, e.actor.type]),
      [
        ['gatehouse.user.created', user.id, SOURCE, 'cli'],
        ['gatehouse.user.updated', user.id, SOURCE, 'cli'],
      ],
    );
    assert.deepEqual(events[1].data, { changed: ['profile.name'] });
    assert.ok(!JSON.stringify(events).includes('a long enough password'));
    assert.deepEqual(
      (await database.db('audit_events').orderBy('id')).map((a) => a.type),
      ['user.created', 'user.updated'],
    );
  });

  it('leaves no row, no event and no audit record when a change fails half-way', async () => {
    const ctx = cliContext(database.db, SOURCE);
    await assert.rejects(
      commitChange(ctx, async (trx) => {
        await trx('users').insert({ id: 'first', email: 'twin@example.com' });
        // The second write breaks the case-insensitive unique email index.
        await trx('users').insert({ id: 'second', email: 'TWIN@example.com' });
        return { value: undefined, record: { type: 'user.created', subject: 'first', data: {} } };
      }),
      { code: '23505' },
    );
    assert.equal(await count('users'), 0);
    assert.equal(await count('domain_events'), 0);
    assert.equal(await count('audit_events'), 0);
  });

  it('writes no event for a change a service refuses', async () => {
    const ctx = cliContext(database.db, SOURCE);
    await createUser(ctx, { email: 'lee@example.com' }, 4);
    await assert.rejects(createUser(ctx, { email: 'LEE@example.com' }, 4), ConflictError);
    assert.equal(await count('users'), 1);
    assert.equal(await count('domain_events'), 1);
  });

  it('pages through events with a position, oldest first', async () => {
    const ctx = cliContext(database.db, SOURCE);
    for (const email of ['a@example.com', 'b@example.com', 'c@example.com']) await createUser(ctx, { email }, 4);
    const first = await listEvents(database.db, { limit: 2 });
    const rest = await listEvents(database.db, { limit: 2, after: first.last });
    assert.deepEqual(
      [...first.events, ...rest.events].map((e) => e.data.email),
      ['a@example.com', 'b@example.com', 'c@example.com'],
    );
    const none = await listEvents(database.db, { limit: 2, after: rest.last });
    assert.deepEqual(none, { events: [], last: undefined });
  });

  it('never skips an event whose transaction commits after a later one', {
    skip: ON_PGLITE && 'PGlite: one connection, so no two transactions can be open at once (runs with DATABASE_URL)',
  }, async () => {
    const origin = { source: SOURCE, actor: { type: 'system' as const } };
    const seen: string[] = [];
    let position: EventPosition | undefined;
    const poll = async () => {
      const page = await listEvents(database.db, { limit: 100, after: position });
      seen.push(...page.events.map((e) => e.subject as string));
      position = page.last ?? position;
    };
    // The early transaction takes its sequence number first and commits last.
    let wroteEarly: () => void = () => {};
    const earlyWritten = new Promise<void>((resolve) => {
      wroteEarly = resolve;
    });
    let commitEarly: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      commitEarly = resolve;
    });
    const early = database.db.transaction(async (trx) => {
      await writeEvent(trx, { type: 'test.early', subject: 'early', data: {} }, origin);
      wroteEarly();
      await released;
    });
    await earlyWritten;
    await database.db.transaction((trx) => writeEvent(trx, { type: 'test.late', subject: 'late', data: {} }, origin));
    await poll();
    assert.deepEqual(seen, [], 'the later event waits while an earlier transaction is still open');
    commitEarly();
    await early;
    await poll();
    assert.deepEqual(seen, ['early', 'late']);
    const seqs = await database.db('domain_events').orderBy('seq').select('subject');
    assert.deepEqual(
      seqs.map((r) => r.subject),
      ['early', 'late'],
    );
  });

  it('orders by transaction, not by sequence: an event with a lower number from a later transaction is not skipped', {
    skip: ON_PGLITE && 'PGlite: one connection, so no two transactions can be open at once (runs with DATABASE_URL)',
  }, async () => {
    const origin = { source: SOURCE, actor: { type: 'system' as const } };
    // Three transactions take their ids in the order A < M < B; B writes its event first
    // (lower sequence number) and commits; A writes and commits; M is still running.
    const held = <T>() => {
      let release: (value: T) => void = () => {};
      const promise = new Promise<T>((resolve) => {
        release = resolve;
      });
      return { promise, release };
    };
    const aStarted = held<void>();
    const aGo = held<void>();
    const mStarted = held<void>();
    const mGo = held<void>();
    const a = database.db.transaction(async (trx) => {
      await trx.raw('select pg_current_xact_id()');
      aStarted.release();
      await aGo.promise;
      await writeEvent(trx, { type: 'test.a', subject: 'a', data: {} }, origin);
    });
    await aStarted.promise;
    const m = database.db.transaction(async (trx) => {
      await trx.raw('select pg_current_xact_id()');
      mStarted.release();
      await mGo.promise;
    });
    await mStarted.promise;
    await database.db.transaction((trx) => writeEvent(trx, { type: 'test.b', subject: 'b', data: {} }, origin));
    aGo.release();
    await a;
    const first = await listEvents(database.db, { limit: 100 });
    assert.deepEqual(
      first.events.map((e) => e.subject),
      ['a'],
      'A ended before the oldest running transaction (M); B did not',
    );
    mGo.release();
    await m;
    const next = await listEvents(database.db, { limit: 100, after: first.last });
    assert.deepEqual(
      next.events.map((e) => e.subject),
      ['b'],
    );
    const bySequence = await database.db('domain_events').orderBy('seq').select('subject');
    assert.deepEqual(
      bySequence.map((r) => r.subject),
      ['b', 'a'],
      'B holds the lower sequence number',
    );
  });
});
