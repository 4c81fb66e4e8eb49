// The embedded database runs with the small memory settings of pgliteSettings.ts, both on a new
// data directory (created by a process of its own) and on reopening it, and in memory; a data
// directory it cannot create a database in is named in the error, and left unlocked.
// (errno 54 is ENOTDIR in PGlite's file system layer.)
// These are about PGlite itself, so they run on it whether or not DATABASE_URL is set.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '../../src/db/index.ts';
import { isDataDirLocked } from '../../src/db/dataDirLock.ts';
import { PGLITE_SETTINGS } from '../../src/db/pgliteSettings.ts';

async function settingsOf(database: Database): Promise<Record<string, string>> {
  const names = Object.keys(PGLITE_SETTINGS);
  const rows = (await database.db.raw('select name, current_setting(name) as value from unnest(?::text[]) as name', [names])) as {
    rows: { name: string; value: string }[];
  };
  return Object.fromEntries(rows.rows.map((r) => [r.name, r.value]));
}

describe('embedded database settings', () => {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-pglite-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('creates a new data directory and starts with the memory settings, then again on reopening it', async () => {
    const dataDir = join(root, 'data');
    for (const round of ['created', 'reopened']) {
      const database = await openDatabase({ dataDir });
      try {
        assert.deepEqual(await settingsOf(database), PGLITE_SETTINGS, round);
        assert.equal(existsSync(join(dataDir, 'pgdata', 'PG_VERSION')), true, round);
      } finally {
        await database.close();
      }
    }
  });

  it('starts an in-memory database with the same settings', async () => {
    const database = await openDatabase({ memory: true });
    try {
      assert.deepEqual(await settingsOf(database), PGLITE_SETTINGS);
    } finally {
      await database.close();
    }
  });

  it('says when the database directory is a file, and releases the data directory', async () => {
    const dataDir = join(root, 'file-in-the-way');
    mkdirSync(dataDir);
    const pgdata = join(dataDir, 'pgdata');
    writeFileSync(pgdata, 'a file where the database directory belongs');
    await assert.rejects(openDatabase({ dataDir }), {
      message: `${pgdata} should be the embedded database's directory, but it is not a directory.`,
    });
    assert.equal(isDataDirLocked(dataDir), false);
  });

  it('names the directory it could not create a database in, with the reason, and releases the data directory', async () => {
    const dataDir = join(root, 'cannot-create');
    const pgdata = join(dataDir, 'pgdata');
    mkdirSync(pgdata, { recursive: true });
    // initdb must make pgdata/global a directory; a file of that name stops it.
    writeFileSync(join(pgdata, 'global'), '');
    await assert.rejects(openDatabase({ dataDir }), {
      message: `Could not create the embedded database in ${pgdata} (exit 1): ErrnoError (errno 54)`,
    });
    assert.equal(isDataDirLocked(dataDir), false);
  });
});
