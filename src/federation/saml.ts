// SAML 2.0 with Gatehouse as the service provider, on @node-saml/node-saml: an AuthnRequest out
// by the HTTP-Redirect binding (signed with SHA-256 when the connection has a key), the Response
// back by HTTP-POST to the connection's assertion consumer service. node-saml checks the
// assertion's signature (by one of the IdP's certificates), our entity id as audience and the time
// conditions within a small clock skew; we check what it does not (checkEnvelope, checkAssertion):
// the IdP as issuer, our ACS as destination and as the bearer confirmation's recipient, and that
// confirmation's InResponseTo as the request this trip made — only once, as the trip is a
// verification record taken once. XML with a DOCTYPE (entity expansion) is refused before any
// parsing. A connection that wants encrypted assertions gets them encrypted to its sp_certificate
// (advertised in our metadata) and decrypted with its sealed key; a plain one is then refused.
//
//   GET  /federation/saml/<connection>/metadata   our SP metadata (entity id = this URL)
//   POST /federation/saml/<connection>/acs        the IdP posts the Response here
import { DOMParser } from '@xmldom/xmldom';
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile, type SamlConfig } from '@node-saml/node-saml';
import type { SamlConnection } from './connections.ts';
import { UpstreamError, type UpstreamChecks, type UpstreamIdentity } from './oidcUpstream.ts';

/** An AuthnRequest is answered within this time, or not at all. */
const REQUEST_LIFETIME_MS = 10 * 60 * 1000;

export const samlEntityId = (issuer: string, connectionId: string) => `${issuer}/federation/saml/${connectionId}/metadata`;
export const samlAcsUrl = (issuer: string, connectionId: string) => `${issuer}/federation/saml/${connectionId}/acs`;

interface SamlDeps {
  issuer: string;
  /** Plain-http IdPs outside production only. */
  allowHttp?: boolean;
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

type SealedSamlConnection = SamlConnection & { clientSecret?: string };

/**
 * Our private key (the connection's sealed secret), for what it serves here: signing our requests
 * once our certificate is there to publish beside it, and decrypting assertions when they are
 * wanted encrypted. node-saml's metadata insists on a certificate for each use its key is given,
 * so the key is given for a use only when the connection has that use.
 */
function spKeys(connection: SealedSamlConnection): Pick<SamlConfig, 'privateKey' | 'decryptionPvk'> {
  const { clientSecret: key, settings } = connection;
  if (!key) return {};
  return {
    ...(settings.sp_certificate && { privateKey: key }),
    ...(settings.want_encrypted_assertions && { decryptionPvk: key }),
  };
}

function samlOf(deps: SamlDeps, connection: SealedSamlConnection, cache: CacheProvider): SAML {
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
    // Every answer is to a request of ours: IdP-initiated (unsolicited) responses are refused.
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: REQUEST_LIFETIME_MS,
    cacheProvider: cache,
    identifierFormat: settings.name_id_format,
    disableRequestedAuthnContext: true,
    // Our signed AuthnRequests: node-saml's default is still SHA-1.
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    ...spKeys(connection),
  });
}

/** Where to send the browser: the IdP's SSO URL with our AuthnRequest; its ID is kept with the trip. */
export async function startSamlSignIn(
  deps: SamlDeps,
  connection: SealedSamlConnection,
  relayState: string,
): Promise<{ url: URL; checks: UpstreamChecks }> {
  if (connection.settings.sso_url.startsWith('http:') && !deps.allowHttp)
    throw new UpstreamError('invalid', 'The identity provider must be reached over https');
  const cache = tripCache();
  const url = await samlOf(deps, connection, cache).getAuthorizeUrlAsync(relayState, undefined, {});
  if (!cache.saved) throw new UpstreamError('invalid', 'No SAML request was made');
  return { url: new URL(url), checks: { state: relayState, nonce: '', codeVerifier: '', requestId: cache.saved } };
}

/**
 * The service provider metadata an IdP is given: entity id, ACS, and our certificate for each use
 * its key has (signing requests; encryption, which tells the IdP to encrypt assertions to it).
 */
export function samlMetadata(deps: SamlDeps, connection: SealedSamlConnection): string {
  const certificate = connection.settings.sp_certificate ?? null;
  const keys = spKeys(connection);
  return samlOf(deps, connection, tripCache()).generateServiceProviderMetadata(
    keys.decryptionPvk ? certificate : null,
    keys.privateKey ? certificate : null,
  );
}

// A DOCTYPE is where entity expansion and external entities live; a SAML message never needs one.
const DOCTYPE = /<!DOCTYPE|<!ENTITY/i;

/** The little of the DOM the checks below read (the project's TypeScript has no DOM library). */
interface XmlElement {
  nodeType: number;
  localName: string | null;
  namespaceURI: string | null;
  textContent: string | null;
  childNodes: ArrayLike<XmlElement>;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  getElementsByTagNameNS(namespace: string, localName: string): ArrayLike<XmlElement>;
}
const ELEMENT_NODE = 1;
const ASSERTION_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** The document element of well-formed XML (xmldom: no entity expansion, and a DOCTYPE was refused before). */
function rootOf(xml: string, what: string): XmlElement {
  let wellFormed = true;
  const spoilt = () => {
    wellFormed = false;
  };
  const document = new DOMParser({ errorHandler: { error: spoilt, fatalError: spoilt } }).parseFromString(xml, 'text/xml');
  const root = document?.documentElement as unknown as XmlElement | null;
  if (!wellFormed || !root) throw new UpstreamError('invalid', `The SAML ${what} is not well-formed XML`);
  return root;
}

const childElements = (element: XmlElement) => Array.from(element.childNodes).filter((node) => node.nodeType === ELEMENT_NODE);

/**
 * A connection that wants encrypted assertions takes no plain one: node-saml, given our key,
 * decrypts an EncryptedAssertion but accepts a plain Assertion just as well, so the choice
 * would be the sender's. Looked for where node-saml looks (right under the Response, by local
 * name), so an EncryptedAssertion elsewhere in the XML cannot vouch for a plain one.
 */
function refusePlainAssertion(connection: SealedSamlConnection, response: XmlElement): void {
  if (!connection.settings.want_encrypted_assertions) return;
  if (!spKeys(connection).decryptionPvk)
    throw new UpstreamError('invalid', 'The connection wants encrypted assertions but has no service provider key to decrypt them');
  if (childElements(response).some((child) => child.localName === 'Assertion'))
    throw new UpstreamError('invalid', 'The SAML assertion is not encrypted, and this connection accepts only encrypted assertions');
}

/**
 * What node-saml leaves unchecked in the Response around the assertion: when it names an issuer,
 * it is the connection's IdP; when it names a destination, it is this connection's ACS. (The
 * envelope is usually unsigned: what binds the answer is checked in the assertion, below.)
 */
function checkEnvelope(response: XmlElement, expected: { issuer: string; acs: string }): void {
  const issuer = childElements(response).find((child) => child.localName === 'Issuer' && child.namespaceURI === ASSERTION_NS);
  if (issuer && issuer.textContent?.trim() !== expected.issuer)
    throw new UpstreamError('invalid', `The SAML response is from ${issuer.textContent?.trim()}, not this connection's IdP`);
  if (response.hasAttribute('Destination') && response.getAttribute('Destination') !== expected.acs)
    throw new UpstreamError('invalid', `The SAML response is for ${response.getAttribute('Destination')}, not this connection's ACS`);
}

/**
 * What the (signed, and decrypted) assertion must say beyond node-saml's checks (signature,
 * audience, time): its issuer is the connection's IdP, not another entity sharing the IdP's
 * signing key (tenants of one IdP service); and a bearer confirmation is for this connection's ACS
 * (Recipient) in answer to this trip's request (InResponseTo, as the Web Browser SSO profile
 * requires), so a signed assertion cannot be replayed into another sign-in or another SP.
 */
function checkAssertion(profile: Profile, expected: { issuer: string; acs: string; requestId?: string }): void {
  if (profile.issuer !== expected.issuer)
    throw new UpstreamError('invalid', `The SAML assertion is from ${profile.issuer}, not this connection's IdP`);
  const assertion = rootOf(profile.getAssertionXml?.() ?? '', 'assertion');
  const confirmations = Array.from(assertion.getElementsByTagNameNS(ASSERTION_NS, 'SubjectConfirmation')).filter(
    (confirmation) => confirmation.getAttribute('Method') === BEARER,
  );
  const answersThisTrip = confirmations.some((confirmation) =>
    childElements(confirmation).some(
      (data) =>
        data.localName === 'SubjectConfirmationData' &&
        data.getAttribute('Recipient') === expected.acs &&
        Boolean(expected.requestId) &&
        data.getAttribute('InResponseTo') === expected.requestId,
    ),
  );
  if (!answersThisTrip)
    throw new UpstreamError('invalid', "The SAML assertion is not confirmed for this connection's ACS in answer to this sign-in's request");
}

/**
 * Whether the IdP's word makes this email verified: it vouches (emails_verified) only for the
 * addresses of the domains the connection names. A directory is authoritative for its own
 * domains; one that vouched for any address could create (or claim) accounts for other people's.
 */
function vouchedFor(connection: SealedSamlConnection, email: string | undefined): boolean {
  if (!connection.settings.emails_verified || typeof email !== 'string') return false;
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return connection.domains.includes(domain);
}

const profileValue = (profile: Profile, name: string): unknown => {
  const value = (profile as Record<string, unknown>)[name] ?? (profile.attributes as Record<string, unknown> | undefined)?.[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Checks the posted Response against the trip's request; who the IdP says it is. */
export async function finishSamlSignIn(
  deps: SamlDeps,
  connection: SealedSamlConnection,
  checks: UpstreamChecks,
  posted: { SAMLResponse?: unknown; RelayState?: unknown },
): Promise<UpstreamIdentity> {
  if (typeof posted.SAMLResponse !== 'string' || !posted.SAMLResponse) throw new UpstreamError('invalid', 'No SAML response was posted');
  const xml = Buffer.from(posted.SAMLResponse, 'base64').toString('utf8');
  if (DOCTYPE.test(xml)) throw new UpstreamError('invalid', 'The SAML response contains a DOCTYPE, which is never accepted');
  const response = rootOf(xml, 'response');
  const expected = { issuer: connection.settings.idp_entity_id, acs: samlAcsUrl(deps.issuer, connection.id), requestId: checks.requestId };
  refusePlainAssertion(connection, response);
  checkEnvelope(response, expected);
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
  checkAssertion(profile, expected);
  const { settings } = connection;
  const attributeEmail = profileValue(profile, settings.email_attribute);
  const email =
    typeof attributeEmail === 'string' ? attributeEmail : profile.nameIDFormat?.endsWith(':emailAddress') ? profile.nameID : undefined;
  const attributes = Object.fromEntries(
    Object.entries(profile.attributes ?? {}).map(([name, value]) => [name, Array.isArray(value) ? value[0] : value]),
  );
  return {
    subject: profile.nameID,
    claims: { ...attributes, email, email_verified: vouchedFor(connection, email) },
    amr: [],
  };
}
