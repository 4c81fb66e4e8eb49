// Signing in through an upstream SAML 2.0 IdP, with real peers: samlify as the IdP (signing with
// its own key, validating with xmllint-wasm), @node-saml/node-saml in Gatehouse as the service
// provider, openid-client as the relying party. A signed response to our request signs the
// person in (JIT, mapped attributes); every forged or bent response is refused with a screen that
// says so, and creates no user. A second connection wants its assertions encrypted to its own
// certificate: samlify encrypts them, node-saml decrypts them with the connection's sealed key.
import { after, before, describe, it } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import samlify from 'samlify';
import { toRelyingParty as reachRelyingParty } from '../helpers/federatedSignIn.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { Browser, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, type AuthorizationRequest } from '../helpers/relyingParty.ts';
import {
  createSamlIdp,
  decodeResponse,
  encodeResponse,
  keyPair,
  type ResponseBend,
  type SamlIdp,
  type SamlPerson,
} from '../helpers/samlIdp.ts';
import { createConnection } from '../../src/federation/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const box = createSecretBox(TEST_SECRET_KEY);

/** The connections signed in through: one taking signed assertions, one wanting them encrypted too. */
const PLAIN = { id: 'acme-saml', displayName: 'Acme (SAML)' };
const ENCRYPTED = { id: 'acme-encrypted', displayName: 'Acme (encrypted)' };
type Via = typeof PLAIN;

const bareCertificate = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('federation: upstream SAML 2.0', () => {
  let database: TestDatabase;
  let server: TestServer;
  let idp: SamlIdp;
  let rp: client.Configuration;
  let spMetadata: string;
  /** Our certificate and key for the connection that wants encrypted assertions. */
  let encryptionPair: { key: string; cert: string };
  let encryptedSpMetadata: string;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    idp = createSamlIdp();
    await createConnection(operator(database), box, {
      id: 'acme-saml',
      type: 'saml',
      display_name: 'Acme (SAML)',
      // The directory vouches for the addresses of its own domain.
      domains: ['acme.test'],
      settings: { idp_entity_id: idp.entityId, sso_url: idp.ssoUrl, idp_certificates: [idp.cert], emails_verified: true },
    });
    const registered = await createClient(database, server.config, { name: 'SAML App' });
    rp = await discover(server.issuer, registered.client_id, registered.client_secret);
    encryptionPair = keyPair();
    await createConnection(operator(database), box, {
      id: ENCRYPTED.id,
      type: 'saml',
      display_name: ENCRYPTED.displayName,
      domains: ['acme.test'],
      settings: {
        idp_entity_id: idp.entityId,
        sso_url: idp.ssoUrl,
        idp_certificates: [idp.cert],
        emails_verified: true,
        want_encrypted_assertions: true,
        sp_certificate: encryptionPair.cert,
      },
      sp_private_key: encryptionPair.key,
    });
    spMetadata = await (await fetch(`${server.issuer}/federation/saml/acme-saml/metadata`)).text();
    encryptedSpMetadata = await (await fetch(`${server.issuer}/federation/saml/${ENCRYPTED.id}/metadata`)).text();
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const acs = (via: Via = PLAIN) => `${server.issuer}/federation/saml/${via.id}/acs`;
  const metadataOf = (via: Via) => (via === ENCRYPTED ? encryptedSpMetadata : spMetadata);

  /** Leaves the sign-in screen for the IdP; the redirect to it carries our AuthnRequest. */
  async function startTrip(via: Via = PLAIN) {
    const browser = new Browser();
    const request = await authorizationRequest(rp);
    const login = await browser.navigate(request.url.toString());
    const toIdp = await browser.submit(login, new RegExp(`/upstream/${via.id}/start$`), {}, idp.ssoUrl);
    assert.ok(toIdp.url.startsWith(idp.ssoUrl), `sent to the IdP: ${toIdp.url}`);
    return { browser, request, requestUrl: toIdp.url, relayState: new URL(toIdp.url).searchParams.get('RelayState') as string };
  }

  /** The IdP's browser posts the Response to our ACS (a cross-site POST: none of our cookies go with it). */
  async function postResponse(browser: Browser, samlResponse: string, relayState: string, via: Via = PLAIN): Promise<Page> {
    const response = await fetch(acs(via), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: relayState }),
      redirect: 'manual',
    });
    if (response.status !== 303) return { url: acs(via), status: response.status, html: await response.text(), response };
    return browser.navigate(new URL(response.headers.get('location') as string, server.issuer).href, {}, RP_REDIRECT);
  }

  /** The latest refusal's reason, as the audit has it. */
  const lastRefusal = async () =>
    (await database.db('audit_events').where('type', 'login.federated_refused').orderBy('id', 'desc').first())?.details.reason;
  const toRelyingParty = (browser: Browser, page: Page, request: AuthorizationRequest) =>
    reachRelyingParty(rp, browser, page, request, lastRefusal);

  const userCount = async () => Number((await database.db('users').count({ n: '*' }).first())?.n);

  /** Posts a bent response; it must be refused on a screen, for `why` (as the audit records it), creating nobody. */
  async function refused(person: SamlPerson, bend: ResponseBend | ((xml: string) => string), why: RegExp, via: Via = PLAIN) {
    const expected = new RegExp(`Signing in with ${escapeRegExp(via.displayName)} did not work`);
    const users = await userCount();
    const trip = await startTrip(via);
    const signed = typeof bend === 'function' ? undefined : await idp.respond(metadataOf(via), trip.requestUrl, person, bend);
    const samlResponse =
      typeof bend === 'function'
        ? encodeResponse(bend(decodeResponse(await idp.respond(metadataOf(via), trip.requestUrl, person))))
        : (signed as string);
    const page = await postResponse(trip.browser, samlResponse, trip.relayState, via);
    assert.equal(page.status, 400, page.html.slice(0, 500));
    assert.match(page.html, expected);
    assert.equal(await userCount(), users, 'no user created');
    assert.equal(await database.db('federated_identities').where({ subject: person.nameId }).first(), undefined);
    assert.match(String(await lastRefusal()), why);
    return page;
  }

  it('serves its service provider metadata: entity id, ACS by HTTP-POST, signed assertions wanted', async () => {
    assert.match(spMetadata, new RegExp(`entityID="${server.issuer}/federation/saml/acme-saml/metadata"`));
    assert.match(spMetadata, /WantAssertionsSigned="true"/);
    assert.match(spMetadata, new RegExp(`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${acs()}"`));
  });

  it('signs a person in from a signed response to our request, creating the user with the mapped attributes', async () => {
    const trip = await startTrip();
    const samlResponse = await idp.respond(spMetadata, trip.requestUrl, { nameId: 'emp-1001', email: 'ines@acme.test', givenName: 'Inès' });
    const page = await postResponse(trip.browser, samlResponse, trip.relayState);
    const tokens = await toRelyingParty(trip.browser, page, trip.request);
    const userinfo = await client.fetchUserInfo(rp, tokens.access_token, tokens.claims()?.sub as string);
    assert.equal(userinfo.email, 'ines@acme.test');
    assert.equal(userinfo.email_verified, true, 'the connection vouches for its emails (emails_verified)');
    assert.equal(userinfo.given_name, 'Inès');
    assert.deepEqual(tokens.claims()?.amr, ['fed']);
    const identity = await database.db('federated_identities').where({ connection_id: 'acme-saml', subject: 'emp-1001' }).first();
    assert.equal(identity.user_id, tokens.claims()?.sub);

    // Posting the same response again: the trip it answered is used up.
    const replayed = await postResponse(trip.browser, samlResponse, trip.relayState);
    assert.equal(replayed.status, 400);
    assert.match(replayed.html, /This sign-in (was already used or )?has expired/);
    assert.equal(
      await database
        .db('federated_identities')
        .where({ subject: 'emp-1001' })
        .count({ n: '*' })
        .first()
        .then((r) => Number(r?.n)),
      1,
    );
  });

  it('vouches for the addresses of the connection’s domains only: another address comes unverified', async () => {
    const trip = await startTrip();
    const samlResponse = await idp.respond(spMetadata, trip.requestUrl, { nameId: 'emp-outsider', email: 'someone@mail.example' });
    await postResponse(trip.browser, samlResponse, trip.relayState);
    const user = await database.db('users').where({ email: 'someone@mail.example' }).first();
    assert.equal(user.email_verified, false, 'the directory is not the authority for mail.example');
    assert.equal((await database.db('federated_identities').where({ subject: 'emp-outsider' }).first()).proven, false);
  });

  it('refuses an unsigned assertion', async () => {
    await refused({ nameId: 'emp-unsigned', email: 'u@acme.test' }, { signer: 'nobody' }, /Invalid signature/);
  });

  it('refuses a response signed by a key the connection does not list', async () => {
    await refused({ nameId: 'emp-stranger', email: 's@acme.test' }, { signer: 'stranger' }, /Invalid signature/);
  });

  it('refuses a response for another audience, an expired one, and one in response to another request', async () => {
    await refused(
      { nameId: 'emp-audience', email: 'a@acme.test' },
      { audience: 'https://another-sp.example/metadata' },
      /audience mismatch/,
    );
    await refused({ nameId: 'emp-expired', email: 'e@acme.test' }, { validForSeconds: -600 }, /No valid subject confirmation/);
    await refused(
      { nameId: 'emp-elsewhere', email: 'r@acme.test' },
      { inResponseTo: '_a-request-we-never-sent' },
      /InResponseTo is not valid/,
    );
  });

  it('refuses an assertion from another issuer signed with the IdP’s key, and a Response whose envelope names another issuer', async () => {
    // Tenants of one IdP service may share its signing key: another tenant's assertion is not this IdP's.
    await refused(
      { nameId: 'emp-tenant-b', email: 'b@acme.test' },
      { issuer: 'https://tenant-b.idp.example.test/metadata' },
      /The SAML (response|assertion) is from https:\/\/tenant-b.idp.example.test\/metadata, not this connection's IdP/,
    );
    await refused(
      { nameId: 'emp-envelope', email: 'v@acme.test' },
      (xml) =>
        xml.replace(/(<samlp:Response[^>]*>)<saml:Issuer>[^<]*<\/saml:Issuer>/, '$1<saml:Issuer>https://evil.example/idp</saml:Issuer>'),
      /The SAML response is from https:\/\/evil.example\/idp, not this connection's IdP/,
    );
  });

  it('refuses a response for another destination, an assertion confirmed for another recipient, and one that answers no request of ours', async () => {
    await refused(
      { nameId: 'emp-destination', email: 'dst@acme.test' },
      { destination: 'https://elsewhere.example.test/acs' },
      /The SAML response is for https:\/\/elsewhere.example.test\/acs, not this connection's ACS/,
    );
    await refused(
      { nameId: 'emp-recipient', email: 'rcp@acme.test' },
      { recipient: 'https://elsewhere.example.test/acs' },
      /not confirmed for this connection's ACS in answer to this sign-in's request/,
    );
    await refused(
      { nameId: 'emp-no-request', email: 'nr@acme.test' },
      { subjectInResponseTo: null },
      /not confirmed for this connection's ACS in answer to this sign-in's request/,
    );
  });

  it('refuses a signed assertion replayed into another sign-in with its envelope rewritten to answer that one', async () => {
    const first = await startTrip();
    // Some IdPs name no request in the assertion's bearer confirmation: only the envelope does.
    const captured = decodeResponse(
      await idp.respond(spMetadata, first.requestUrl, { nameId: 'emp-replay', email: 'rp@acme.test' }, { subjectInResponseTo: null }),
    );
    const second = await startTrip();
    const secondRequestId = /ID="([^"]+)"/.exec(
      inflateRawSync(Buffer.from(new URL(second.requestUrl).searchParams.get('SAMLRequest') as string, 'base64')).toString('utf8'),
    )?.[1] as string;
    // The envelope is not signed: its InResponseTo can be made to answer the second request.
    const rewritten = captured.replace(/(<samlp:Response[^>]*InResponseTo=")[^"]+"/, `$1${secondRequestId}"`);
    assert.notEqual(rewritten, captured);
    const users = await userCount();
    const page = await postResponse(second.browser, encodeResponse(rewritten), second.relayState);
    assert.equal(page.status, 400);
    assert.equal(await userCount(), users);
    assert.match(String(await lastRefusal()), /not confirmed for this connection's ACS in answer to this sign-in's request/);
  });

  it('refuses a tampered NameID, a second unsigned assertion beside the signed one (signature wrapping), and XML with a DOCTYPE', async () => {
    await refused({ nameId: 'emp-honest', email: 'h@acme.test' }, (xml) => xml.replace('>emp-honest<', '>emp-ceo<'), /Invalid signature/);
    await refused(
      { nameId: 'emp-wrapped', email: 'w@acme.test' },
      (xml) => {
        // An unsigned copy of the assertion with the attacker's NameID, placed before the signed one.
        const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0] as string;
        const forged = assertion
          .replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '')
          .replace('>emp-wrapped<', '>emp-ceo<')
          .replace(/ID="[^"]+"/, 'ID="_forged"');
        return xml.replace('<saml:Assertion', `${forged}<saml:Assertion`);
      },
      /multiple assertions/,
    );
    await refused(
      { nameId: 'emp-doctype', email: 'd@acme.test' },
      (xml) => `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "emp-ceo">]>${xml.replace(/^<\?xml[^>]*\?>/, '')}`,
      /contains a DOCTYPE, which is never accepted/,
    );
  });

  it('refuses a response posted without our RelayState (IdP-initiated sign-in is not offered)', async () => {
    const trip = await startTrip();
    const samlResponse = await idp.respond(spMetadata, trip.requestUrl, { nameId: 'emp-unasked', email: 'x@acme.test' });
    const response = await fetch(acs(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ SAMLResponse: samlResponse }),
      redirect: 'manual',
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /Start signing in from the application/);

    // To the ACS of no SAML connection, with the trip's RelayState: not found, and the trip is
    // neither used up nor anything kept.
    const records = async () => Number((await database.db('verification_records').count({ n: '*' }).first())?.n);
    const before = await records();
    const nowhere = await fetch(`${server.issuer}/federation/saml/no-such-connection/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: trip.relayState }),
      redirect: 'manual',
    });
    assert.equal(nowhere.status, 404);
    assert.equal(await records(), before);
    const page = await postResponse(trip.browser, samlResponse, trip.relayState);
    await toRelyingParty(trip.browser, page, trip.request);
  });

  it('reads the IdP’s metadata XML into a connection, and says what is missing from a bad one', async () => {
    const created = await createConnection(operator(database), box, {
      id: 'acme-from-metadata',
      type: 'saml',
      display_name: 'Acme (metadata)',
      settings: { idp_metadata_xml: idp.metadata },
    });
    const settings = created.settings as { idp_entity_id: string; sso_url: string; idp_certificates: string[]; idp_metadata_xml?: string };
    assert.equal(settings.idp_entity_id, idp.entityId);
    assert.equal(settings.sso_url, idp.ssoUrl);
    assert.deepEqual(settings.idp_certificates.map(bareCertificate), [bareCertificate(idp.cert)]);
    assert.equal(settings.idp_metadata_xml, undefined, 'the XML itself is not kept');

    for (const [xml, message] of [
      [
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>',
        'idp_metadata_xml describes no identity provider (IDPSSODescriptor)',
      ],
      ['<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', 'idp_metadata_xml contains a DOCTYPE, which is never accepted'],
      ['not xml at all <', 'idp_metadata_xml is not well-formed XML'],
    ]) {
      await assert.rejects(
        createConnection(operator(database), box, {
          id: 'acme-bad',
          type: 'saml',
          display_name: 'Bad',
          settings: { idp_metadata_xml: xml },
        }),
        (error: { fields?: { path: string; message: string }[] }) => error.fields?.[0]?.message === message,
      );
    }
    assert.equal(await database.db('connections').where({ id: 'acme-bad' }).first(), undefined);
  });

  it('accepts responses signed by any of the IdP’s listed certificates (a key rotation)', async () => {
    await database
      .db('connections')
      .where({ id: 'acme-saml' })
      .update({
        settings: JSON.stringify({
          ...(await database.db('connections').where({ id: 'acme-saml' }).first()).settings,
          idp_certificates: [idp.cert, idp.strangerCert],
        }),
        updated_at: new Date(),
      });
    const trip = await startTrip();
    const samlResponse = await idp.respond(
      spMetadata,
      trip.requestUrl,
      { nameId: 'emp-rotated', email: 'rot@acme.test' },
      { signer: 'stranger' },
    );
    const tokens = await toRelyingParty(trip.browser, await postResponse(trip.browser, samlResponse, trip.relayState), trip.request);
    assert.ok(tokens.claims()?.sub);
  });

  describe('with encrypted assertions wanted', () => {
    it('advertises our certificate for encryption in the metadata, and only where encryption is wanted', async () => {
      assert.match(encryptedSpMetadata, /<KeyDescriptor use="encryption">/);
      // What an IdP reads from it: our certificate, to encrypt to.
      const read = samlify.ServiceProvider({ metadata: encryptedSpMetadata }).entityMeta.getX509Certificate('encryption');
      assert.equal(bareCertificate(String(read)), bareCertificate(encryptionPair.cert));
      assert.doesNotMatch(spMetadata, /use="encryption"/);

      // A connection with a key of its own that wants no encryption: its certificate is for signing requests only.
      await createConnection(operator(database), box, {
        id: 'acme-signing',
        type: 'saml',
        display_name: 'Acme (signed requests)',
        settings: { idp_entity_id: idp.entityId, sso_url: idp.ssoUrl, idp_certificates: [idp.cert], sp_certificate: encryptionPair.cert },
        sp_private_key: encryptionPair.key,
      });
      const signing = await fetch(`${server.issuer}/federation/saml/acme-signing/metadata`);
      assert.equal(signing.status, 200);
      const signingMetadata = await signing.text();
      assert.match(signingMetadata, /<KeyDescriptor use="signing">/);
      assert.doesNotMatch(signingMetadata, /use="encryption"/);
    });

    it('signs a person in from an assertion signed by the IdP and encrypted to our certificate', async () => {
      const trip = await startTrip(ENCRYPTED);
      const samlResponse = await idp.respond(
        encryptedSpMetadata,
        trip.requestUrl,
        { nameId: 'emp-2001', email: 'noor@acme.test', givenName: 'Noor' },
        { encryptTo: 'sp' },
      );
      const posted = decodeResponse(samlResponse);
      assert.match(posted, /<saml:EncryptedAssertion/);
      assert.doesNotMatch(posted, /emp-2001|noor@acme\.test/, 'who it is travels encrypted');
      const page = await postResponse(trip.browser, samlResponse, trip.relayState, ENCRYPTED);
      const tokens = await toRelyingParty(trip.browser, page, trip.request);
      const userinfo = await client.fetchUserInfo(rp, tokens.access_token, tokens.claims()?.sub as string);
      assert.equal(userinfo.email, 'noor@acme.test');
      assert.equal(userinfo.given_name, 'Noor');
      const identity = await database.db('federated_identities').where({ connection_id: ENCRYPTED.id, subject: 'emp-2001' }).first();
      assert.equal(identity.user_id, tokens.claims()?.sub);
    });

    it('refuses a plain assertion, though signed, also when an EncryptedAssertion sits where node-saml does not read one', async () => {
      const notEncrypted = /The SAML assertion is not encrypted, and this connection accepts only encrypted assertions/;
      await refused({ nameId: 'emp-plain', email: 'p@acme.test' }, {}, notEncrypted, ENCRYPTED);
      await refused(
        { nameId: 'emp-dressed', email: 'd@acme.test' },
        // An EncryptedAssertion where node-saml does not look for one (in the Extensions), the signed plain assertion where it does.
        (xml) =>
          xml.replace(
            '<samlp:Status>',
            '<samlp:Extensions><saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion></samlp:Extensions><samlp:Status>',
          ),
        notEncrypted,
        ENCRYPTED,
      );
    });

    it('refuses an assertion encrypted to a key that is not ours', async () => {
      await refused(
        { nameId: 'emp-misdirected', email: 'm@acme.test' },
        { encryptTo: 'stranger' },
        // OpenSSL says either, depending on whether the key wrapped for the stranger happens to be
        // a number larger than our modulus (about one run in several).
        /was refused: .*(oaep decoding error|data too large for modulus)/,
        ENCRYPTED,
      );
    });

    it('refuses an encrypted assertion that is not signed', async () => {
      await refused(
        { nameId: 'emp-sealed-unsigned', email: 'su@acme.test' },
        { signer: 'nobody', encryptTo: 'sp' },
        /Invalid signature from encrypted assertion/,
        ENCRYPTED,
      );
    });
  });
});
