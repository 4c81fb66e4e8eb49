// A real relying party: openid-client 6, as an integrator would use it against our issuer.
import * as client from 'openid-client';
import { Browser } from './browserForm.ts';

export const RP_REDIRECT = 'http://rp.test/callback';
export const RP_LOGOUT_REDIRECT = 'http://rp.test/signed-out';

export async function discover(issuer: string, clientId: string, clientSecret?: string): Promise<client.Configuration> {
  const auth = clientSecret ? client.ClientSecretBasic(clientSecret) : client.None();
  return client.discovery(new URL(issuer), clientId, undefined, auth, { execute: [client.allowInsecureRequests] });
}

export interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authorizationRequest(
  config: client.Configuration,
  params: Record<string, string> = {},
): Promise<AuthorizationRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: RP_REDIRECT,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

export function exchangeCode(config: client.Configuration, callbackUrl: string, request: AuthorizationRequest) {
  return client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
}

/** An HTTP Basic client authentication header (RFC 6749 2.3.1: id and secret form-encoded). */
export function basicAuth(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}

/**
 * A user signs in on the hosted screens and allows offline access, the way a browser without
 * JavaScript does; the relying party then redeems the code. Returns the tokens.
 */
export async function signInWithOfflineAccess(config: client.Configuration, email: string, password: string) {
  const browser = new Browser();
  const request = await authorizationRequest(config, { scope: 'openid offline_access', prompt: 'consent' });
  let page = await browser.navigate(request.url.toString());
  page = await browser.submit(page, /\/password$/, { email, password });
  page = await browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
  return exchangeCode(config, page.url, request);
}
