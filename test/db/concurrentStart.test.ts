// Several instances starting at once against one database: migrations run once, exactly one
// current key per algorithm is created, and every instance publishes the same keys.
// On a PostgreSQL server (DATABASE_URL) each instance has its own connection pool. PGlite belongs
// to one process and migrates once when that process opens it, so there is no second connection
// to race on the migrations with: that case runs on the server only (CI sets DATABASE_URL). The
// key creation still races on PGlite, where the instances share the one connection and
// interleave their start-up at every await.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { openDatabase, type Database } from '../../src/db/index.ts';

const INSTANCES = 3;
const ON_PGLITE = !process.env.DATABASE_URL;

describe('concurrent start', () => {
  let servers: TestServer[] = [];
  let extraPools: Database[] = [];
  let database: TestDatabase | undefined;

  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(extraPools.map((p) => p.close()));
    await database?.dispose();
    servers = [];
    extraPools = [];
    database = undefined;
  });

  /** Starts the instances all at once, each on its own pool where the database has pools. */
  async function startInstances(shared: TestDatabase): Promise<TestServer[]> {
    const started = await Promise.all(
      Array.from({ length: INSTANCES }, async () => {
        const own = shared.url ? await openDatabase({ databaseUrl: shared.url, poolMax: 3 }) : shared;
        if (own !== shared) extraPools.push(own);
        return startTestServer(own);
      }),
    );
    servers.push(...started);
    return started;
  }

  async function assertOneSetOfKeys(shared: TestDatabase, running: TestServer[]) {
    const current = await shared.db('keys').where('state', 'current').select('kind', 'alg');
    assert.deepEqual(current.map((k) => `${k.kind}:${k.alg}`).sort(), ['cookie:null', 'signing:ES256', 'signing:RS256']);
    const published = await Promise.all(
      running.map(async (s) =>
        ((await (await fetch(new URL('/jwks', s.issuer))).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort(),
      ),
    );
    assert.equal(published[0].length, 2);
    for (const kids of published) assert.deepEqual(kids, published[0]);
  }

  it('migrates an empty schema once when the instances race on it', {
    skip: ON_PGLITE && 'PGlite: one process, one connection, migrated when opened; no second connection can race (runs with DATABASE_URL)',
  }, async () => {
    database = await createTestDatabase();
    await database.db.raw('drop schema public cascade');
    await database.db.raw('create schema public');
    const running = await startInstances(database);

    const migrations = readdirSync(new URL('../../migrations/', import.meta.url))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, ''));
    const applied = await database.db('knex_migrations').select('name');
    assert.deepEqual(applied.map((m) => m.name).sort(), migrations.sort());
    await assertOneSetOfKeys(database, running);
  });

  it('creates one current key per algorithm when the instances race on an empty key table', async () => {
    database = await createTestDatabase();
    assert.equal(Number((await database.db('keys').count('* as n').first())?.n), 0);
    await assertOneSetOfKeys(database, await startInstances(database));
  });
});
