// The database door: opens PostgreSQL (DATABASE_URL) or the embedded PGlite under DATA_DIR,
// and applies migrations. Everything else receives a `Db` (knex) and never knows which it got.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import knexFactory, { type Knex } from 'knex';
import type pg from 'pg';
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
  /**
   * PostgreSQL server only: how long one statement may run before the server cancels it (the
   * client gives up a little later; 0: never). Tests shorten it; the default suits the server.
   */
  statementTimeoutMs?: number;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  // PGlite (PostgreSQL compiled to WebAssembly) is loaded only when it is used: a server on
  // PostgreSQL would otherwise carry its code in memory for nothing.
  if (options.databaseUrl) {
    // A migration may rightly run longer than any statement may while serving (an index built
    // on a large table): it gets a connection of its own without the time limit.
    const migrator = openPostgres(options.databaseUrl, { poolMax: 1, statementTimeoutMs: 0 });
    try {
      await migrate(migrator.db, migrator.url);
    } finally {
      await migrator.close();
    }
    return openPostgres(options.databaseUrl, { poolMax: options.poolMax ?? 10, statementTimeoutMs: options.statementTimeoutMs });
  }
  const database = await (await import('./pglite.ts')).openPglite(options);
  try {
    await migrate(database.db);
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

// A statement that never comes back (a network partition that closes nothing, a server that
// stopped answering) must not hold its caller, nor every statement queued behind it, forever:
// - statement_timeout: the server cancels a statement that runs too long (SQLSTATE 57014), and
//   the connection stays usable;
// - query_timeout: the client gives up a little later, when not even that cancellation came back;
//   the connection is then discarded (see discardWhenUnanswered);
// - idle_in_transaction_session_timeout: a session whose client vanished mid-transaction gives
//   its row locks back instead of holding them until the server's TCP keepalive notices (hours);
// - keepAlive: the kernel probes idle connections, so a dead one does not wait in the pool.
const STATEMENT_TIMEOUT_MS = 10_000;
const ANSWER_GRACE_MS = 2_000;
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

function openPostgres(
  url: string,
  { poolMax, statementTimeoutMs = STATEMENT_TIMEOUT_MS }: { poolMax: number; statementTimeoutMs?: number },
): Database {
  const limited = statementTimeoutMs > 0;
  const db = knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      connectionTimeoutMillis: 3000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(limited
        ? {
            statement_timeout: statementTimeoutMs,
            query_timeout: statementTimeoutMs + ANSWER_GRACE_MS,
            idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
          }
        : {}),
    },
    pool: {
      min: 0,
      max: poolMax,
      afterCreate: (connection: pg.Client, done: (error: Error | null, connection: pg.Client) => void) => {
        discardWhenUnanswered(connection);
        done(null, connection);
      },
    },
    // Fail fast when the server is down so callers answer 503 instead of hanging.
    acquireConnectionTimeout: 5000,
    log: knexLog,
  });
  return { db, kind: 'postgres', url, close: () => db.destroy() };
}

const UNANSWERED = 'Query read timeout'; // pg's error when query_timeout passes

// When query_timeout passes, pg rejects the statement but keeps the connection waiting for its
// answer, and every later statement on it queues behind that: the payload writer, which keeps a
// connection for a burst, would fail batch after batch on it. Instead the socket is destroyed,
// which fails whatever was queued on it and marks the connection broken, and the caller hears of
// the timeout only once that is done: by the time it gives the connection back, knex's pool
// knows to drop it, and the next statement gets a fresh one.
function discardWhenUnanswered(connection: pg.Client): void {
  const query = connection.query as (...args: unknown[]) => unknown;
  const stream = () => (connection as unknown as { connection: { stream: Socket } }).connection.stream;
  const unanswered = (error: unknown) => (error as Error | null | undefined)?.message === UNANSWERED;
  const discard = async () => {
    const socket = stream();
    if (socket.closed) return;
    const closed = once(socket, 'close');
    socket.destroy();
    await closed;
  };
  connection.query = function queryOrDiscard(this: pg.Client, ...args: unknown[]) {
    const callback = args.at(-1);
    if (typeof callback === 'function') {
      args[args.length - 1] = (error: unknown, result: unknown) => {
        if (!unanswered(error)) return callback(error, result);
        void discard().then(() => callback(error));
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    if (!(result instanceof Promise)) return result;
    return result.catch(async (error: unknown) => {
      if (unanswered(error)) await discard();
      throw error;
    });
  } as pg.Client['query'];
}
