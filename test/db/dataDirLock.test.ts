// The embedded database's directory: private to our OS user, held by one process at a time,
// and taken over when the process that held it died.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, isDataDirLocked, lockDataDir } from '../../src/db/dataDirLock.ts';

describe('data directory lock', () => {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('creates the directory private (0700) and tightens an open one', () => {
    const fresh = join(root, 'fresh');
    lockDataDir(fresh).release();
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    const open = join(root, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    lockDataDir(open).release();
    assert.equal(statSync(open).mode & 0o777, 0o700);
  });

  it('refuses a second holder, naming the first, until it releases', () => {
    const dir = join(root, 'held');
    const lock = lockDataDir(dir);
    assert.equal(isDataDirLocked(dir), true);
    assert.throws(
      () => lockDataDir(dir),
      (error: unknown) => error instanceof DataDirLockedError && error.message.includes(`(pid ${process.pid})`),
    );
    lock.release();
    assert.equal(isDataDirLocked(dir), false);
    lockDataDir(dir).release();
  });

  it('takes over a lock whose holder stopped refreshing it (crashed)', () => {
    const dir = join(root, 'stale');
    mkdirSync(join(dir, 'gatehouse.lock'), { recursive: true });
    const longAgo = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'gatehouse.lock'), longAgo, longAgo);
    assert.equal(isDataDirLocked(dir), false);
    const lock = lockDataDir(dir);
    assert.equal(isDataDirLocked(dir), true);
    lock.release();
  });
});
