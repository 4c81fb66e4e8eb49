// What both servers under test hold: one confidential client, three APIs (opaque, ES256 JWT,
// RS256 JWT), one account, and refresh tokens minted straight through the provider's models.
// Gatehouse also gets the accounts the password sign-in measurement asks for (bench/serve.ts).
import type Provider from 'oidc-provider';

export const CLIENT_ID = 'bench-client';
export const REDIRECT_URI = 'https://app.bench/callback';
export const GRANT_TYPES: ('client_credentials' | 'authorization_code' | 'refresh_token')[] = [
  'client_credentials',
  'authorization_code',
  'refresh_token',
];
export const ACCOUNT_EMAIL = 'bench@example.com';
/** The password of every benchmark account (it passes the policy: not the email, not breached, strong). */
export const BENCH_PASSWORD = 'violet-harbor-lantern-42';
/** Gatehouse's BCRYPT_COST in the benchmark unless --bcrypt-cost says otherwise: the issue quotes its figures at 10. */
export const DEFAULT_BENCH_BCRYPT_COST = 10;

/** The cost bench/run.ts chose; it hands it to the server it forks in BENCH_BCRYPT_COST. */
export const benchBcryptCost = (): number => Number(process.env.BENCH_BCRYPT_COST || DEFAULT_BENCH_BCRYPT_COST);
/** What a refresh token carries: an ID token and a userinfo access token come back on refresh. */
export const REFRESH_SCOPE = 'openid offline_access';

export interface BenchApi {
  identifier: string;
  name: string;
  accessTokenFormat: 'opaque' | 'jwt';
  signingAlg?: 'ES256' | 'RS256';
}

export const APIS = {
  opaque: { identifier: 'https://api-opaque.bench', name: 'Opaque API', accessTokenFormat: 'opaque' },
  es256: { identifier: 'https://api-es256.bench', name: 'ES256 API', accessTokenFormat: 'jwt', signingAlg: 'ES256' },
  rs256: { identifier: 'https://api-rs256.bench', name: 'RS256 API', accessTokenFormat: 'jwt', signingAlg: 'RS256' },
} satisfies Record<string, BenchApi>;

export const API_TOKEN_TTL = 3600;

// Enough in flight to keep a pool of database connections busy without queueing thousands.
const MINT_CONCURRENCY = 20;

/**
 * Mints `count` refresh tokens, each on its own grant, the way the authorization code grant
 * would: refresh rotates, so every benchmark request needs a token nobody has used.
 */
export async function mintRefreshTokens(provider: Provider, accountId: string, count: number): Promise<string[]> {
  const client = await provider.Client.find(CLIENT_ID);
  if (!client) throw new Error(`client ${CLIENT_ID} not found`);
  const authTime = Math.floor(Date.now() / 1000);
  const mintOne = async () => {
    const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
    grant.addOIDCScope(REFRESH_SCOPE);
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      client,
      accountId,
      grantId,
      gty: 'authorization_code',
      scope: REFRESH_SCOPE,
      authTime,
      rotations: 0,
    });
    return token.save();
  };
  const tokens: string[] = [];
  while (tokens.length < count) {
    const batch = Math.min(MINT_CONCURRENCY, count - tokens.length);
    tokens.push(...(await Promise.all(Array.from({ length: batch }, mintOne))));
  }
  return tokens;
}
