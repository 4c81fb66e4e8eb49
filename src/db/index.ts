// The database door: opens PostgreSQL (DATABASE_URL) or the embedded PGlite under DATA_DIR,
// and applies migrations. Everything else receives a `Db` (knex) and never knows which it got.
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { PGlite } from '@electric-sql/pglite';
import { lockDataDir, type DataDirLock } from './dataDirLock.ts';
import { migrate } from './migrate.ts';
import { logger } from '../http/logger.ts';

export type Db = Knex;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** The server's connection string (PostgreSQL only). */
  url?: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl?: string;
  dataDir?: string;
  /** PGlite in memory, for tests and benchmarks that want a throw-away database. */
  memory?: boolean;
  poolMax?: number;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  const database = options.databaseUrl ? openPostgres(options.databaseUrl, options.poolMax ?? 10) : await openPglite(options);
  try {
    await migrate(database.db, database.url);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

// knex reports connection trouble on the console; send it to our JSON log instead.
const knexLog = {
  warn: (message: unknown) => logger.warn('database', { detail: String(message) }),
  error: (message: unknown) => logger.warn('database', { detail: String(message) }),
  deprecate: (method: unknown, alternative: unknown) => logger.warn('database deprecation', { detail: `${method} -> ${alternative}` }),
  debug: () => {},
};

function openPostgres(url: string, poolMax: number): Database {
  const db = knexFactory({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 3000 },
    pool: { min: 0, max: poolMax },
    // Fail fast when the server is down so callers answer 503 instead of hanging.
    acquireConnectionTimeout: 5000,
    log: knexLog,
  });
  return { db, kind: 'postgres', url, close: () => db.destroy() };
}

// knex-pglite reports a delete as command "DEL", so knex returns the raw result instead of the
// row count that `.delete()` promises on the pg driver. Naming the method in full fixes that.
class PgLiteClient extends (ClientPgLite as unknown as new (
  config: Knex.Config,
) => { processResponse(obj: { method?: string }, runner: unknown): unknown }) {
  override processResponse(obj: { method?: string }, runner: unknown) {
    return super.processResponse(obj.method === 'del' ? { ...obj, method: 'delete' } : obj, runner);
  }
}

async function openPglite(options: OpenOptions): Promise<Database> {
  let lock: DataDirLock | undefined;
  let pglite: PGlite;
  if (options.memory) {
    pglite = new PGlite();
  } else {
    const dataDir = options.dataDir ?? './data';
    lock = lockDataDir(dataDir);
    pglite = new PGlite(join(dataDir, 'pgdata'));
  }
  try {
    await pglite.waitReady;
  } catch (error) {
    lock?.release();
    throw error;
  }
  const db = knexFactory({ client: PgLiteClient, dialect: 'postgres', connection: { pglite } } as unknown as Knex.Config);
  return {
    db,
    kind: 'pglite',
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
      lock?.release();
    },
  };
}
