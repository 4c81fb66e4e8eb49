// One process owns an embedded database directory at a time: PGlite is single-process and two
// writers would corrupt it. proper-lockfile takes the lock atomically (mkdir) and keeps it fresh
// while we live; a lock left by a crashed process goes stale and is taken over. Unlike a pid
// file this holds across pid namespaces (two containers sharing a volume both run as pid 1).
// The directory is made private to our OS user: it holds every token and password hash.
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { logger } from '../http/logger.ts';

const STALE_MS = 10_000;

export class DataDirLockedError extends Error {
  constructor(dataDir: string, pid: number | undefined) {
    super(
      `The data directory ${dataDir} is in use by another Gatehouse process${pid ? ` (pid ${pid})` : ''}. ` +
        'Stop it, or point DATA_DIR elsewhere, or use DATABASE_URL for a shared PostgreSQL server.',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  release(): void;
}

const lockPath = (dataDir: string) => join(dataDir, 'gatehouse.lock');
// Who holds the lock, for the error message only (the lock directory itself must stay empty).
const ownerFile = (dataDir: string) => join(dataDir, 'gatehouse.pid');
const options = (dataDir: string) => ({ lockfilePath: lockPath(dataDir), realpath: false, stale: STALE_MS });

/** Creates DATA_DIR (or tightens it) so only our OS user can enter it. */
export function preparePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) {
    chmodSync(dir, 0o700);
    logger.warn('tightened data directory permissions to 0700', { dir });
  }
}

/** True while a live process holds the directory. */
export function isDataDirLocked(dataDir: string): boolean {
  try {
    return lockfile.checkSync(dataDir, options(dataDir));
  } catch {
    return false;
  }
}

function ownerPid(dataDir: string): number | undefined {
  try {
    return Number(readFileSync(ownerFile(dataDir), 'utf8')) || undefined;
  } catch {
    return undefined;
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  preparePrivateDir(dataDir);
  let release: () => void;
  try {
    release = lockfile.lockSync(dataDir, {
      ...options(dataDir),
      // Losing the lock means another process may now write the same files: stop at once.
      onCompromised: (error: Error) => {
        logger.error('lost the data directory lock; stopping to protect the database', { error: error.message });
        process.exit(1);
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new DataDirLockedError(dataDir, ownerPid(dataDir));
    throw error;
  }
  writeFileSync(ownerFile(dataDir), String(process.pid));
  return {
    release: () => {
      try {
        rmSync(ownerFile(dataDir), { force: true });
        release();
      } catch {
        // already released
      }
    },
  };
}
