// Applies the ordered migrations in migrations/. Several instances may start at once against
// one PostgreSQL server: a session advisory lock makes them take turns, so the first migrates
// and the others find nothing left to do.
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Knex } from 'knex';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
// Arbitrary constant that names "Gatehouse schema migration" among advisory locks.
const MIGRATION_LOCK_ID = 7_401_946_213;

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    const files = await readdir(MIGRATIONS_DIR);
    return files.filter((f) => /^\d+_[\w-]+\.ts$/.test(f)).sort();
  },
  getMigrationName: (file) => file.replace(/\.ts$/, ''),
  async getMigration(file) {
    return (await import(pathToFileURL(join(MIGRATIONS_DIR, file)).href)) as MigrationModule;
  },
};

export async function migrate(db: Knex, kind: 'postgres' | 'pglite'): Promise<string[]> {
  if (kind === 'pglite') return run(db);
  const connection = await db.client.acquireConnection();
  try {
    await connection.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    return await run(db);
  } finally {
    await connection.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
    await db.client.releaseConnection(connection);
  }
}

async function run(db: Knex): Promise<string[]> {
  // knex's own lock table stays on as a second guard; the advisory lock is what makes
  // concurrent starts wait instead of failing with "migration table is already locked".
  const [, applied] = (await db.migrate.latest({ migrationSource, tableName: 'knex_migrations' })) as [number, string[]];
  return applied;
}
