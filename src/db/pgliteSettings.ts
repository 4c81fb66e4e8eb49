// How the embedded PostgreSQL is started, shared by the server and the process that creates a
// new data directory (pgliteInitdb.ts).
import { PGlite } from '@electric-sql/pglite';

/**
 * PostgreSQL's memory settings for the one session PGlite runs. Its defaults are a server's
 * (shared_buffers 128MB, max_connections 100, wal_buffers 4MB), and PostgreSQL sets up shared
 * memory for all of that when it starts: most of PGlite's share of an idle `npm start`, for a
 * single session. The embedded working set fits in far less, and the benchmark is not slower
 * with it (README, "Memory").
 */
export const PGLITE_SETTINGS = {
  shared_buffers: '16MB',
  wal_buffers: '1MB',
  max_connections: '4',
} as const;

export const PGLITE_START_PARAMS = [
  ...PGlite.defaultStartParams,
  ...Object.entries(PGLITE_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
];
