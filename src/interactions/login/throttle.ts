// Sign-in throttling (OWASP: limit consecutive failures per account and per source). Failures
// count per typed email + IP (5 in 15 minutes, then a 15-minute block) and per IP (100 a day).
// The check runs before the password is verified and does not depend on whether the email
// exists, so it neither reveals accounts nor lets a blocked guesser learn anything.
// Counters live in PostgreSQL (shared by every instance) on a server, and in memory on the
// embedded database, which only one process may open anyway.
import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from '../../db/index.ts';

const PER_ACCOUNT = { points: 5, duration: 15 * 60, blockDuration: 15 * 60 };
const PER_IP = { points: 100, duration: 24 * 3600, blockDuration: 24 * 3600 };

export interface LoginThrottle {
  /** Seconds to wait when this attempt must be refused, else 0. */
  retryAfter(email: string, ip: string): Promise<number>;
  recordFailure(email: string, ip: string): Promise<void>;
  recordSuccess(email: string, ip: string): Promise<void>;
}

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex');

function limiter(database: Database, prefix: string, options: typeof PER_ACCOUNT): RateLimiterAbstract {
  if (database.kind === 'pglite') return new RateLimiterMemory({ keyPrefix: prefix, ...options });
  return new RateLimiterPostgres({
    storeClient: database.db,
    storeType: 'knex',
    tableName: 'rate_limits',
    tableCreated: true,
    clearExpiredByTimeout: false, // the sweeper deletes expired counters
    keyPrefix: prefix,
    ...options,
  });
}

export function createLoginThrottle(database: Database): LoginThrottle {
  const perAccount = limiter(database, 'login_account', PER_ACCOUNT);
  const perIp = limiter(database, 'login_ip', PER_IP);
  const accountKey = (email: string, ip: string) => digest(email.trim().toLowerCase(), ip);
  const ipKey = (ip: string) => digest(ip);

  return {
    async retryAfter(email, ip) {
      const [account, source] = await Promise.all([perAccount.get(accountKey(email, ip)), perIp.get(ipKey(ip))]);
      const blocked = [
        [account, PER_ACCOUNT.points],
        [source, PER_IP.points],
      ] as const;
      const waits = blocked
        .filter(([res, points]) => res && res.consumedPoints >= points)
        .map(([res]) => Math.ceil((res as RateLimiterRes).msBeforeNext / 1000));
      return waits.length ? Math.max(1, ...waits) : 0;
    },
    async recordFailure(email, ip) {
      // consume() rejects with a RateLimiterRes once the limit is passed (and starts the block);
      // that is the expected outcome here, not an error.
      const count = (l: RateLimiterAbstract, key: string) =>
        l.consume(key).catch((error: unknown) => {
          if (!(error instanceof RateLimiterRes)) throw error;
        });
      await Promise.all([count(perAccount, accountKey(email, ip)), count(perIp, ipKey(ip))]);
    },
    async recordSuccess(email, ip) {
      await perAccount.delete(accountKey(email, ip));
    },
  };
}

/** Deletes expired counters (PostgreSQL store only). */
export async function sweepRateLimits(database: Database): Promise<number> {
  if (database.kind === 'pglite') return 0;
  return database.db('rate_limits').where('expire', '<', Date.now()).delete();
}
