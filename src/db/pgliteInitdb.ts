// Creates a new embedded database in the directory given, then exits. openPglite runs this as a
// process of its own: PGlite's initdb runs a second PostgreSQL and holds a copy of the new
// cluster in memory, about 100 MB that the allocator keeps in a long-running server after it is
// freed. An exiting process gives all of it back.
import { PGlite } from '@electric-sql/pglite';
import { PGLITE_START_PARAMS } from './pgliteSettings.ts';

const [pgdata] = process.argv.slice(2);
if (!pgdata) {
  process.stderr.write('usage: pgliteInitdb.ts PGDATA\n');
  process.exit(2);
}
try {
  const pglite = new PGlite(pgdata, { startParams: PGLITE_START_PARAMS });
  await pglite.waitReady;
  await pglite.close();
} catch (error) {
  // What the server puts in its error. PGlite's file system errors carry only an errno.
  const { message, name, errno } = error as { message?: string; name?: string; errno?: number };
  process.stderr.write(`${message || `${name ?? 'error'} (errno ${errno})`}\n`);
  process.exit(1);
}
