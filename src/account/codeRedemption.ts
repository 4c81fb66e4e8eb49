// The account area's callback redeems its authorization code inside the server instead of at the
// token endpoint. A relying party would POST the code to ISSUER/token; here that would be the
// server calling its own public URL, which it often cannot reach (TLS ends at a proxy, the public
// name does not resolve from inside a container, a load balancer hairpin is refused), and it
// would mint an ID token and an access token nobody needs. So the callback does what the token
// endpoint's authorization_code grant does, with oidc-provider's own model and our adapter:
// find the code (unknown and expired ones are not found), check that it was issued to this client
// for this redirect URI, check the PKCE verifier and the nonce, check that its grant still
// stands, then consume it with the adapter's one conditional write (oidc/singleUse.ts): a second
// use, sequential or concurrent, fails and revokes the grant, as at the token endpoint. Who signed
// in, when and how (account, auth_time, amr, acr) is read from the code itself.
import { createHash } from 'node:crypto';
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { constantTimeEqual } from '../secrets/secretBox.ts';

/** What a redeemed code says about the sign-in. */
export interface SignedIn {
  accountId: string;
  /** When the person last authenticated (seconds since the epoch). */
  authTime: number;
  amr: string[];
  acr?: string;
  /** The uid of the provider's session (the SSO session) the code was issued in. */
  sessionUid?: string;
  grantId?: string;
}

export type Redemption = { ok: true; signedIn: SignedIn } | { ok: false; reason: 'invalid' | 'used'; grantId?: string };

export interface ExpectedCode {
  clientId: string;
  redirectUri: string;
  codeVerifier: string;
  nonce: string;
}

/** RFC 7636 S256: BASE64URL(SHA256(code_verifier)). */
export const pkceChallenge = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

const LONGEST_CODE = 512;

export async function redeemCode(provider: Provider, code: unknown, expected: ExpectedCode): Promise<Redemption> {
  const invalid: Redemption = { ok: false, reason: 'invalid' };
  if (typeof code !== 'string' || !code || code.length > LONGEST_CODE) return invalid;
  const found = await provider.AuthorizationCode.find(code);
  if (!found || found.isExpired || !found.accountId || !found.authTime) return invalid;
  if (found.clientId !== expected.clientId || found.redirectUri !== expected.redirectUri) return invalid;
  if (found.codeChallengeMethod !== 'S256' || !found.codeChallenge) return invalid;
  if (!constantTimeEqual(found.codeChallenge, pkceChallenge(expected.codeVerifier))) return invalid;
  if (found.nonce !== expected.nonce) return invalid;
  const grant = found.grantId ? await provider.Grant.find(found.grantId) : undefined;
  if (!grant || grant.accountId !== found.accountId || grant.clientId !== found.clientId) return invalid;
  try {
    await found.consume();
  } catch (error) {
    if (error instanceof errors.InvalidGrant) return { ok: false, reason: 'used', grantId: found.grantId };
    throw error;
  }
  return {
    ok: true,
    signedIn: {
      accountId: found.accountId,
      authTime: found.authTime,
      amr: found.amr ?? [],
      acr: found.acr,
      sessionUid: found.sessionUid,
      grantId: found.grantId,
    },
  };
}
