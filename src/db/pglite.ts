// The embedded database: PGlite (PostgreSQL as WebAssembly) in this process, kept under
// DATA_DIR (locked, so a second process gets a clear error) or in memory for tests.
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { PGlite } from '@electric-sql/pglite';
import { lockDataDir, type DataDirLock } from './dataDirLock.ts';
import type { Database, OpenOptions } from './index.ts';

// knex-pglite reports a delete as command "DEL", so knex returns the raw result instead of the
// row count that `.delete()` promises on the pg driver. Naming the method in full fixes that.
class PgLiteClient extends (ClientPgLite as unknown as new (
  config: Knex.Config,
) => { processResponse(obj: { method?: string }, runner: unknown): unknown }) {
  override processResponse(obj: { method?: string }, runner: unknown) {
    return super.processResponse(obj.method === 'del' ? { ...obj, method: 'delete' } : obj, runner);
  }
}

export async function openPglite(options: OpenOptions): Promise<Database> {
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
