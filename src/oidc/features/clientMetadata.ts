// The client metadata Gatehouse adds to RFC 7591's, checked here whichever way a client is
// registered (CLI or dynamic registration) and every time a stored client is loaded:
// - `default_resource`: the API a client-credentials request without `resource` is for;
// - `allow_code_without_pkce`: lets a legacy confidential client use the code flow without PKCE.
//   Only an operator may turn it on; a registration or update request that asks for it is refused;
// - `api_scope`: the API scopes of the client's `scope`. oidc-provider accepts in `scope` only the
//   scopes it serves itself (OpenID's), so the API scopes are moved here while it validates the
//   client, and joined back into `scope` wherever the client's metadata is stored or shown
//   (clients.ts, registrationSecrets.ts). Whether they belong to a registered API needs the
//   database, which a synchronous validator cannot reach: the client store checks that.
// - `allow_signup`: whether the sign-in screen offers "Create account" to this client's users
//   (on by default; SIGNUP_ENABLED=false turns it off for every client);
// - `require_verified_email`: whether a user must have verified their email before signing in
//   to this client (on by default). Only an operator may turn it off.
// - `require_mfa`: whether every sign-in to this client takes a second factor (the mfa prompt).
//   Stricter only, so a registration may ask for it too.
import { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { OIDC_SCOPES } from './core.ts';
import { CLAIM_SCOPES } from '../../profile/standardClaims.ts';

export const DEFAULT_RESOURCE = 'default_resource';
export const ALLOW_CODE_WITHOUT_PKCE = 'allow_code_without_pkce';
export const API_SCOPE = 'api_scope';
export const ALLOW_SIGNUP = 'allow_signup';
export const REQUIRE_VERIFIED_EMAIL = 'require_verified_email';
export const REQUIRE_MFA = 'require_mfa';

// The scopes that release claims about the user (OpenID Connect's, and the profile schema's:
// phone, address, consents and the namespaced profile:<name>); every other one is an API's.
const OIDC = new Set<string>([...OIDC_SCOPES, ...CLAIM_SCOPES]);
export const isClaimScope = (scope: string) => OIDC.has(scope) || scope.startsWith('profile:');

/** Splits a `scope` value into the OpenID part oidc-provider validates and the API part. */
export function splitScope(scope: unknown): { oidc?: string; api?: string } {
  if (typeof scope !== 'string') return {};
  const values = [...new Set(scope.split(' ').filter(Boolean))];
  const join = (list: string[]) => (list.length ? list.join(' ') : undefined);
  return { oidc: join(values.filter(isClaimScope)), api: join(values.filter((s) => !isClaimScope(s))) };
}

/** The `scope` a client registered: its OpenID and API scopes together. */
export function joinScope(oidc: unknown, api: unknown): string | undefined {
  return [oidc, api].filter((s): s is string => typeof s === 'string' && s.length > 0).join(' ') || undefined;
}

function invalid(description: string): never {
  throw new errors.InvalidClientMetadata(description);
}

function validate(ctx: KoaContextWithOIDC | undefined, key: string, value: unknown, metadata: ClientMetadata): void {
  const fields = metadata as Record<string, unknown>;
  switch (key) {
    case DEFAULT_RESOURCE: {
      if (value === undefined) return;
      // The same rule as for a `resource` parameter (RFC 8707 §2); whether it is a registered
      // API, the client store checks.
      if (typeof value !== 'string' || !URL.parse(value) || value.includes('#'))
        invalid(`${key} must be an absolute URI without a fragment`);
      return;
    }
    case ALLOW_CODE_WITHOUT_PKCE: {
      if (value === undefined || value === false) {
        delete fields[key];
        return;
      }
      if (value !== true) invalid(`${key} must be a boolean`);
      // ctx is set only for registration and update requests: the value came from the request.
      if (ctx) invalid(`${key} can only be set by an operator (gatehouse clients create --allow-code-without-pkce)`);
      if (fields.token_endpoint_auth_method === 'none') invalid(`${key} is not allowed for a public client: it must use PKCE`);
      return;
    }
    case REQUIRE_MFA:
    case ALLOW_SIGNUP: {
      if (value !== undefined && typeof value !== 'boolean') invalid(`${key} must be a boolean`);
      return;
    }
    case REQUIRE_VERIFIED_EMAIL: {
      if (value === undefined || value === true) return;
      if (value !== false) invalid(`${key} must be a boolean`);
      if (ctx) invalid(`${key} can only be turned off by an operator (gatehouse clients create --allow-unverified-email)`);
      return;
    }
    case API_SCOPE: {
      const { oidc, api } = splitScope(fields.scope);
      if (oidc) fields.scope = oidc;
      else delete fields.scope;
      if (api) fields[key] = api;
      else delete fields[key];
      return;
    }
  }
}

export function clientMetadata(): Configuration {
  return {
    extraClientMetadata: {
      properties: [DEFAULT_RESOURCE, ALLOW_CODE_WITHOUT_PKCE, API_SCOPE, ALLOW_SIGNUP, REQUIRE_VERIFIED_EMAIL, REQUIRE_MFA],
      validator: validate,
    },
  };
}
