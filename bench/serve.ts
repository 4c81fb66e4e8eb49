// Gatehouse under test, in its own process (forked by bench/run.ts). Runs on the PostgreSQL
// database named by BENCH_DATABASE_URL, or on an in-memory PGlite when it is empty, and seeds
// what the scenarios need through our own code, not over HTTP.
//
// BCRYPT_COST is 10, the cost the password sign-in figures are quoted at, unless bench/run.ts was
// given --bcrypt-cost; no other scenario hashes a password (client secrets are stored as SHA-256
// digests), so it changes nothing else.
// TRUST_PROXY is on so that the password sign-in measurement can say, in X-Forwarded-For, which
// address each of its browsers comes from: the per-address sign-in limits then count each one
// on its own, as they would count real users, instead of all of them against 127.0.0.1.
import { loadConfig } from '../src/config.ts';
import { listenOnFreePort, startServer } from '../src/server.ts';
import { openDatabase } from '../src/db/index.ts';
import { setLogLevel } from '../src/http/logger.ts';
import { commandContext } from '../src/cli/context.ts';
import { createClient } from '../src/clients/index.ts';
import { createApi, grantApiAccess } from '../src/apis/index.ts';
import { createUser, findUserByEmail } from '../src/accounts/index.ts';
import {
  ACCOUNT_EMAIL,
  benchBcryptCost,
  BENCH_PASSWORD,
  API_TOKEN_TTL,
  APIS,
  CLIENT_ID,
  GRANT_TYPES,
  REDIRECT_URI,
  mintRefreshTokens,
} from './fixtures.ts';
import { serveTarget, type SeedUser } from './target.ts';

const BENCH_SECRET_KEY = 'bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz';
// Hashing is the slow part of creating a user; this many at once keep libuv's 4 threads busy.
const SEED_CONCURRENCY = 4;

/** The cost written in a stored hash ($gh1$$2b$10$… or a legacy $2b$10$…). */
const costOf = (hash: string | null | undefined) => {
  const cost = hash ? /\$2[aby]\$(\d{2})\$/.exec(hash)?.[1] : undefined;
  return cost === undefined ? null : Number(cost);
};

async function inBatches<T>(items: T[], size: number, each: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

await serveTarget(async () => {
  const databaseUrl = process.env.BENCH_DATABASE_URL || undefined;
  // Bound now and kept, so the issuer can name the port (nobody else can take it meanwhile).
  const { listener, port } = await listenOnFreePort('127.0.0.1');
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://localhost:${port}`,
    SECRET_KEY: BENCH_SECRET_KEY,
    BCRYPT_COST: String(benchBcryptCost()),
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'error',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  setLogLevel(config.logLevel);
  // PGlite in memory is ours to close; on PostgreSQL the server opens (and closes) its own pool.
  const memoryDatabase = databaseUrl ? undefined : await openDatabase({ memory: true });
  const running = await startServer(config, { database: memoryDatabase, listener });
  const rssAfterStart = process.memoryUsage().rss;

  const { db } = running.database;
  let queries = 0;
  db.on('query', () => queries++);

  const ctx = commandContext(config, running.database);
  const { client_secret: clientSecret } = await createClient(ctx.service, ctx.clientDeps, {
    client_id: CLIENT_ID,
    client_name: 'Benchmark client',
    redirect_uris: [REDIRECT_URI],
    grant_types: GRANT_TYPES,
    token_endpoint_auth_method: 'client_secret_basic',
  });
  for (const api of Object.values(APIS)) {
    await createApi(ctx.service, {
      identifier: api.identifier,
      name: api.name,
      access_token_format: api.accessTokenFormat,
      ...('signingAlg' in api ? { signing_alg: api.signingAlg } : {}),
      access_token_ttl: API_TOKEN_TTL,
    });
    // Client credentials need the client to be allowed to the API (`gatehouse apis grant`).
    await grantApiAccess(ctx.service, api.identifier, { client_id: CLIENT_ID });
  }
  const account = await createUser(
    ctx.service,
    { email: ACCOUNT_EMAIL, password: BENCH_PASSWORD, email_verified: true },
    config.bcryptCost,
  );

  return {
    ready: {
      url: running.url,
      issuer: config.issuer,
      clientSecret: clientSecret as string,
      database: running.database.kind,
      rssAfterStart,
    },
    mintRefreshTokens: (count) => mintRefreshTokens(running.provider(), account.id, count),
    // At `cost`, which may differ from the server's: what a user hashed before BCRYPT_COST changed holds.
    seedUsers: (users: SeedUser[], cost: number) =>
      inBatches(users, SEED_CONCURRENCY, (user) => createUser(ctx.service, { ...user, email_verified: true }, cost)),
    hashCosts: (emails) => Promise.all(emails.map(async (email) => costOf((await findUserByEmail(db, email))?.password_hash))),
    queries: () => queries,
    async close() {
      await running.close();
      await memoryDatabase?.close();
    },
  };
});
