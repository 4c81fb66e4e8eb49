// SAML 2.0 with Gatehouse as the service provider, on @node-saml/node-saml: an AuthnRequest out
// by the HTTP-Redirect binding, the Response back by HTTP-POST to the connection's assertion
// consumer service. What node-saml checks, we ask of it: a signed assertion (by one of the IdP's
// certificates), the IdP as issuer, our entity id as audience, our ACS as recipient and
// destination, the time conditions within a small clock skew, and InResponseTo our own request —
// the one this trip made, and only once (the trip is a verification record taken once). XML with
// a DOCTYPE (entity expansion) is refused before any parsing.
//
//   GET  /federation/saml/<connection>/metadata   our SP metadata (entity id = this URL)
//   POST /federation/saml/<connection>/acs        the IdP posts the Response here
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile } from '@node-saml/node-saml';
import type { SamlConnection } from './connections.ts';
import { UpstreamError, type UpstreamChecks, type UpstreamIdentity } from './oidcUpstream.ts';

/** An AuthnRequest is answered within this time, or not at all. */
const REQUEST_LIFETIME_MS = 10 * 60 * 1000;

export const samlEntityId = (issuer: string, connectionId: string) => `${issuer}/federation/saml/${connectionId}/metadata`;
export const samlAcsUrl = (issuer: string, connectionId: string) => `${issuer}/federation/saml/${connectionId}/acs`;

interface SamlDeps {
  issuer: string;
}

/**
 * node-saml keeps the IDs of the requests it sent in a cache to check InResponseTo. Ours holds
 * exactly one: the request of this trip (kept, sealed, in its verification record), so an answer
 * to any other request — or one replayed after the trip was used — fails.
 */
function tripCache(requestId?: string): CacheProvider & { saved?: string } {
  const cache: CacheProvider & { saved?: string } = {
    saveAsync: async (key, value) => {
      cache.saved = key;
      return { value, createdAt: Date.now() };
    },
    getAsync: async (key) => (requestId && key === requestId ? new Date().toISOString() : null),
    removeAsync: async (key) => key,
  };
  return cache;
}

function samlOf(deps: SamlDeps, connection: SamlConnection & { clientSecret?: string }, cache: CacheProvider): SAML {
  const { settings } = connection;
  const spEntityId = samlEntityId(deps.issuer, connection.id);
  return new SAML({
    entryPoint: settings.sso_url,
    issuer: spEntityId,
    callbackUrl: samlAcsUrl(deps.issuer, connection.id),
    idpCert: settings.idp_certificates,
    idpIssuer: settings.idp_entity_id,
    audience: spEntityId,
    wantAssertionsSigned: true,
    // Most IdPs sign the assertion; the envelope may be signed too, which node-saml then checks.
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: settings.clock_skew_seconds * 1000,
    validateInResponseTo: settings.allow_idp_initiated ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: REQUEST_LIFETIME_MS,
    cacheProvider: cache,
    identifierFormat: settings.name_id_format,
    disableRequestedAuthnContext: true,
    ...(connection.clientSecret ? { privateKey: connection.clientSecret, decryptionPvk: connection.clientSecret } : {}),
  });
}

/** Where to send the browser: the IdP's SSO URL with our AuthnRequest; its ID is kept with the trip. */
export async function startSamlSignIn(
  deps: SamlDeps,
  connection: SamlConnection & { clientSecret?: string },
  relayState: string,
): Promise<{ url: URL; checks: UpstreamChecks }> {
  const cache = tripCache();
  const url = await samlOf(deps, connection, cache).getAuthorizeUrlAsync(relayState, undefined, {});
  if (!cache.saved) throw new UpstreamError('invalid', 'No SAML request was made');
  return { url: new URL(url), checks: { state: relayState, nonce: '', codeVerifier: '', requestId: cache.saved } };
}

/** The service provider metadata an IdP is given (entity id, ACS, our certificate when we have one). */
export function samlMetadata(deps: SamlDeps, connection: SamlConnection & { clientSecret?: string }): string {
  const certificate = connection.settings.sp_certificate ?? null;
  return samlOf(deps, connection, tripCache()).generateServiceProviderMetadata(
    connection.settings.want_encrypted_assertions ? certificate : null,
    connection.clientSecret ? certificate : null,
  );
}

// A DOCTYPE is where entity expansion and external entities live; a SAML message never needs one.
const DOCTYPE = /<!DOCTYPE|<!ENTITY/i;

const profileValue = (profile: Profile, name: string): unknown => {
  const value = (profile as Record<string, unknown>)[name] ?? (profile.attributes as Record<string, unknown> | undefined)?.[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Checks the posted Response against the trip's request; who the IdP says it is. */
export async function finishSamlSignIn(
  deps: SamlDeps,
  connection: SamlConnection & { clientSecret?: string },
  checks: UpstreamChecks,
  posted: { SAMLResponse?: unknown; RelayState?: unknown },
): Promise<UpstreamIdentity> {
  if (typeof posted.SAMLResponse !== 'string' || !posted.SAMLResponse) throw new UpstreamError('invalid', 'No SAML response was posted');
  const xml = Buffer.from(posted.SAMLResponse, 'base64').toString('utf8');
  if (DOCTYPE.test(xml)) throw new UpstreamError('invalid', 'The SAML response contains a DOCTYPE, which is never accepted');
  let profile: Profile | null;
  try {
    ({ profile } = await samlOf(deps, connection, tripCache(checks.requestId)).validatePostResponseAsync({
      SAMLResponse: posted.SAMLResponse,
      RelayState: typeof posted.RelayState === 'string' ? posted.RelayState : '',
    }));
  } catch (error) {
    throw new UpstreamError('invalid', `The SAML response was refused: ${(error as Error).message}`);
  }
  if (!profile?.nameID) throw new UpstreamError('invalid', 'The SAML response names nobody');
  const { settings } = connection;
  const attributeEmail = profileValue(profile, settings.email_attribute);
  const email =
    typeof attributeEmail === 'string' ? attributeEmail : profile.nameIDFormat?.endsWith(':emailAddress') ? profile.nameID : undefined;
  const attributes = Object.fromEntries(
    Object.entries(profile.attributes ?? {}).map(([name, value]) => [name, Array.isArray(value) ? value[0] : value]),
  );
  return {
    subject: profile.nameID,
    claims: { ...attributes, email, email_verified: settings.emails_verified && typeof email === 'string' },
    amr: [],
  };
}
