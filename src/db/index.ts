// The database door: opens PostgreSQL (DATABASE_URL) or the embedded PGlite under DATA_DIR,
// and applies migrations. Everything else receives a `Db` (knex) and never knows which it got.
import knexFactory, { type Knex } from 'knex';
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
  // PGlite (PostgreSQL compiled to WebAssembly) is loaded only when it is used: a server on
  // PostgreSQL would otherwise carry its code in memory for nothing.
  const database = options.databaseUrl
    ? openPostgres(options.databaseUrl, options.poolMax ?? 10)
    : await (await import('./pglite.ts')).openPglite(options);
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
