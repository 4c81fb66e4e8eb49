// Named prepared statements for the hottest SQL (artefact writes, consumes, the token read-ahead).
// On a PostgreSQL server a named statement is parsed and planned once per connection rather than
// on every execution: planning was about a third of the database's CPU per token, and 0.4 ms of
// the 0.5 ms the read-ahead join takes. Where sessions do not keep prepared statements (a pooler
// in transaction mode, PGlite behind a socket server) the server answers 42P05 or 26000, and from
// then on the statement text is sent each time, which works everywhere. The embedded database
// (in process) always sends the text.
import type { Db } from './index.ts';
import { logger } from '../http/logger.ts';
import { perDatabase } from './perDatabase.ts';

/** A driver connection (pg's Client, or PGlite): what knex's pool hands out. */
export interface Queryable {
  query(...args: unknown[]): Promise<unknown>;
}

// A session that already has a statement of that name (42P05), or has lost it (26000).
const PREPARED_STATEMENT_TROUBLE = new Set(['42P05', '26000']);
const sqlState = (error: unknown) => String((error as { code?: unknown })?.code ?? '');

export const FALLBACK_WARNING = 'database sessions do not keep prepared statements; artefacts are written with plain statements';

export class PreparedStatements {
  private readonly db: Db;
  private prepared: boolean;

  constructor(db: Db) {
    this.db = db;
    this.prepared = db.client.config.client === 'pg';
  }

  /** False on the embedded database, and after a server turned out not to keep prepared statements. */
  get inUse(): boolean {
    return this.prepared;
  }

  /** Runs `text` ($1, $2, … placeholders) on `connection`, as the named statement where it can. */
  async run(connection: Queryable, name: string, text: string, values: unknown[]): Promise<{ rows: Record<string, unknown>[] }> {
    // Announced like any knex query, so query listeners (the benchmark's counter) still see it.
    this.db.emit('query', { sql: text, bindings: values, method: 'raw' });
    if (this.prepared) {
      try {
        // pg's Client prepares the statement once per connection, and again on a new one.
        return (await connection.query({ name, text, values })) as { rows: Record<string, unknown>[] };
      } catch (error) {
        if (!PREPARED_STATEMENT_TROUBLE.has(sqlState(error))) throw error;
        // Not executed; behind this connection sessions are shared or swapped: from now on send
        // the text each time.
        this.prepared = false;
        logger.warn(FALLBACK_WARNING, { detail: (error as Error).message });
      }
    }
    return (await connection.query(text, values)) as { rows: Record<string, unknown>[] };
  }

  /** The same, on a connection of the pool taken for this one statement. */
  async query(name: string, text: string, values: unknown[]): Promise<{ rows: Record<string, unknown>[] }> {
    const connection = (await this.db.client.acquireConnection()) as Queryable;
    try {
      return await this.run(connection, name, text, values);
    } finally {
      await this.db.client.releaseConnection(connection);
    }
  }
}

/** One per database, so that every user learns at once when sessions do not keep statements. */
export const preparedStatementsFor = perDatabase((db) => new PreparedStatements(db));
