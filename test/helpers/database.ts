// A fresh database per test file: an in-memory PGlite by default, or, when DATABASE_URL is set
// (CI), a new database created on that PostgreSQL server and dropped afterwards, so test files
// running in parallel never see each other's rows.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/index.ts';
import { clearReadCaches } from '../../src/db/readCache.ts';

export interface TestDatabase extends Database {
  /** The connection string of this test's own database (undefined on PGlite). */
  url?: string;
  /** Closes the connection and drops the per-test database. */
  dispose(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const database = await openDatabase({ memory: true });
    return { ...database, dispose: () => database.close() };
  }
  const scratch = await createScratchDatabase(serverUrl);
  const database = await openDatabase({ databaseUrl: scratch.url, poolMax: 5 });
  return {
    ...database,
    url: scratch.url,
    dispose: async () => {
      await database.close();
      await scratch.drop();
    },
  };
}

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** An empty database of its own on the PostgreSQL server at `serverUrl`, dropped by drop(). */
export async function createScratchDatabase(serverUrl: string, prefix = 'gatehouse_test'): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `create database ${name}`);
  return { name, url: withDatabase(serverUrl, name), drop: () => adminQuery(serverUrl, `drop database if exists ${name} with (force)`) };
}

export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Empties every table but the migration bookkeeping, between tests that share a database. */
export async function truncateAll(database: Database): Promise<void> {
  clearReadCaches(database.db);
  await database.db.raw(
    'truncate oidc_payloads, client_api_access, clients, resource_servers, keys, users, one_time_tokens, mail_queue, verification_records, passkeys, totp_factors, recovery_codes, known_devices, audit_events, rate_limits, secret_key_handovers, domain_events, idempotency_keys, policy_acceptances, consent_records, profile_attribute_states, connections, federated_identities',
  );
}

/** An artefact row written straight into the table, as an earlier release of Gatehouse left it. */
export interface EarlierArtefactRow {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  grant_id?: string;
  user_code?: string;
  uid?: string;
}

/** Writes `rows` into oidc_payloads as they are (no adapter), live for an hour: what a migration finds. */
export async function insertEarlierArtefacts(database: Database, rows: EarlierArtefactRow[]): Promise<void> {
  for (const row of rows) {
    await database
      .db('oidc_payloads')
      .insert({ ...row, payload: JSON.stringify(row.payload), expires_at: database.db.raw("now() + interval '1 hour'") });
  }
}
