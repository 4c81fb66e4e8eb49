// Applies the ordered migrations in migrations/. Several instances may start at once against
// one PostgreSQL server: a session advisory lock makes them take turns, so the first migrates
// and the others find nothing left to do.
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Knex } from 'knex';
import pg from 'pg';

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

/**
 * Brings the schema up to date. On a PostgreSQL server, `lockUrl` names it: the advisory lock is
 * held on a connection of its own, outside knex's pool, so even a pool of one can migrate.
 */
export async function migrate(db: Knex, lockUrl?: string): Promise<string[]> {
  if (!lockUrl) return run(db);
  const lock = new pg.Client({ connectionString: lockUrl, connectionTimeoutMillis: 5000 });
  await lock.connect();
  try {
    await lock.query(`select pg_advisory_lock(${MIGRATION_LOCK_ID})`);
    return await run(db);
  } finally {
    // Ending the session releases the lock even if the unlock itself fails.
    await lock.query(`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`).catch(() => {});
    await lock.end().catch(() => {});
  }
}

async function run(db: Knex): Promise<string[]> {
  // knex's own lock table stays on as a second guard; the advisory lock is what makes
  // concurrent starts wait instead of failing with "migration table is already locked".
  const [, applied] = (await db.migrate.latest({ migrationSource, tableName: 'knex_migrations' })) as [number, string[]];
  return applied;
}
