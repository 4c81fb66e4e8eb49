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
// Single logout (a connection with slo_url and our signing key) goes by the HTTP-Redirect binding
// both ways: our signed LogoutRequest out and the IdP's LogoutResponse back, or the IdP's
// LogoutRequest in and our signed LogoutResponse out (samlLogout.ts has the routes). Every
// message from the IdP must carry a query signature by one of its certificates.
//
//   GET  /federation/saml/<connection>/metadata   our SP metadata (entity id = this URL)
//   POST /federation/saml/<connection>/acs        the IdP posts the Response here
//   GET  /federation/saml/<connection>/slo        single logout, both directions
import { createVerify } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile, type SamlConfig } from '@node-saml/node-saml';
import type { SamlConnection } from './connections.ts';
import { UpstreamError, type UpstreamChecks, type UpstreamIdentity } from './oidcUpstream.ts';

/** An AuthnRequest is answered within this time, or not at all. */
const REQUEST_LIFETIME_MS = 10 * 60 * 1000;

export const samlEntityId = (issuer: string, connectionId: string) => `${issuer}/federation/saml/${connectionId}/metadata`;
export const samlAcsUrl = (issuer: string, connectionId: string) => `${issuer}/federation/saml/${connectionId}/acs`;
export const samlSloUrl = (issuer: string, connectionId: string) => `${issuer}/federation/saml/${connectionId}/slo`;

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

/**
 * Whether single logout is on for this connection: the IdP's SLO URL, and our key and certificate
 * to sign what we send there (connections.ts refuses slo_url without them; a key removed since
 * only turns it off).
 */
export function sloEnabled(connection: SealedSamlConnection): boolean {
  return Boolean(connection.settings.slo_url && spKeys(connection).privateKey);
}

function samlOf(deps: SamlDeps, connection: SealedSamlConnection, cache: CacheProvider): SAML {
  const { settings } = connection;
  const spEntityId = samlEntityId(deps.issuer, connection.id);
  return new SAML({
    entryPoint: settings.sso_url,
    ...(sloEnabled(connection) && { logoutUrl: settings.slo_url, logoutCallbackUrl: samlSloUrl(deps.issuer, connection.id) }),
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
 * its key has (signing requests; encryption, which tells the IdP to encrypt assertions to it);
 * with single logout, our SingleLogoutService. node-saml lists that one for HTTP-POST; ours is
 * the HTTP-Redirect binding, so the binding it names is put right.
 */
export function samlMetadata(deps: SamlDeps, connection: SealedSamlConnection): string {
  const certificate = connection.settings.sp_certificate ?? null;
  const keys = spKeys(connection);
  const xml = samlOf(deps, connection, tripCache()).generateServiceProviderMetadata(
    keys.decryptionPvk ? certificate : null,
    keys.privateKey ? certificate : null,
  );
  return sloEnabled(connection)
    ? xml.replace(/(<SingleLogoutService\b[^>]*\bBinding=")urn:oasis:names:tc:SAML:2\.0:bindings:HTTP-POST"/, `$1${REDIRECT_BINDING}"`)
    : xml;
}

const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

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

/**
 * What a SAML sign-in leaves for single logout to name: the NameID as the IdP issued it (with its
 * format and qualifiers, which a LogoutRequest must repeat) and the IdP's session.
 */
export interface SamlSessionRef {
  nameID: string;
  nameIDFormat?: string;
  nameQualifier?: string;
  spNameQualifier?: string;
  sessionIndex?: string;
}

/** Who signed in through SAML, and the IdP session they signed in with. */
export type SamlIdentity = UpstreamIdentity & { saml: SamlSessionRef };

export const isSamlIdentity = (identity: UpstreamIdentity): identity is SamlIdentity =>
  typeof (identity as Partial<SamlIdentity>).saml?.nameID === 'string';

/** Checks the posted Response against the trip's request; who the IdP says it is. */
export async function finishSamlSignIn(
  deps: SamlDeps,
  connection: SealedSamlConnection,
  checks: UpstreamChecks,
  posted: { SAMLResponse?: unknown; RelayState?: unknown },
): Promise<SamlIdentity> {
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
    saml: {
      nameID: profile.nameID,
      ...(profile.nameIDFormat && { nameIDFormat: profile.nameIDFormat }),
      ...(profile.nameQualifier && { nameQualifier: profile.nameQualifier }),
      ...(profile.spNameQualifier && { spNameQualifier: profile.spNameQualifier }),
      ...(profile.sessionIndex && { sessionIndex: profile.sessionIndex }),
    },
  };
}

// ---- Single logout (HTTP-Redirect binding) ----

const PROTOCOL_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
/** The query signatures accepted on what the IdP sends (SHA-1 is not). */
const QUERY_SIGNATURE_ALGORITHMS: Record<string, string> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'RSA-SHA256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'RSA-SHA512',
};
/** A logout message is a few kilobytes; inflating stops well before a compression bomb hurts. */
const MAX_LOGOUT_MESSAGE_BYTES = 256 * 1024;
const REDIRECT_PARAMETERS = new Set(['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature']);

type MessageKind = 'SAMLRequest' | 'SAMLResponse';
interface RedirectMessage {
  /** The parameters, decoded, for node-saml. */
  container: Record<string, string>;
  /** The parameters exactly as sent, in the order the signature covers them. */
  originalQuery: string;
  root: XmlElement;
}

const logoutInvalid = (message: string) => new UpstreamError('invalid', message);

/**
 * Reads a logout message sent by the redirect binding, from the query exactly as it came: each
 * parameter once, and a query signature (SAMLRequest|SAMLResponse, RelayState, SigAlg, as
 * URL-encoded by the sender) by one of the IdP's certificates. node-saml accepts a message without
 * a signature, and finds the signed parameters by pattern in the raw query, so the query it is
 * given is this one, rebuilt from the parameters checked here.
 */
function readRedirectMessage(deps: SamlDeps, connection: SealedSamlConnection, rawQuery: string, kind: MessageKind): RedirectMessage {
  const what = kind === 'SAMLRequest' ? 'logout request' : 'logout response';
  const raw = new Map<string, string>();
  for (const token of rawQuery.split('&')) {
    const at = token.indexOf('=');
    const name = at < 0 ? token : token.slice(0, at);
    if (!REDIRECT_PARAMETERS.has(name)) continue;
    if (raw.has(name)) throw logoutInvalid(`The SAML ${what} carries ${name} twice`);
    raw.set(name, at < 0 ? '' : token.slice(at + 1));
  }
  if (!raw.get(kind) || raw.has(kind === 'SAMLRequest' ? 'SAMLResponse' : 'SAMLRequest')) throw logoutInvalid(`No SAML ${what} was sent`);
  const decode = (value: string) => new URLSearchParams(`v=${value}`).get('v') ?? '';
  const container = Object.fromEntries([...raw].map(([name, value]) => [name, decode(value)]));
  if (!container.Signature || !container.SigAlg) throw logoutInvalid(`The SAML ${what} is not signed`);
  const algorithm = QUERY_SIGNATURE_ALGORITHMS[container.SigAlg];
  if (!algorithm) throw logoutInvalid(`The SAML ${what} is signed with ${container.SigAlg}, which is not accepted`);
  const signed = [kind, 'RelayState', 'SigAlg'].filter((name) => raw.has(name)).map((name) => `${name}=${raw.get(name)}`);
  const signature = Buffer.from(container.Signature, 'base64');
  const verified = connection.settings.idp_certificates.some((certificate) => {
    try {
      return createVerify(algorithm).update(signed.join('&')).verify(certificate, signature);
    } catch {
      return false;
    }
  });
  if (!verified) throw logoutInvalid(`The SAML ${what} is not signed by the IdP (invalid query signature)`);
  let xml: string;
  try {
    xml = inflateRawSync(Buffer.from(container[kind], 'base64'), { maxOutputLength: MAX_LOGOUT_MESSAGE_BYTES }).toString('utf8');
  } catch {
    throw logoutInvalid(`The SAML ${what} cannot be read (not deflated, or too large)`);
  }
  if (DOCTYPE.test(xml)) throw logoutInvalid(`The SAML ${what} contains a DOCTYPE, which is never accepted`);
  const root = rootOf(xml, what);
  const element = kind === 'SAMLRequest' ? 'LogoutRequest' : 'LogoutResponse';
  if (root.localName !== element || root.namespaceURI !== PROTOCOL_NS) throw logoutInvalid(`The SAML ${what} is not a ${element}`);
  const destination = root.getAttribute('Destination');
  if (root.hasAttribute('Destination') && destination !== samlSloUrl(deps.issuer, connection.id))
    throw logoutInvalid(`The SAML ${what} is for ${destination}, not this connection's single logout service`);
  return { container, originalQuery: [...signed, `Signature=${raw.get('Signature')}`].join('&'), root };
}

async function validateLogoutMessage(
  deps: SamlDeps,
  connection: SealedSamlConnection,
  message: RedirectMessage,
  requestId?: string,
): Promise<Profile | null> {
  try {
    const { profile } = await samlOf(deps, connection, tripCache(requestId)).validateRedirectAsync(
      message.container,
      message.originalQuery,
    );
    return profile;
  } catch (error) {
    throw logoutInvalid(`The SAML logout message was refused: ${(error as Error).message}`);
  }
}

/**
 * Where to send the browser to sign out of the IdP too: its SLO URL with our signed LogoutRequest
 * naming the person and the IdP session as it signed them in. The request's ID is kept by the
 * caller, to check the IdP's answer against.
 */
export async function startSamlLogout(
  deps: SamlDeps,
  connection: SealedSamlConnection,
  session: SamlSessionRef,
  relayState: string,
): Promise<{ url: URL; requestId: string }> {
  if (!sloEnabled(connection)) throw logoutInvalid('Single logout is not set up for this connection');
  if (connection.settings.slo_url?.startsWith('http:') && !deps.allowHttp)
    throw logoutInvalid('The identity provider must be reached over https');
  const cache = tripCache();
  const url = await samlOf(deps, connection, cache).getLogoutUrlAsync(
    {
      issuer: connection.settings.idp_entity_id,
      nameID: session.nameID,
      nameIDFormat: session.nameIDFormat ?? connection.settings.name_id_format,
      ...(session.nameQualifier && { nameQualifier: session.nameQualifier }),
      ...(session.spNameQualifier && { spNameQualifier: session.spNameQualifier }),
      ...(session.sessionIndex && { sessionIndex: session.sessionIndex }),
    },
    relayState,
    {},
  );
  if (!cache.saved) throw logoutInvalid('No SAML logout request was made');
  return { url: new URL(url), requestId: cache.saved };
}

/** Checks the IdP's LogoutResponse (the query it came back with): signed, from the IdP, a success, in answer to `requestId`. */
export async function finishSamlLogout(
  deps: SamlDeps,
  connection: SealedSamlConnection,
  rawQuery: string,
  requestId: string,
): Promise<void> {
  const message = readRedirectMessage(deps, connection, rawQuery, 'SAMLResponse');
  // node-saml checks InResponseTo only when there is one; ours must answer our request.
  if (message.root.getAttribute('InResponseTo') !== requestId)
    throw logoutInvalid('The SAML logout response does not answer our logout request');
  await validateLogoutMessage(deps, connection, message, requestId);
}

/** A LogoutRequest from the IdP, checked: who and which IdP sessions it signs out. */
export interface IdpLogoutRequest {
  /** node-saml's reading of it (ID, issuer, NameID), for our answer. */
  profile: Profile;
  sessionIndexes: string[];
  relayState?: string;
}

/** Checks a LogoutRequest the IdP sent (the query it came with): signed, from the IdP, recent, for us. */
export async function readSamlLogoutRequest(deps: SamlDeps, connection: SealedSamlConnection, rawQuery: string): Promise<IdpLogoutRequest> {
  const message = readRedirectMessage(deps, connection, rawQuery, 'SAMLRequest');
  const issued = Date.parse(message.root.getAttribute('IssueInstant') ?? '');
  const skew = connection.settings.clock_skew_seconds * 1000;
  const now = Date.now();
  if (!Number.isFinite(issued) || issued > now + skew || issued < now - REQUEST_LIFETIME_MS - skew)
    throw logoutInvalid('The SAML logout request is not recent (its IssueInstant)');
  const profile = await validateLogoutMessage(deps, connection, message);
  if (!profile?.nameID || !profile.ID) throw logoutInvalid('The SAML logout request names nobody');
  const sessionIndexes = childElements(message.root)
    .filter((child) => child.localName === 'SessionIndex' && child.namespaceURI === PROTOCOL_NS)
    .map((child) => child.textContent?.trim() ?? '');
  return { profile, sessionIndexes, ...(message.container.RelayState && { relayState: message.container.RelayState }) };
}

/** Our signed LogoutResponse to the IdP's request: where to send the browser. */
export async function samlLogoutResponseUrl(
  deps: SamlDeps,
  connection: SealedSamlConnection,
  request: IdpLogoutRequest,
  success: boolean,
): Promise<URL> {
  if (connection.settings.slo_url?.startsWith('http:') && !deps.allowHttp)
    throw logoutInvalid('The identity provider must be reached over https');
  const url = await samlOf(deps, connection, tripCache()).getLogoutResponseUrlAsync(request.profile, request.relayState ?? '', {}, success);
  return new URL(url);
}
