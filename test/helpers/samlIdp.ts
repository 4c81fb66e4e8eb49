// A real SAML 2.0 identity provider for federation tests, built with samlify (its schema
// validator @authenio/samlify-xmllint-wasm): it reads our AuthnRequest from the redirect URL and
// answers with a Response whose assertion it signs with its own key, as an IdP does. Tests may
// bend what goes into the response before it is signed (audience, times, InResponseTo), sign it
// with a key Gatehouse does not know, or not sign it at all, to see each refused. Asked to, it
// encrypts the assertion as samlify does for an SP that wants it: after signing, to the encryption
// certificate in the SP's metadata (or to a key that is not the SP's). For single logout it has a
// SingleLogoutService (HTTP-Redirect): it reads and checks our signed LogoutRequest and answers
// it, sends its own LogoutRequest, and reads and checks our LogoutResponse, all signed with its
// key (or a stranger's, or not at all, when a test asks).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import samlify from 'samlify';
import * as validator from '@authenio/samlify-xmllint-wasm';

samlify.setSchemaValidator(validator);

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

/** A fresh RSA key and self-signed certificate (openssl, as an operator would make them). */
export function keyPair(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-saml-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '30',
      '-subj',
      '/CN=test-idp',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    {
      stdio: 'ignore',
    },
  );
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}

// The default login response of samlify, with an attribute statement for the person's details.
const TEMPLATE =
  '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}"><saml:Issuer>{Issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{StatusCode}"/></samlp:Status><saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}"><saml:Issuer>{Issuer}</saml:Issuer><saml:Subject><saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{SubjectConfirmationDataNotOnOrAfter}" Recipient="{SubjectRecipient}" InResponseTo="{SubjectInResponseTo}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{ConditionsNotBefore}" NotOnOrAfter="{ConditionsNotOnOrAfter}"><saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue xsi:type="xs:string">{Email}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="given_name"><saml:AttributeValue xsi:type="xs:string">{GivenName}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>';

export interface SamlPerson {
  nameId: string;
  email?: string;
  givenName?: string;
  /** The IdP's session the assertion names (AuthnStatement SessionIndex); a fresh one by default. */
  sessionIndex?: string;
}

/** What a test may change in a logout message the IdP sends. */
export interface LogoutBend {
  /** Sign with a key Gatehouse does not know, or not at all. */
  signer?: 'idp' | 'stranger' | 'nobody';
  /** The request a LogoutResponse answers (default: the one it was given). */
  inResponseTo?: string;
  /** A LogoutResponse's status (default: Success). */
  status?: string;
}

/** Our LogoutRequest as the IdP read it (its signature checked against our metadata). */
export interface ReadLogoutRequest {
  id: string;
  issuer: string;
  nameId: string;
  sessionIndex: string | undefined;
  destination: string;
  relayState: string | null;
}

/** What a test may change before the response is signed. */
export interface ResponseBend {
  audience?: string;
  /** The request the Response and its bearer confirmation answer. */
  inResponseTo?: string;
  /** The request the bearer confirmation alone answers (null: it names none). */
  subjectInResponseTo?: string | null;
  /** Who the Response and assertion say issued them (another entity sharing the IdP's key). */
  issuer?: string;
  /** The Response's Destination, and the bearer confirmation's Recipient. */
  destination?: string;
  recipient?: string;
  /** Seconds from now when the assertion stops being valid (negative: already expired). */
  validForSeconds?: number;
  /** Sign with a key Gatehouse does not know, or not at all. */
  signer?: 'idp' | 'stranger' | 'nobody';
  /** Encrypt the assertion: to the SP (its metadata's encryption certificate), or to a key that is not its own. */
  encryptTo?: 'sp' | 'stranger';
}

export interface SamlIdp {
  entityId: string;
  ssoUrl: string;
  cert: string;
  /** The certificate of the key a response is signed with when bent with signer: 'stranger'. */
  strangerCert: string;
  /** The IdP's metadata XML, as it publishes it. */
  metadata: string;
  /** Answers the AuthnRequest in `requestUrl` (our redirect to ssoUrl): the base64 SAMLResponse. */
  respond(spMetadata: string, requestUrl: string, person: SamlPerson, bend?: ResponseBend): Promise<string>;
  /** Where the IdP takes logout messages (HTTP-Redirect). */
  sloUrl: string;
  /** Reads our LogoutRequest from `requestUrl` (our redirect to sloUrl); refuses it unless signed by our metadata's key. */
  readLogoutRequest(spMetadata: string, requestUrl: string): Promise<ReadLogoutRequest>;
  /** Answers our LogoutRequest in `requestUrl`: the URL of our SLO service with the LogoutResponse. */
  answerLogout(spMetadata: string, requestUrl: string, bend?: LogoutBend): Promise<string>;
  /** Signs a person out of the IdP: the URL of our SLO service with its LogoutRequest. */
  logoutRequest(
    spMetadata: string,
    person: { nameId: string; sessionIndex?: string },
    bend?: LogoutBend & { relayState?: string },
  ): Promise<{ id: string; url: string }>;
  /** Reads our LogoutResponse from `responseUrl` (our redirect to sloUrl): refused unless signed by our key and a success. */
  readLogoutResponse(spMetadata: string, responseUrl: string): Promise<{ inResponseTo: string; relayState: string | null }>;
}

export function createSamlIdp(): SamlIdp {
  const entityId = 'https://idp.example.test/metadata';
  const ssoUrl = 'https://idp.example.test/sso';
  const sloUrl = 'https://idp.example.test/slo';
  const own = keyPair();
  const stranger = keyPair();
  const identityProvider = (pair: { key: string; cert: string }, isAssertionEncrypted = false) =>
    samlify.IdentityProvider({
      entityID: entityId,
      signingCert: pair.cert,
      privateKey: pair.key,
      singleSignOnService: [{ Binding: REDIRECT, Location: ssoUrl }],
      singleLogoutService: [{ Binding: REDIRECT, Location: sloUrl }],
      // What we send for single logout must be signed (by the key in our metadata).
      wantLogoutRequestSigned: true,
      wantLogoutResponseSigned: true,
      nameIDFormat: [PERSISTENT],
      loginResponseTemplate: { context: TEMPLATE, attributes: [] },
      isAssertionEncrypted,
    });
  const idps = { idp: identityProvider(own), stranger: identityProvider(stranger) };
  // samlify encrypts inside createLoginResponse, after signing; done here as a step of its own (the
  // same samlify call), so that a response whose signatures were taken out can be encrypted too.
  const encrypter = identityProvider(own, true);
  // A service provider whose encryption key is not Gatehouse's: what an assertion meant for it looks like.
  const elsewhere = samlify.ServiceProvider({ entityID: 'https://elsewhere.example.test/metadata', encryptCert: stranger.cert });

  return {
    entityId,
    ssoUrl,
    cert: own.cert,
    strangerCert: stranger.cert,
    metadata: idps.idp.getMetadata(),
    async respond(spMetadata, requestUrl, person, bend = {}) {
      const signer = bend.signer ?? 'idp';
      const idp = idps[signer === 'stranger' ? 'stranger' : 'idp'];
      const url = new URL(requestUrl);
      const sp = samlify.ServiceProvider({ metadata: spMetadata });
      const { extract } = await idp.parseLoginRequest(sp, 'redirect', { query: Object.fromEntries(url.searchParams) });
      const now = new Date();
      const until = new Date(now.getTime() + (bend.validForSeconds ?? 300) * 1000).toISOString();
      const notBefore =
        bend.validForSeconds !== undefined && bend.validForSeconds < 0
          ? new Date(now.getTime() - 3600_000).toISOString()
          : now.toISOString();
      const response = await idp.createLoginResponse(sp, { extract }, 'post', { email: person.nameId }, (template: string) => {
        const id = `_${crypto.randomUUID()}`;
        // samlify names bindings by their short names ('post'), not their URNs.
        const acs = (sp.entityMeta as { getAssertionConsumerService(binding: string): string }).getAssertionConsumerService('post');
        assert.ok(acs, 'the SP metadata names an ACS for HTTP-POST');
        const shaped = bend.subjectInResponseTo === null ? template.replace(' InResponseTo="{SubjectInResponseTo}"', '') : template;
        return {
          id,
          context: samlify.SamlLib.replaceTagsByValue(shaped, {
            ID: id,
            AssertionID: `_${crypto.randomUUID()}`,
            Destination: bend.destination ?? acs,
            Audience: bend.audience ?? sp.entityMeta.getEntityID(),
            SubjectRecipient: bend.recipient ?? acs,
            Issuer: bend.issuer ?? entityId,
            IssueInstant: notBefore,
            StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
            ConditionsNotBefore: notBefore,
            ConditionsNotOnOrAfter: until,
            SubjectConfirmationDataNotOnOrAfter: until,
            NameIDFormat: PERSISTENT,
            NameID: person.nameId,
            InResponseTo: bend.inResponseTo ?? String(extract.request?.id),
            SubjectInResponseTo: bend.subjectInResponseTo ?? bend.inResponseTo ?? String(extract.request?.id),
            Email: person.email ?? '',
            GivenName: person.givenName ?? '',
            SessionIndex: person.sessionIndex ?? `_session-${crypto.randomUUID()}`,
          }),
        };
      });
      let xml = decodeResponse(response.context);
      // "Nobody" signs: every signature the IdP made is taken out again.
      if (signer === 'nobody') xml = xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');
      if (!bend.encryptTo) return encodeResponse(xml);
      return samlify.SamlLib.encryptAssertion(encrypter, bend.encryptTo === 'sp' ? sp : elsewhere, xml);
    },
    sloUrl,
    async readLogoutRequest(spMetadata, requestUrl) {
      const url = new URL(requestUrl);
      assert.equal(`${url.origin}${url.pathname}`, sloUrl, 'sent to the IdP’s single logout service');
      const { extract } = await idps.idp.parseLogoutRequest(logoutPeer(spMetadata), 'redirect', redirectRequest(url, 'SAMLRequest'));
      return {
        id: String(extract.request?.id),
        issuer: String(extract.issuer),
        nameId: String(extract.nameID),
        sessionIndex: extract.sessionIndex ? String(extract.sessionIndex) : undefined,
        destination: String(extract.request?.destination),
        relayState: url.searchParams.get('RelayState'),
      };
    },
    async answerLogout(spMetadata, requestUrl, bend = {}) {
      const url = new URL(requestUrl);
      const request = await this.readLogoutRequest(spMetadata, requestUrl);
      const signer = bend.signer ?? 'idp';
      const sp = logoutPeer(spMetadata, signer !== 'nobody');
      const destination = sloServiceOf(sp);
      const { context } = idps[signer === 'stranger' ? 'stranger' : 'idp'].createLogoutResponse(
        sp,
        { extract: { request: { id: request.id } } },
        'redirect',
        {
          relayState: url.searchParams.get('RelayState') ?? '',
          customTagReplacement: (template: string) => {
            const id = `_${crypto.randomUUID()}`;
            return {
              id,
              context: samlify.SamlLib.replaceTagsByValue(template, {
                ID: id,
                Destination: destination,
                Issuer: entityId,
                IssueInstant: new Date().toISOString(),
                StatusCode: bend.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success',
                InResponseTo: bend.inResponseTo ?? request.id,
              }),
            };
          },
        },
      );
      return context;
    },
    async logoutRequest(spMetadata, person, bend = {}) {
      const signer = bend.signer ?? 'idp';
      const sp = logoutPeer(spMetadata, signer !== 'nobody');
      const { id, context } = idps[signer === 'stranger' ? 'stranger' : 'idp'].createLogoutRequest(
        sp,
        'redirect',
        { logoutNameID: person.nameId, sessionIndex: person.sessionIndex },
        {
          relayState: bend.relayState ?? '',
          customTagReplacement: (template: string) => {
            // Without a SessionIndex the request signs out every session of the NameID.
            const shaped = person.sessionIndex
              ? template
              : template.replace(/<samlp:SessionIndex>\{SessionIndex\}<\/samlp:SessionIndex>/, '');
            const id = `_${crypto.randomUUID()}`;
            return {
              id,
              context: samlify.SamlLib.replaceTagsByValue(shaped, {
                ID: id,
                Destination: sloServiceOf(sp),
                Issuer: entityId,
                IssueInstant: new Date().toISOString(),
                NameIDFormat: PERSISTENT,
                NameID: person.nameId,
                SessionIndex: person.sessionIndex ?? '',
              }),
            };
          },
        },
      );
      return { id, url: context };
    },
    async readLogoutResponse(spMetadata, responseUrl) {
      const url = new URL(responseUrl);
      assert.equal(`${url.origin}${url.pathname}`, sloUrl, 'sent to the IdP’s single logout service');
      const { extract } = await idps.idp.parseLogoutResponse(logoutPeer(spMetadata), 'redirect', redirectRequest(url, 'SAMLResponse'));
      return { inResponseTo: String(extract.response?.inResponseTo), relayState: url.searchParams.get('RelayState') };
    },
  };
}

/** Our service provider as the IdP's single logout sees it: from our metadata; what the IdP sends it is signed unless `signed` is false. */
function logoutPeer(spMetadata: string, signed = true) {
  return samlify.ServiceProvider({ metadata: spMetadata, wantLogoutRequestSigned: signed, wantLogoutResponseSigned: signed });
}

function sloServiceOf(sp: ReturnType<typeof samlify.ServiceProvider>): string {
  const location = (sp.entityMeta as { getSingleLogoutService(binding: string): unknown }).getSingleLogoutService('redirect');
  assert.equal(typeof location, 'string', 'the SP metadata names a single logout service for HTTP-Redirect');
  return location as string;
}

/**
 * What samlify reads a redirect-binding message from: the parameters (decoded), and the octet
 * string the signature covers, exactly as the URL carries it.
 */
function redirectRequest(url: URL, kind: 'SAMLRequest' | 'SAMLResponse') {
  const raw = new Map(
    url.search
      .slice(1)
      .split('&')
      .map((token) => [token.slice(0, token.indexOf('=')), token] as const),
  );
  const octetString = [kind, 'RelayState', 'SigAlg']
    .map((name) => raw.get(name))
    .filter(Boolean)
    .join('&');
  return { query: Object.fromEntries(url.searchParams), octetString };
}

/**
 * The settings of a SAML connection (to an IdP that need not exist) that wants its assertions
 * encrypted to `spCertificate`: for tests of what such a connection requires of its key.
 */
export const encryptedSamlSettings = (spCertificate: string) => ({
  idp_entity_id: 'https://idp.acme.example',
  sso_url: 'https://idp.acme.example/sso',
  idp_certificates: [keyPair().cert],
  want_encrypted_assertions: true,
  sp_certificate: spCertificate,
});

/** The XML of a base64 SAMLResponse, and back: for tests that tamper with a signed response. */
export const decodeResponse = (base64: string) => Buffer.from(base64, 'base64').toString('utf8');
export const encodeResponse = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
