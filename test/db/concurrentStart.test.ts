// Several instances starting at once against one database: migrations run once, exactly one
// current key per algorithm is created, and every instance publishes the same keys.
// On a PostgreSQL server (DATABASE_URL) each instance has its own connection pool; on PGlite
// they share the one connection, which still interleaves their start-up at every await.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { openDatabase, type Database } from '../../src/db/index.ts';
import { migrate } from '../../src/db/migrate.ts';

const INSTANCES = 3;

describe('concurrent start', () => {
  const servers: TestServer[] = [];
  const extraPools: Database[] = [];
  let database: TestDatabase;

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(extraPools.map((p) => p.close()));
    await database?.dispose();
  });

  it('migrates once and agrees on one set of keys', async () => {
    database = await createTestDatabase();
    // Start from an empty schema so the instances race on the migrations too.
    await database.db.raw('drop schema public cascade');
    await database.db.raw('create schema public');

    // PGlite belongs to one process, which migrates once when it opens the database: only the
    // key creation can race there.
    if (!database.url) await migrate(database.db);
    const started = await Promise.all(
      Array.from({ length: INSTANCES }, async () => {
        const own = database.url ? await openDatabase({ databaseUrl: database.url, poolMax: 3 }) : database;
        if (own !== database) extraPools.push(own);
        return startTestServer(own);
      }),
    );
    servers.push(...started);

    const migrationFiles = readdirSync(new URL('../../migrations/', import.meta.url)).filter((f) => f.endsWith('.ts'));
    const applied = await database.db('knex_migrations').select('name');
    assert.equal(applied.length, migrationFiles.length);

    const current = await database.db('keys').where('state', 'current').select('kind', 'alg');
    assert.deepEqual(current.map((k) => `${k.kind}:${k.alg}`).sort(), ['cookie:null', 'signing:ES256', 'signing:RS256']);

    const published = await Promise.all(
      servers.map(async (s) =>
        ((await (await fetch(new URL('/jwks', s.issuer))).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort(),
      ),
    );
    for (const kids of published) assert.deepEqual(kids, published[0]);
  });
});
