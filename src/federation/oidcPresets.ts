// What the OpenID providers with a preset do their own way, beyond the standard the rest of
// oidcUpstream.ts follows:
//   - Microsoft Entra ID: one multi-tenant issuer for every directory, so the directory (tid) a
//     person comes from is checked against the connection's allowed tenants; and its `email`
//     claim is whatever the directory's admin typed, so it counts as verified only when Entra
//     says the domain's owner vouches for it (the optional claim xms_edov). Trusting it
//     otherwise is how accounts were taken over through Entra ("nOAuth").
//   - Apple: the client secret is a short-lived JWT signed with the team's Sign in with Apple
//     key; email_verified may come as the string "true"; and the person's name is sent once,
//     unsigned, beside the code of their first sign-in (the posted `user` field), never in the
//     ID token — it is taken for the name only, never for the email.
import { importPKCS8, SignJWT } from 'jose';
import type { OidcSettings } from './connections.ts';
import { UpstreamError } from './oidcUpstream.ts';

const APPLE_AUDIENCE = 'https://appleid.apple.com';
/** Apple accepts secrets valid up to six months; one per token request needs only minutes. */
const APPLE_SECRET_LIFETIME = '5m';
/** The posted `user` is a few names and an email; anything longer is not Apple's. */
const APPLE_USER_MAX = 2000;

/** The client secret Apple's token endpoint takes: an ES256 JWT from the team, about this client. */
export async function appleClientSecret(settings: OidcSettings, keyPem: string): Promise<string> {
  const key = await importPKCS8(keyPem, 'ES256');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: settings.key_id })
    .setIssuer(settings.team_id as string)
    .setSubject(settings.client_id)
    .setAudience(APPLE_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(APPLE_SECRET_LIFETIME)
    .sign(key);
}

/** Refuses an ID token the connection's preset does not accept (beyond openid-client's checks). */
export function presetChecks(settings: OidcSettings, idToken: Record<string, unknown>): void {
  if (settings.preset !== 'microsoft') return;
  const tid = idToken.tid;
  if (typeof tid !== 'string') throw new UpstreamError('invalid', 'The Microsoft ID token names no tenant (tid)');
  if (settings.allowed_tenants && !settings.allowed_tenants.includes(tid.toLowerCase()))
    throw new UpstreamError('refused', `The Microsoft directory ${tid} is not one this connection allows`);
}

const isTrue = (value: unknown) => value === true || value === 'true' || value === 1 || value === '1';

/** The upstream claims, with what the preset's provider says its own way put the standard way. */
export function presetClaims(settings: OidcSettings, claims: Record<string, unknown>, posted?: URLSearchParams): Record<string, unknown> {
  if (settings.preset === 'microsoft') return { ...claims, email_verified: isTrue(claims.xms_edov) };
  if (settings.preset === 'apple') return { ...appleName(posted?.get('user')), ...claims, email_verified: isTrue(claims.email_verified) };
  return claims;
}

/** The name from Apple's posted `user` ({"name":{"firstName","lastName"},"email"}); nothing when absent or malformed. */
function appleName(user: string | null | undefined): Record<string, string> {
  if (!user || user.length > APPLE_USER_MAX) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(user);
  } catch {
    return {};
  }
  const name = (parsed as { name?: unknown } | null)?.name as { firstName?: unknown; lastName?: unknown } | undefined;
  const given = typeof name?.firstName === 'string' ? name.firstName.trim() : '';
  const family = typeof name?.lastName === 'string' ? name.lastName.trim() : '';
  return {
    ...(given && { given_name: given }),
    ...(family && { family_name: family }),
    ...((given || family) && { name: [given, family].filter(Boolean).join(' ') }),
  };
}
