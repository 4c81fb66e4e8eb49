// Sign-in throttling (OWASP: limit consecutive failures per account and per source). Attempts
// count per typed email + IP (5 in 15 minutes, then a 15-minute block) and per IP (100 a day).
// The point is taken before the password is checked, atomically in the store, so parallel
// guesses cannot slip past the limit; a success gives it back. Whether the email exists plays no
// part, so the limit reveals nothing about accounts.
// Counters live in PostgreSQL (shared by every instance) on a server, and in memory on the
// embedded database, which only one process may open anyway.
import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from '../../db/index.ts';

const PER_ACCOUNT = { points: 5, duration: 15 * 60, blockDuration: 15 * 60 };
const PER_IP = { points: 100, duration: 24 * 3600, blockDuration: 24 * 3600 };

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface LoginThrottle {
  /** Takes one attempt from the budgets of this email + IP and of this IP. */
  attempt(email: string, ip: string): Promise<ThrottleDecision>;
  /** The attempt succeeded: forget this email + IP's failures and give the IP its point back. */
  succeeded(email: string, ip: string): Promise<void>;
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

/** Resolves to the wait in seconds when the limiter refused, or 0 when the point was taken. */
async function take(l: RateLimiterAbstract, key: string): Promise<number> {
  try {
    await l.consume(key);
    return 0;
  } catch (refusal) {
    if (!(refusal instanceof RateLimiterRes)) throw refusal;
    return Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
  }
}

export function createLoginThrottle(database: Database): LoginThrottle {
  const perAccount = limiter(database, 'login_account', PER_ACCOUNT);
  const perIp = limiter(database, 'login_ip', PER_IP);
  const accountKey = (email: string, ip: string) => digest(email.trim().toLowerCase(), ip);
  const ipKey = (ip: string) => digest(ip);

  return {
    async attempt(email, ip) {
      const waits = await Promise.all([take(perAccount, accountKey(email, ip)), take(perIp, ipKey(ip))]);
      const wait = Math.max(...waits);
      return wait > 0 ? { allowed: false, retryAfterSeconds: wait } : { allowed: true };
    },
    async succeeded(email, ip) {
      await Promise.all([perAccount.delete(accountKey(email, ip)), perIp.reward(ipKey(ip), 1)]);
    },
  };
}

/** Deletes expired counters (PostgreSQL store only). */
export async function sweepRateLimits(database: Database): Promise<number> {
  if (database.kind === 'pglite') return 0;
  return database.db('rate_limits').where('expire', '<', Date.now()).delete();
}
