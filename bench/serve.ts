// Gatehouse under test, in its own process (forked by bench/run.ts). Runs on the PostgreSQL
// database named by BENCH_DATABASE_URL, or on an in-memory PGlite when it is empty, and seeds
// what the scenarios need through our own code, not over HTTP.
import { loadConfig } from '../src/config.ts';
import { listenOnFreePort, startServer } from '../src/server.ts';
import { openDatabase } from '../src/db/index.ts';
import { setLogLevel } from '../src/http/logger.ts';
import { commandContext } from '../src/cli/context.ts';
import { createClient } from '../src/clients/index.ts';
import { createApi, grantApiAccess } from '../src/apis/index.ts';
import { createUser } from '../src/accounts/index.ts';
import { ACCOUNT_EMAIL, API_TOKEN_TTL, APIS, CLIENT_ID, GRANT_TYPES, REDIRECT_URI, mintRefreshTokens } from './fixtures.ts';
import { serveTarget } from './target.ts';

const BENCH_SECRET_KEY = 'bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz';

await serveTarget(async () => {
  const databaseUrl = process.env.BENCH_DATABASE_URL || undefined;
  // Bound now and kept, so the issuer can name the port (nobody else can take it meanwhile).
  const { listener, port } = await listenOnFreePort('127.0.0.1');
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://localhost:${port}`,
    SECRET_KEY: BENCH_SECRET_KEY,
    BCRYPT_COST: '4',
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
    { email: ACCOUNT_EMAIL, password: 'bench-password-1', email_verified: true },
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
    queries: () => queries,
    async close() {
      await running.close();
      await memoryDatabase?.close();
    },
  };
});
