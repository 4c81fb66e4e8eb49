// The protocol core: claims and scopes, lifetimes, PKCE, cookies, accounts and the error page.
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { ProviderDeps } from '../deps.ts';
import { accountFromJson, findActiveUserById, userClaims, type Account } from '../../accounts/index.ts';
import { accountKey, takeSetAside } from '../readAhead.ts';
import { renderPage } from '../../http/views.ts';
import { ACR_VALUES } from '../../mfa/levels.ts';
import { consentsClaim } from '../../policies/index.ts';
import { scopeClaims } from '../../profile/claims.ts';

export const TTL = {
  AccessToken: 3600,
  AuthorizationCode: 60,
  ClientCredentials: 3600,
  IdToken: 3600,
  Interaction: 3600,
  Session: 14 * 24 * 3600,
  Grant: 30 * 24 * 3600,
  RefreshToken: 14 * 24 * 3600,
  DeviceCode: 600,
  BackchannelAuthenticationRequest: 600,
  PushedAuthorizationRequest: 60,
} as const;

export const PROFILE_CLAIMS = [
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'updated_at',
];

/** The scopes of OpenID Connect itself; any other scope value belongs to a registered API. */
export const OIDC_SCOPES: readonly string[] = ['openid', 'offline_access', 'profile', 'email'];

/**
 * The account behind a token or session, or undefined: a suspended (or deleted) user has none,
 * so their tokens and sessions stop working. The token being used may have brought the
 * account's row along (see oidc/readAhead.ts), which saves a query.
 */
export async function findSignedInAccount(db: ProviderDeps['db'], sub: string): Promise<Account | undefined> {
  const setAside = takeSetAside<Record<string, unknown>>(accountKey(sub));
  if (setAside !== undefined) return setAside ? accountFromJson(setAside) : undefined;
  return findActiveUserById(db, sub);
}

export function core({ db, keys, config }: ProviderDeps): Configuration {
  // The profile schema's scopes (phone, address, profile:<name>, consents) and their claims. A
  // new schema (SIGHUP) rebuilds the provider, so these follow it.
  const profileScopes = scopeClaims(config.declarations.current().profile);
  return {
    claims: {
      // acr and amr (RFC 8176 method references) are only known at sign-in, so only ID tokens carry them.
      openid: ['sub', 'acr', 'amr'],
      profile: PROFILE_CLAIMS,
      email: ['email', 'email_verified'],
      ...profileScopes,
    },
    scopes: [...OIDC_SCOPES, ...Object.keys(profileScopes)],
    features: {
      // OIDC Core §5.5: a relying party may ask for single claims, and where it wants them (ID
      // token or userinfo); the profile prompt counts such a claim as asked for.
      claimsParameter: { enabled: true },
    },
    acrValues: [...ACR_VALUES],
    conformIdTokenClaims: true,
    jwks: { keys: keys.signing as never[] },
    cookies: {
      keys: keys.cookie,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    pkce: {
      // S256 only (oidc-provider does not accept plain), required on every code flow (OAuth 2.1,
      // RFC 9700 §2.1.1). An operator may let a legacy confidential client off (`gatehouse
      // clients create --allow-code-without-pkce`); a public client, never.
      required: (_ctx, client) => client.clientAuthMethod === 'none' || client.allow_code_without_pkce !== true,
    },
    ttl: {
      ...TTL,
      // An API's own lifetime wins for tokens issued to it.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL.AccessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL.ClientCredentials,
    },
    // Every refresh rotates; a rotated (consumed) token presented again revokes the whole grant.
    rotateRefreshToken: true,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    responseTypes: ['code', 'none'],
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256', 'PS256'],
      userinfoSigningAlgValues: ['RS256', 'ES256', 'PS256'],
      introspectionSigningAlgValues: ['RS256', 'ES256', 'PS256'],
    },
    async findAccount(_ctx, sub) {
      const user = await findSignedInAccount(db, sub);
      if (!user) return undefined;
      return {
        accountId: user.id,
        async claims(_use, scope, requested) {
          const { profile, policies } = config.declarations.current();
          const claims = userClaims(user, profile) as { sub: string; consents?: unknown };
          // The ledger is read only when the relying party asked for it (scope or claims parameter).
          if (scope.split(' ').includes('consents') || (requested && 'consents' in requested)) {
            claims.consents = await consentsClaim(db, user.id, policies);
          }
          return claims;
        },
      };
    },
    async renderError(ctx: KoaContextWithOIDC, out, error) {
      ctx.type = 'html';
      ctx.body = await renderPage('error', {
        title: 'Something went wrong',
        error: out.error,
        description: out.error_description,
        requestId: ctx.state.requestId,
        status: (error as { statusCode?: number }).statusCode ?? ctx.status,
      });
    },
  };
}
