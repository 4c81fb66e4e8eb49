// Clients that are part of Gatehouse itself: today the account area at /account, which signs
// people in through our own authorization endpoint as any relying party would (as Keycloak's
// account console does). Each is created at start by the feature that uses it (src/account), is
// first-party (no consent screen, see features/firstPartyGrants.ts) and may be neither changed
// nor deleted by operators (src/clients refuses): its redirect URI is what makes skipping consent
// safe, and the feature would break without it.
import type { ClientMetadata } from 'oidc-provider';

export interface BuiltInClient {
  clientId: string;
  clientName: string;
  /** Where the authorization response goes, under the issuer. */
  redirectPath: string;
  /** Where RP-initiated logout comes back to, under the issuer. */
  postLogoutRedirectPath: string;
  /** What it may ask for, and what its first-party grant holds. */
  scope: string;
}

export const ACCOUNT_CLIENT: BuiltInClient = {
  clientId: 'gatehouse-account',
  clientName: 'Your account',
  redirectPath: '/account/callback',
  postLogoutRedirectPath: '/account/signed-out',
  scope: 'openid email profile',
};

const BUILT_IN_CLIENTS: readonly BuiltInClient[] = [ACCOUNT_CLIENT];

export const findBuiltInClient = (clientId: unknown): BuiltInClient | undefined =>
  BUILT_IN_CLIENTS.find((client) => client.clientId === clientId);

export const isBuiltInClient = (clientId: unknown): boolean => findBuiltInClient(clientId) !== undefined;

export const redirectUriOf = (issuer: string, client: BuiltInClient) => `${issuer}${client.redirectPath}`;

/**
 * The client's registration: public (it redeems codes inside the server, so it has no secret to
 * keep), code flow with PKCE only, and no refresh tokens.
 */
export function builtInClientMetadata(issuer: string, client: BuiltInClient): ClientMetadata {
  return {
    client_id: client.clientId,
    client_name: client.clientName,
    redirect_uris: [redirectUriOf(issuer, client)],
    post_logout_redirect_uris: [`${issuer}${client.postLogoutRedirectPath}`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    application_type: 'web',
    scope: client.scope,
  };
}
