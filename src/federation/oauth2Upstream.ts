// Signing in through an OAuth 2.0 provider that is not an OpenID Provider (GitHub, or any with a
// "profile URL"): the authorization code flow with PKCE and state (openid-client), then the
// person's profile read with the access token. There is no ID token to vouch for anything, so
// the profile says who it is (subject_claim), and an email counts as verified only where the
// provider says so: a claim of the profile (email_verified_claim) or GitHub's list of emails.
import * as client from 'openid-client';
import type { OAuth2Connection } from './connections.ts';
import { UpstreamError, upstreamError, type UpstreamChecks, type UpstreamIdentity } from './oidcUpstream.ts';

interface OAuth2Upstream {
  connection: OAuth2Connection;
  clientSecret?: string;
  allowHttp: boolean;
  timeoutSeconds: number;
}

function auth(upstream: OAuth2Upstream): client.ClientAuth {
  const { token_endpoint_auth_method: method } = upstream.connection.settings;
  if (method === 'none' || !upstream.clientSecret) return client.None();
  return method === 'client_secret_basic'
    ? client.ClientSecretBasic(upstream.clientSecret)
    : client.ClientSecretPost(upstream.clientSecret);
}

/** The provider as openid-client knows it: no discovery, the endpoints the connection names. */
export function oauth2Configuration(upstream: OAuth2Upstream): client.Configuration {
  const { settings } = upstream.connection;
  const endpoints = [settings.authorization_endpoint, settings.token_endpoint, settings.profile_url, settings.emails_url].filter(
    Boolean,
  ) as string[];
  const plainHttp = endpoints.some((url) => url.startsWith('http:'));
  if (plainHttp && !upstream.allowHttp) throw new UpstreamError('invalid', 'The identity provider must be reached over https');
  const configuration = new client.Configuration(
    {
      // OAuth 2.0 has no issuer to check; the authorization server's origin stands for it.
      issuer: new URL(settings.authorization_endpoint as string).origin,
      authorization_endpoint: settings.authorization_endpoint,
      token_endpoint: settings.token_endpoint,
    },
    settings.client_id,
    undefined,
    auth(upstream),
  );
  configuration.timeout = upstream.timeoutSeconds;
  if (plainHttp) client.allowInsecureRequests(configuration);
  return configuration;
}

export async function startOAuth2SignIn(
  configuration: client.Configuration,
  connection: OAuth2Connection,
  redirectUri: string,
  state: string,
  extra: Record<string, string> = {},
): Promise<{ url: URL; checks: UpstreamChecks }> {
  const codeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: redirectUri,
    scope: (connection.settings.scopes ?? []).join(' '),
    response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  return { url, checks: { state, nonce: '', codeVerifier } };
}

const claimAt = (value: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined), value);

async function readJson(configuration: client.Configuration, accessToken: string, url: string): Promise<unknown> {
  const response = await client.fetchProtectedResource(
    configuration,
    accessToken,
    new URL(url),
    'GET',
    undefined,
    new Headers({ accept: 'application/json' }),
  );
  if (!response.ok) throw new UpstreamError('invalid', `The identity provider answered ${response.status} at ${new URL(url).pathname}`);
  return response.json();
}

/** GitHub's shape: the primary email when it is verified, else any verified one. */
function verifiedEmailOf(list: unknown): string | undefined {
  if (!Array.isArray(list)) return undefined;
  const verified = list.filter((entry) => entry && typeof entry === 'object' && entry.verified === true && typeof entry.email === 'string');
  return (verified.find((entry) => entry.primary === true) ?? verified[0])?.email;
}

/** GitHub names some standard claims its own way. */
const GITHUB_CLAIMS: Record<string, string> = { preferred_username: 'login', picture: 'avatar_url', website: 'blog' };

export async function finishOAuth2SignIn(
  configuration: client.Configuration,
  connection: OAuth2Connection,
  callbackUrl: URL | Request,
  checks: UpstreamChecks,
): Promise<UpstreamIdentity> {
  const { settings } = connection;
  try {
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: checks.codeVerifier,
      expectedState: checks.state,
      idTokenExpected: false,
    });
    const profile = (await readJson(configuration, tokens.access_token, settings.profile_url as string)) as Record<string, unknown>;
    const subject = claimAt(profile, settings.subject_claim as string);
    if ((typeof subject !== 'string' && typeof subject !== 'number') || subject === '')
      throw new UpstreamError('invalid', `The profile has no ${settings.subject_claim}`);
    let email = claimAt(profile, settings.email_claim);
    let verified = settings.email_verified_claim ? claimAt(profile, settings.email_verified_claim) === true : false;
    if (settings.emails_url) {
      const listed = verifiedEmailOf(await readJson(configuration, tokens.access_token, settings.emails_url));
      if (listed) [email, verified] = [listed, true];
    }
    const renamed =
      settings.preset === 'github'
        ? Object.fromEntries(Object.entries(GITHUB_CLAIMS).map(([claim, path]) => [claim, claimAt(profile, path)]))
        : {};
    return {
      subject: String(subject),
      claims: { ...profile, ...renamed, email: typeof email === 'string' ? email : undefined, email_verified: verified },
      amr: [],
    };
  } catch (error) {
    throw upstreamError(error);
  }
}
