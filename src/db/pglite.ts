// The embedded database: PGlite (PostgreSQL as WebAssembly) in this process, kept under
// DATA_DIR (locked, so a second process gets a clear error) or in memory for tests.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { PGlite } from '@electric-sql/pglite';
import { lockDataDir, type DataDirLock } from './dataDirLock.ts';
import { PGLITE_START_PARAMS as startParams } from './pgliteSettings.ts';
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
    pglite = new PGlite({ startParams });
  } else {
    const dataDir = options.dataDir ?? './data';
    lock = lockDataDir(dataDir);
    const pgdata = join(dataDir, 'pgdata');
    try {
      if (existsSync(pgdata) && !statSync(pgdata).isDirectory())
        throw new Error(`${pgdata} should be the embedded database's directory, but it is not a directory.`);
      if (!existsSync(join(pgdata, 'PG_VERSION'))) await createInAProcessOfItsOwn(pgdata);
    } catch (error) {
      lock.release();
      throw error;
    }
    pglite = new PGlite(pgdata, { startParams });
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

/** Runs pgliteInitdb.ts (see there why a process of its own); throws what it said if it failed. */
async function createInAProcessOfItsOwn(pgdata: string): Promise<void> {
  const script = fileURLToPath(new URL('./pgliteInitdb.ts', import.meta.url));
  const child = spawn(process.execPath, [script, pgdata], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  if (code !== 0) throw new Error(`Could not create the embedded database in ${pgdata} (${signal ?? `exit ${code}`}): ${stderr.trim()}`);
}
