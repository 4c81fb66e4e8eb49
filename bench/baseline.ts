// The baseline: a bare oidc-provider (the version Gatehouse runs) configured like Gatehouse for the
// benchmarked endpoints (static client, same APIs, formats and algorithms, one RS256 and one
// ES256 key, refresh rotation), with its own in-memory adapter and nothing around it. Forked by
// bench/run.ts.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { errors, type Configuration, type ResourceServer } from 'oidc-provider';
// oidc-provider's default adapter, used directly only to size its store: the default holds 1000
// entries, which would evict the pool of refresh tokens the refresh scenario consumes.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { API_TOKEN_TTL, APIS, CLIENT_ID, GRANT_TYPES, REDIRECT_URI, mintRefreshTokens } from './fixtures.ts';
import { serveTarget } from './target.ts';

const ACCOUNT_ID = randomUUID();

async function signingKey(alg: 'RS256' | 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'ES256' ? {} : { modulusLength: 2048 }) });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg, use: 'sig' };
}

const resourceServers = new Map(Object.values(APIS).map((api) => [api.identifier, api as (typeof APIS)[keyof typeof APIS]]));

await serveTarget(async () => {
  // Listening before the provider exists, so the issuer can name the port the system picked.
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject).listen(0, '127.0.0.1'));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://localhost:${port}`;
  const clientSecret = randomBytes(32).toString('base64url');
  const store = new LRU({ maxSize: 10_000_000 });

  const configuration: Configuration = {
    adapter: (model: string) => new MemoryAdapter(model, store),
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        client_name: 'Benchmark client',
        redirect_uris: [REDIRECT_URI],
        grant_types: GRANT_TYPES,
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [await signingKey('RS256'), await signingKey('ES256')] as never[] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    rotateRefreshToken: true,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    responseTypes: ['code', 'none'],
    // Gatehouse's lifetimes (src/oidc/features/core.ts).
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 30 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
      DeviceCode: 600,
    },
    findAccount: async (_ctx, sub) => (sub === ACCOUNT_ID ? { accountId: sub, claims: async () => ({ sub }) } : undefined),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      deviceFlow: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? undefined,
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx, resourceIndicator) {
          const api = resourceServers.get(resourceIndicator);
          if (!api) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          return {
            audience: api.identifier,
            scope: '',
            accessTokenTTL: API_TOKEN_TTL,
            accessTokenFormat: api.accessTokenFormat,
            ...('signingAlg' in api ? { jwt: { sign: { alg: api.signingAlg } } } : {}),
          } as ResourceServer;
        },
      },
    },
  };

  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  const rssAfterStart = process.memoryUsage().rss;

  return {
    ready: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, issuer, clientSecret, database: 'memory', rssAfterStart },
    mintRefreshTokens: (count) => mintRefreshTokens(provider, ACCOUNT_ID, count),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
});
