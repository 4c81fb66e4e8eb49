// Signing in through an upstream OpenID Provider, with openid-client: its discovery document,
// the authorization code flow with PKCE (S256), state and nonce, the ID token validated (issuer,
// audience, signature, nonce, expiry) and userinfo read. What goes wrong upstream becomes one of
// three errors the screens can word: the person or the provider said no, the provider did not
// answer (in time), or what came back does not hold.
import * as client from 'openid-client';
import { oidcIssuer, type OidcConnection } from './connections.ts';
import { appleClientSecret, presetChecks, presetClaims } from './oidcPresets.ts';
/** Discovery documents change rarely; a connection changed by an operator is read again at once. */
const DISCOVERY_TTL_MS = 60 * 60 * 1000;

export class UpstreamError extends Error {
  /** refused: the person or the provider declined; unavailable: no answer in time; invalid: an answer that does not hold. */
  readonly kind: 'refused' | 'unavailable' | 'invalid';
  constructor(kind: UpstreamError['kind'], message: string) {
    super(message);
    this.name = 'UpstreamError';
    this.kind = kind;
  }
}

export interface UpstreamConnection {
  connection: OidcConnection;
  clientSecret?: string;
  /** Plain-http issuers are accepted outside production only (a provider in a test, a laptop). */
  allowHttp: boolean;
  /** Each request to the provider: a slow upstream ends the sign-in instead of holding it. */
  timeoutSeconds: number;
}

const discovered = new Map<string, { configuration: client.Configuration; at: number }>();

function clientAuthentication(upstream: UpstreamConnection): client.ClientAuth {
  const { settings } = upstream.connection;
  const { token_endpoint_auth_method: method } = settings;
  if (settings.preset === 'apple' && upstream.clientSecret) {
    const key = upstream.clientSecret;
    // A fresh client secret (a short-lived JWT signed with the .p8 key) for each token request.
    // openid-client's type says void; oauth4webapi awaits what a client authentication returns.
    return (async (_as: client.ServerMetadata, metadata: client.ClientMetadata, body: URLSearchParams) => {
      body.set('client_id', metadata.client_id);
      body.set('client_secret', await appleClientSecret(settings, key));
    }) as unknown as client.ClientAuth;
  }
  if (method === 'none' || !upstream.clientSecret) return client.None();
  return method === 'client_secret_post' ? client.ClientSecretPost(upstream.clientSecret) : client.ClientSecretBasic(upstream.clientSecret);
}

/** Turns what fetch and openid-client throw into an UpstreamError. */
export function upstreamError(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof client.AuthorizationResponseError) {
    return new UpstreamError(
      'refused',
      `The identity provider answered ${error.error}${error.error_description ? `: ${error.error_description}` : ''}`,
    );
  }
  const name = (error as Error)?.name;
  const cause = (error as { cause?: { code?: string; name?: string } })?.cause;
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    // openid-client wraps the aborted fetch: ClientError OAUTH_TIMEOUT, cause TimeoutError.
    (error as { code?: string })?.code === 'OAUTH_TIMEOUT' ||
    cause?.name === 'TimeoutError' ||
    (error instanceof TypeError && /fetch failed/.test(error.message)) ||
    cause?.code === 'ECONNREFUSED'
  )
    return new UpstreamError('unavailable', 'The identity provider did not answer in time');
  return new UpstreamError('invalid', `The identity provider's answer does not hold: ${(error as Error).message}`);
}

/** The provider's configuration (discovery), kept for an hour per version of the connection. */
export async function upstreamConfiguration(upstream: UpstreamConnection): Promise<client.Configuration> {
  const { connection } = upstream;
  const key = `${connection.id}@${new Date(connection.updated_at).getTime()}`;
  const cached = discovered.get(key);
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.configuration;
  const issuer = new URL(oidcIssuer(connection.settings));
  if (issuer.protocol === 'http:' && !upstream.allowHttp)
    throw new UpstreamError('invalid', 'The identity provider must be reached over https');
  try {
    // For Microsoft's multi-tenant issuers ({tenantid} in the discovered issuer), openid-client
    // checks each ID token's iss against the template filled with the token's own tid.
    const configuration = await client.discovery(issuer, connection.settings.client_id, undefined, clientAuthentication(upstream), {
      timeout: upstream.timeoutSeconds,
      // Outside production, a provider's endpoints may be plain http (a provider in a test, a laptop).
      execute: upstream.allowHttp ? [client.allowInsecureRequests] : [],
    });
    for (const old of discovered.keys()) if (old.startsWith(`${connection.id}@`)) discovered.delete(old);
    discovered.set(key, { configuration, at: Date.now() });
    return configuration;
  } catch (error) {
    throw upstreamError(error);
  }
}

/** What a sign-in started upstream must find again when the browser comes back. */
export interface UpstreamChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** SAML: the ID of our AuthnRequest, which the response must be InResponseTo. */
  requestId?: string;
}

/** Where to send the browser, and what to check when it comes back. */
export async function startUpstreamSignIn(
  configuration: client.Configuration,
  connection: OidcConnection,
  redirectUri: string,
  state: string,
  extra: Record<string, string> = {},
): Promise<{ url: URL; checks: UpstreamChecks }> {
  const codeVerifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: redirectUri,
    scope: connection.settings.scopes.join(' '),
    response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    // The code comes back posted (Apple, and providers that keep it out of URLs and logs).
    ...(connection.settings.response_mode === 'form_post' ? { response_mode: 'form_post' } : {}),
    ...extra,
  });
  return { url, checks: { state, nonce, codeVerifier } };
}

/** An upstream identity: the provider's stable subject, its claims (ID token, then userinfo), and how it signed the person in. */
export interface UpstreamIdentity {
  subject: string;
  claims: Record<string, unknown>;
  amr: string[];
  acr?: string;
}

/**
 * Redeems the code the browser brought back to `callbackUrl` and reads who it is; `posted` is what
 * a form_post answer held besides the code (Apple's `user`).
 */
export async function finishUpstreamSignIn(
  configuration: client.Configuration,
  connection: OidcConnection,
  callbackUrl: URL | Request,
  checks: UpstreamChecks,
  posted?: URLSearchParams,
): Promise<UpstreamIdentity> {
  try {
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: checks.codeVerifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    });
    const idToken = tokens.claims();
    if (!idToken) throw new UpstreamError('invalid', 'The identity provider sent no ID token');
    // Before anything else is asked of the provider: a directory the connection does not allow stops here.
    presetChecks(connection.settings, idToken);
    const userinfo = configuration.serverMetadata().userinfo_endpoint
      ? await client.fetchUserInfo(configuration, tokens.access_token, idToken.sub)
      : {};
    const amr = Array.isArray(idToken.amr) ? idToken.amr.filter((v): v is string => typeof v === 'string') : [];
    return {
      subject: idToken.sub,
      claims: presetClaims(connection.settings, { ...userinfo, ...idToken }, posted),
      amr,
      acr: typeof idToken.acr === 'string' ? idToken.acr : undefined,
    };
  } catch (error) {
    throw upstreamError(error);
  }
}
