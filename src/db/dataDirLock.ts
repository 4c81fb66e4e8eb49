// One process owns an embedded database directory at a time: PGlite is single-process and two
// writers would corrupt it. The lock file holds the owner's pid so a stale lock (crash) is taken
// over, while a live owner makes the newcomer fail with a clear message.
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirLockedError extends Error {
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(
      `The data directory ${dataDir} is in use by another Gatehouse process (pid ${pid}). ` +
        'Stop it, or point DATA_DIR elsewhere, or use DATABASE_URL for a shared PostgreSQL server.',
    );
    this.name = 'DataDirLockedError';
    this.pid = pid;
  }
}

export interface DataDirLock {
  release(): void;
}

export function lockFilePath(dataDir: string): string {
  return join(dataDir, 'gatehouse.lock');
}

/** The pid holding the lock, or undefined when nobody alive holds it. */
export function lockOwner(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFilePath(dataDir), 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = lockFilePath(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return { release: () => releaseIfOurs(file) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = lockOwner(dataDir);
      if (owner !== undefined && owner !== process.pid) throw new DataDirLockedError(dataDir, owner);
      // Stale lock left by a crashed process: remove it and try once more.
      unlinkSync(file);
    }
  }
  throw new DataDirLockedError(dataDir, lockOwner(dataDir) ?? -1);
}

function releaseIfOurs(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
