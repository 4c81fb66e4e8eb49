// The sign-in gate on each store it can use: memory (embedded database), PostgreSQL (shared by
// instances; CI) and Redis (REDIS_URL; skipped where no Redis answers on 127.0.0.1:6379, except
// with REQUIRE_REDIS, which CI sets).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createAbuseDefence, type AbuseDefence, type SignInDecision } from '../../src/abuse/index.ts';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function redisAnswers(): Promise<boolean> {
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const SETTINGS = { signInDelayAfter: 2, signInLockAfter: 5, signInLockMinutes: 15 };
const reasonOf = (d: SignInDecision) => (d.allowed ? 'allowed' : d.reason);

function gateTests(name: string, open: () => Promise<{ abuse: AbuseDefence; close(): Promise<void> } | string>) {
  describe(`sign-in gate on ${name}`, () => {
    let abuse: AbuseDefence | undefined;
    let close: (() => Promise<void>) | undefined;
    let skip: string | undefined;
    // Each run uses email addresses and IPs of its own: the Redis store outlives the test run,
    // and the per-source limit holds for a day, so fixed IPs would run out after a few dozen runs.
    const run = `${process.pid}-${Date.now()}`;
    const site = randomBytes(2).toString('hex');
    /** Source number n of this run: a /64 of its own in a documentation /48 chosen per run. */
    const source = (n: number) => `2001:db8:${site}:${n.toString(16)}::1`;

    before(async () => {
      const opened = await open();
      if (typeof opened === 'string') skip = opened;
      else ({ abuse, close } = opened);
    });
    after(() => close?.());

    it('slows an address down after the delay threshold, then locks it once, from any number of sources', async (t) => {
      if (skip) return t.skip(skip);
      const gate = (abuse as AbuseDefence).signIn;
      const address = `victim-${run}@example.com`;
      const seen: string[] = [];
      let lockedNow = 0;
      for (let i = 0; i < 8; i++) {
        const decision = await gate.attempt(address, source(i + 1));
        seen.push(reasonOf(decision));
        if (!decision.allowed && decision.lockedNow) lockedNow++;
      }
      // Two free failures, one more after the first delay, then tries too early are refused and
      // counted, and the sixth try (one over the limit of five) locks the address.
      assert.deepEqual(seen, ['allowed', 'allowed', 'allowed', 'slow_down', 'slow_down', 'locked', 'locked', 'locked']);
      assert.equal(lockedNow, 1);
      // Another address is not affected.
      assert.equal(reasonOf(await gate.attempt(`bystander-${run}@example.com`, source(1))), 'allowed');
    });

    it('locks exactly once when many tries arrive at the same time', async (t) => {
      if (skip) return t.skip(skip);
      const gate = (abuse as AbuseDefence).signIn;
      const address = `parallel-${run}@example.com`;
      const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => gate.attempt(address, source(100 + i))));
      assert.equal(decisions.filter((d) => !d.allowed && d.lockedNow).length, 1);
      assert.ok(decisions.filter((d) => d.allowed).length <= SETTINGS.signInLockAfter);
    });

    it('lifts the lock when the owner is forgiven (a password reset)', async (t) => {
      if (skip) return t.skip(skip);
      const gate = (abuse as AbuseDefence).signIn;
      const address = `forgiven-${run}@example.com`;
      for (let i = 0; i < 7; i++) await gate.attempt(address, source(200 + i));
      assert.equal(reasonOf(await gate.attempt(address, source(300))), 'locked');
      await gate.forgive(address);
      assert.equal(reasonOf(await gate.attempt(address, source(301))), 'allowed');
    });

    it('counts the addresses of one IPv6 /64 as one source', async (t) => {
      if (skip) return t.skip(skip);
      const gate = (abuse as AbuseDefence).signIn;
      const address = `v6-${run}@example.com`;
      // Five failures for one address from one source are allowed; the sixth is refused, even
      // though each came from another address of the same /64.
      const decisions = [];
      for (let i = 1; i <= 6; i++) {
        await gate.forgive(address); // keep the account-wide limit out of the way
        decisions.push(reasonOf(await gate.attempt(address, `2001:db8:${site}:ffff::${i.toString(16)}`)));
      }
      assert.deepEqual(decisions, ['allowed', 'allowed', 'allowed', 'allowed', 'allowed', 'source']);
    });
  });
}

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
  await truncateAll(database);
});
after(() => database.dispose());

gateTests(process.env.DATABASE_URL ? 'PostgreSQL' : 'memory (embedded database)', async () => {
  const abuse = createAbuseDefence(database, SETTINGS);
  return { abuse, close: () => abuse.close() };
});

gateTests('Redis', async () => {
  if (!(await redisAnswers())) {
    // CI has Redis and sets REQUIRE_REDIS, so these tests cannot quietly skip there.
    if (process.env.REQUIRE_REDIS) throw new Error(`REQUIRE_REDIS is set but no Redis answers at ${REDIS_URL}`);
    return `no Redis answers at ${REDIS_URL} (CI sets REQUIRE_REDIS so that this cannot skip there)`;
  }
  const abuse = createAbuseDefence(database, { ...SETTINGS, redisUrl: REDIS_URL });
  return { abuse, close: () => abuse.close() };
});
