// A statement that never comes back (a silent network partition: nothing is closed, nothing
// answers) fails after the statement timeout, its connection is discarded, and the artefact
// writes queued behind it go through on a fresh connection instead of waiting forever. A
// statement that runs too long on the server is cancelled there, and the server says so.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { unpluggableDatabase, type UnpluggableDatabase } from '../helpers/unplugDatabase.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT } from '../helpers/relyingParty.ts';
import { openDatabase, type Database } from '../../src/db/index.ts';
import { payloadWriterFor, type PayloadRow } from '../../src/oidc/payloadWriter.ts';
import { isDatabaseUnavailable } from '../../src/http/databaseErrors.ts';

// Short, so the test waits little; the server's default is 10 s.
const STATEMENT_TIMEOUT_MS = 300;

const row = (id: string): PayloadRow => ({
  model: 'Session',
  id,
  payload: JSON.stringify({ kind: 'Session' }),
  grantId: null,
  userCode: null,
  uid: null,
  expiresAt: new Date(Date.now() + 60_000),
});

const unanswered = (error: unknown) => {
  assert.match((error as Error).message, /(^| - )Query read timeout$/); // knex puts the SQL in front
  assert.ok(isDatabaseUnavailable(error), 'answered as "database unavailable" (503)');
  return true;
};

describe('a statement that hangs without an error', () => {
  let relay: UnpluggableDatabase;
  let database: Database;
  const opened: Database[] = [];

  // Each test opens its own pool, so it knows which connections the partition catches.
  const open = async (poolMax: number) => {
    const own = await openDatabase({ databaseUrl: relay.url, poolMax, statementTimeoutMs: STATEMENT_TIMEOUT_MS });
    opened.push(own);
    return own;
  };

  before(async () => {
    relay = await unpluggableDatabase();
  });

  after(async () => {
    for (const own of opened) await own.close();
    await relay?.dispose();
  });

  // A bound of our own: before the fix the hung write, and everything behind it, never settled.
  it('fails alone; the writes queued behind it commit on a fresh connection', { timeout: 30_000 }, async () => {
    database = await open(2);
    const writer = payloadWriterFor(database.db);
    await writer.write(row('before-the-partition')); // the pool now holds one connection
    relay.stall();
    const swallowed = relay.swallowed();
    const hung = writer.write(row('sent-into-the-void'));
    await swallowed; // the upsert left on the stalled connection
    relay.resume();
    const behind = [writer.write(row('queued-behind-1')), writer.write(row('queued-behind-2'))];

    await assert.rejects(hung, unanswered);
    await Promise.all(behind);
    const stored = await database.db('oidc_payloads').where('model', 'Session').orderBy('id').pluck('id');
    assert.deepEqual(stored, ['before-the-partition', 'queued-behind-1', 'queued-behind-2']);
  });

  it('frees the pool: a plain query on a stalled connection fails, the next one is served', { timeout: 30_000 }, async () => {
    database = await open(1);
    await database.db.raw('select 1'); // the pool's one connection, idle
    relay.stall();
    const swallowed = relay.swallowed();
    const hung = Promise.resolve(database.db.raw('select 1')); // a knex query starts when awaited
    await swallowed;
    relay.resume();
    await assert.rejects(hung, unanswered);
    const { rows } = (await database.db.raw('select 2 as answer')) as { rows: { answer: number }[] };
    assert.deepEqual(rows, [{ answer: 2 }]);
  });

  // PGlite runs a statement to its end (it cannot interrupt itself): only the real server cancels.
  const onServer = process.env.DATABASE_URL ? {} : { skip: 'statement_timeout needs a PostgreSQL server (set DATABASE_URL)' };
  it('is cancelled by the server when it runs too long, and the connection stays usable', { timeout: 30_000, ...onServer }, async () => {
    database = await open(1);
    const backend = async () => ((await database.db.raw('select pg_backend_pid() as pid')) as { rows: { pid: number }[] }).rows[0].pid;
    const before = await backend();
    await assert.rejects(Promise.resolve(database.db.raw('select pg_sleep(5)')), (error: Error & { code?: string }) => {
      assert.equal(error.code, '57014');
      assert.match(error.message, /canceling statement due to statement timeout$/);
      assert.ok(isDatabaseUnavailable(error));
      return true;
    });
    assert.equal(await backend(), before); // the same session, still usable
  });

  describe('behind the HTTP server', () => {
    let server: TestServer;
    let clientId: string;

    before(async () => {
      database = await open(4);
      server = await startTestServer(database);
      clientId = (await createClient(database, server.config)).client_id;
    });

    after(async () => {
      await server?.close();
    });

    // Starting a sign-in stores an interaction (through the payload writer) and redirects to it.
    const authorize = () =>
      fetch(
        new URL(
          `/auth?client_id=${clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_REDIRECT)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
          server.issuer,
        ),
        { headers: { accept: 'text/html' }, redirect: 'manual' },
      );

    it('answers 503 while its statements go unanswered, and serves again afterwards', { timeout: 60_000 }, async () => {
      assert.equal((await authorize()).status, 303);
      relay.stall();
      const swallowed = relay.swallowed();
      const during = authorize();
      await swallowed;
      relay.resume();
      const response = await during;
      assert.equal(response.status, 503);
      assert.match(await response.text(), /We cannot reach our database right now/);
      // Every connection that was open during the partition fails once (503) and is dropped.
      let status = 503;
      for (let attempt = 0; attempt < 10 && status === 503; attempt++) status = (await authorize()).status;
      assert.equal(status, 303);
    });
  });
});
