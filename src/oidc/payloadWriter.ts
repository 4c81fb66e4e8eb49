// Group commit for protocol artefacts. Every token, code, session and interaction the provider
// issues is one durable row; under load, each of them committing on its own spends most of the
// server's effort on round trips and WAL flushes. The writer sends one statement at a time:
// rows that arrive while it is in flight wait and go together in the next one, so N concurrent
// token requests cost one round trip and one commit instead of N.
//
// - Durability is unchanged: a caller's promise settles only once its row is committed.
// - An idle server writes a row at once; a row waits only behind a statement already running.
// - Rows apply in the order the provider wrote them: one statement at a time, and within a
//   statement the last write of a (model, id) wins.
// - A row the database refuses (a unique index, a bad value) fails alone: a refused statement
//   is retried row by row, so the others in it still commit.
import type { Db } from '../db/index.ts';

export interface PayloadRow {
  model: string;
  id: string;
  /** The payload, already serialised as JSON. */
  payload: string;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  expiresAt: Date | null;
}

interface PendingWrite {
  row: PayloadRow;
  resolve: () => void;
  reject: (error: unknown) => void;
}

// unnest() turns one array per column into rows, so one statement text serves any
// number of rows.
const UPSERT_ROWS_SQL = `insert into oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
  select * from unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
  on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
    user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`;

/** Enough to drain a burst in a few statements, small enough to keep one statement short. */
const MAX_ROWS_PER_STATEMENT = 200;

// SQLSTATE classes that blame a row rather than the connection: cardinality (21), data
// exception (22), integrity constraint violation (23).
const ROW_ERROR_CLASSES = new Set(['21', '22', '23']);
const blamesARow = (error: unknown) => ROW_ERROR_CLASSES.has(String((error as { code?: unknown })?.code ?? '').slice(0, 2));

interface Queryable {
  query(...args: unknown[]): Promise<unknown>;
}

export class PayloadWriter {
  private readonly db: Db;
  private queue: PendingWrite[] = [];
  private writing = false;

  constructor(db: Db) {
    this.db = db;
  }

  /** Resolves once the row is committed; rejects with the database's error if it is not. */
  write(row: PayloadRow): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.writeNext();
    });
  }

  private writeNext(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch = this.queue.splice(0, MAX_ROWS_PER_STATEMENT);
    this.commit(batch).finally(() => {
      this.writing = false;
      this.writeNext();
    });
  }

  private async commit(batch: PendingWrite[]): Promise<void> {
    try {
      await this.upsert(batch.map((pending) => pending.row));
      for (const pending of batch) pending.resolve();
    } catch (error) {
      if (batch.length > 1 && blamesARow(error)) {
        for (const pending of batch) await this.commit([pending]);
        return;
      }
      for (const pending of batch) pending.reject(error);
    }
  }

  private async upsert(rows: PayloadRow[]): Promise<void> {
    const values = toColumns(lastWriteWins(rows));
    // Announced like any knex query, so query listeners (the benchmark's counter) still see it.
    this.db.emit('query', { sql: UPSERT_ROWS_SQL, bindings: values, method: 'raw' });
    const connection: Queryable = await this.db.client.acquireConnection();
    try {
      // Both pg's Client and PGlite take (text, params). The statement is deliberately unnamed:
      // a named one breaks behind a pooler in transaction mode, and parsing it is shared by the
      // rows of a statement anyway.
      await connection.query(UPSERT_ROWS_SQL, values);
    } finally {
      await this.db.client.releaseConnection(connection);
    }
  }
}

// One statement cannot upsert the same row twice; the later write of it is the one that counts.
function lastWriteWins(rows: PayloadRow[]): PayloadRow[] {
  if (rows.length === 1) return rows; // an idle server's every write: nothing to merge
  const byKey = new Map<string, PayloadRow>();
  for (const row of rows) {
    const key = `${row.model}\u0000${row.id}`; // NUL cannot occur in either (refused before)
    byKey.delete(key);
    byKey.set(key, row);
  }
  return [...byKey.values()];
}

function toColumns(rows: PayloadRow[]): unknown[][] {
  const columns: unknown[][] = [[], [], [], [], [], [], []];
  for (const row of rows) {
    columns[0].push(row.model);
    columns[1].push(row.id);
    columns[2].push(row.payload);
    columns[3].push(row.grantId);
    columns[4].push(row.userCode);
    columns[5].push(row.uid);
    columns[6].push(row.expiresAt);
  }
  return columns;
}

const writers = new WeakMap<Db, PayloadWriter>();

/** The one writer of a database, so that every adapter's rows share its statements and order. */
export function payloadWriterFor(db: Db): PayloadWriter {
  let writer = writers.get(db);
  if (!writer) {
    writer = new PayloadWriter(db);
    writers.set(db, writer);
  }
  return writer;
}
