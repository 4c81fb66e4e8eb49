// Where rate-limit counters live: Redis when REDIS_URL is set, otherwise the PostgreSQL server's
// rate_limits table (shared by every instance), or memory on the embedded database (which only
// one process may open anyway; rate-limiter-flexible's PostgreSQL store does not run on PGlite).
// Keys are digests: the table never holds an email or an IP.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from '../db/index.ts';

export interface LimitRule {
  points: number;
  /** Seconds the points are counted over. */
  duration: number;
  /** Seconds a key stays refused once it has used its points (0: until the window ends). */
  blockDuration?: number;
}

export interface LimiterStore {
  kind: 'redis' | 'postgres' | 'memory';
  limiter(prefix: string, rule: LimitRule): RateLimiterAbstract;
  close(): Promise<void>;
}

export function openLimiterStore(database: Database, redisUrl: string | undefined): LimiterStore {
  if (redisUrl) {
    // Counting must not wait long on a Redis that went away: a command fails after two seconds
    // (and the request with it) instead of waiting for a reconnection.
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 2000 });
    redis.on('error', () => {}); // reconnects by itself; each refused command fails its request
    return {
      kind: 'redis',
      limiter: (keyPrefix, rule) => new RateLimiterRedis({ storeClient: redis, useRedisPackage: false, keyPrefix, ...rule }),
      close: async () => {
        redis.disconnect();
      },
    };
  }
  if (database.kind === 'pglite') {
    return { kind: 'memory', limiter: (keyPrefix, rule) => new RateLimiterMemory({ keyPrefix, ...rule }), close: async () => {} };
  }
  return {
    kind: 'postgres',
    limiter: (keyPrefix, rule) =>
      new RateLimiterPostgres({
        storeClient: database.db,
        storeType: 'knex',
        tableName: 'rate_limits',
        tableCreated: true,
        clearExpiredByTimeout: false, // the sweeper deletes expired counters
        keyPrefix,
        ...rule,
      }),
    close: async () => {},
  };
}

export const limitKey = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex');

/** What taking a point said: `wait` is 0 when it was taken, else the seconds until it may be. */
export interface Taken {
  wait: number;
  /** Points used in the window, this one included (also when refused). */
  used: number;
}

/** Takes a point; a refusal is an answer, not an error. */
export async function take(limiter: RateLimiterAbstract, key: string, options?: { customDuration?: number }): Promise<Taken> {
  try {
    const res = await limiter.consume(key, 1, options);
    return { wait: 0, used: res.consumedPoints };
  } catch (refusal) {
    if (!(refusal instanceof RateLimiterRes)) throw refusal;
    return { wait: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)), used: refusal.consumedPoints };
  }
}

/** Deletes expired counters (PostgreSQL store only; Redis and memory expire by themselves). */
export async function sweepRateLimits(database: Database): Promise<number> {
  if (database.kind === 'pglite') return 0;
  return database.db('rate_limits').where('expire', '<', Date.now()).delete();
}
