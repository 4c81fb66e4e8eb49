// A short-lived in-process cache for rows read on every token request (clients, APIs, API
// access), which would otherwise cost a query each. Writes made through this process clear
// their entries at once; a change made by another process (another instance on the same
// PostgreSQL server, or the CLI with DATABASE_URL) is seen within TTL_MS. Misses are not cached,
// so anything newly created is visible everywhere at once.
import type { Db } from './index.ts';

const TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

export class ReadCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > Date.now()) return hit.value;
    const value = await load();
    if (value === undefined) {
      this.entries.delete(key);
      return undefined;
    }
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { value, expires: Date.now() + TTL_MS });
    return value;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

// One cache per database and purpose, shared by every store in the process that uses that
// database (the server's, and the admin socket's CLI commands), so their writes invalidate it.
const caches = new WeakMap<Db, Map<string, ReadCache<unknown>>>();

export function readCache<V>(db: Db, purpose: string): ReadCache<V> {
  let byPurpose = caches.get(db);
  if (!byPurpose) {
    byPurpose = new Map();
    caches.set(db, byPurpose);
  }
  let cache = byPurpose.get(purpose);
  if (!cache) {
    cache = new ReadCache<unknown>();
    byPurpose.set(purpose, cache);
  }
  return cache as ReadCache<V>;
}

/** Forgets everything cached for this database (after rows were changed behind our back). */
export function clearReadCaches(db: Db): void {
  for (const cache of caches.get(db)?.values() ?? []) cache.clear();
}
