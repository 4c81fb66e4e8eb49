// SAML single logout with real peers: samlify as the IdP (its SingleLogoutService by the
// HTTP-Redirect binding, checking our signatures and signing its own messages), node-saml in
// Gatehouse, openid-client as the relying party that signs the person out (RP-initiated logout).
// Signing out of Gatehouse takes the browser through the IdP and back to the relying party; the
// IdP signing the person out ends this browser's Gatehouse session. Whatever goes wrong on the way
// back, the person stays signed out of Gatehouse and lands on the signed-out page.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import samlify from 'samlify';
import { toRelyingParty } from '../helpers/federatedSignIn.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { Browser, findForm, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_LOGOUT_REDIRECT, RP_REDIRECT, authorizationRequest, discover } from '../helpers/relyingParty.ts';
import { createSamlIdp, keyPair, type LogoutBend, type SamlIdp } from '../helpers/samlIdp.ts';
import { createConnection, updateConnection } from '../../src/federation/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const box = createSecretBox(TEST_SECRET_KEY);
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const SAML_SESSION_COOKIE = 'gatehouse.saml_session';

/** One connection with single logout (its SLO URL read from the IdP's metadata), one without. */
const SLO = 'acme-slo';
const PLAIN = 'acme-plain';

describe('federation: SAML single logout', () => {
  let database: TestDatabase;
  let server: TestServer;
  let idp: SamlIdp;
  let rp: client.Configuration;
  let sloMetadata: string;
  let spPair: { key: string; cert: string };
  let people = 0;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    idp = createSamlIdp();
    spPair = keyPair();
    await createConnection(operator(database), box, {
      id: SLO,
      type: 'saml',
      display_name: 'Acme (SLO)',
      domains: ['acme.test'],
      settings: { idp_metadata_xml: idp.metadata, emails_verified: true, sp_certificate: spPair.cert },
      sp_private_key: spPair.key,
    });
    await createConnection(operator(database), box, {
      id: PLAIN,
      type: 'saml',
      display_name: 'Acme (plain)',
      domains: ['acme.test'],
      settings: { idp_entity_id: idp.entityId, sso_url: idp.ssoUrl, idp_certificates: [idp.cert], emails_verified: true },
    });
    const registered = await createClient(database, server.config, { name: 'SLO App' });
    rp = await discover(server.issuer, registered.client_id, registered.client_secret);
    sloMetadata = await (await fetch(`${server.issuer}/federation/saml/${SLO}/metadata`)).text();
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const sloService = (connection = SLO) => `${server.issuer}/federation/saml/${connection}/slo`;

  /** Someone new at Acme signs in through `connection`: their browser, tokens, NameID and IdP session. */
  async function signIn(connection = SLO) {
    people += 1;
    const person = { nameId: `emp-slo-${people}`, email: `slo${people}@acme.test`, sessionIndex: `_idp-session-${people}` };
    const browser = new Browser();
    const request = await authorizationRequest(rp);
    const login = await browser.navigate(request.url.toString());
    const toIdp = await browser.submit(login, new RegExp(`/upstream/${connection}/start$`), {}, idp.ssoUrl);
    const metadata = await (await fetch(`${server.issuer}/federation/saml/${connection}/metadata`)).text();
    const samlResponse = await idp.respond(metadata, toIdp.url, person);
    // The IdP's browser posts to our ACS (cross-site: none of our cookies go with it).
    const posted = await fetch(`${server.issuer}/federation/saml/${connection}/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: new URL(toIdp.url).searchParams.get('RelayState') as string }),
      redirect: 'manual',
    });
    assert.equal(posted.status, 303);
    const page = await browser.navigate(new URL(posted.headers.get('location') as string, server.issuer).href, {}, RP_REDIRECT);
    const tokens = await toRelyingParty(rp, browser, page, request);
    assert.ok(browser.jar.get(SAML_SESSION_COOKIE), 'the SAML session is remembered for single logout');
    return { browser, tokens, person };
  }

  /** The relying party signs the person out (RP-initiated logout), and they confirm: Gatehouse's answer to the confirmation. */
  async function signOut(browser: Browser, tokens: client.TokenEndpointResponse): Promise<Response> {
    const logoutUrl = client.buildEndSessionUrl(rp, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: RP_LOGOUT_REDIRECT,
      state: 'bye',
    });
    const page = await browser.navigate(logoutUrl.toString());
    assert.match(page.html, /<h1 id="page-title">Sign out<\/h1>/);
    const form = findForm(page.html, /\/session\/end\/confirm$/);
    return browser.request(new URL(form.action, page.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.hidden, logout: 'yes' }),
    });
  }

  /** Signs in through the SLO connection and out again: the redirect to the IdP, with our LogoutRequest. */
  async function signInAndOut() {
    const signedIn = await signIn();
    const confirmed = await signOut(signedIn.browser, signedIn.tokens);
    assert.equal(confirmed.status, 303);
    const toIdp = confirmed.headers.get('location') as string;
    assert.ok(toIdp.startsWith(`${idp.sloUrl}?`), `sent to the IdP's single logout service: ${toIdp}`);
    return { ...signedIn, toIdp };
  }

  /** Whether this browser still has a Gatehouse session: a silent authorization (prompt=none) says. */
  async function stillSignedIn(browser: Browser): Promise<boolean> {
    const silent = await authorizationRequest(rp, { prompt: 'none' });
    const page = await browser.navigate(silent.url.toString(), {}, RP_REDIRECT);
    const callback = new URL(page.url);
    if (callback.searchParams.get('code')) return true;
    assert.equal(callback.searchParams.get('error'), 'login_required', page.url);
    return false;
  }

  const lastAudit = async (type: string) =>
    (await database.db('audit_events').where('type', type).orderBy('id', 'desc').first()) as
      | { details: Record<string, unknown>; user_id: string | null }
      | undefined;
  const auditCount = async (type: string) => Number((await database.db('audit_events').where('type', type).count({ n: '*' }).first())?.n);

  /** Follows the browser to where an SLO answer sends it. */
  const follow = (browser: Browser, url: string): Promise<Page> => browser.navigate(url, {}, RP_LOGOUT_REDIRECT);

  it('lists our single logout service (HTTP-Redirect) in the metadata of a connection with SLO only', async () => {
    assert.match(sloMetadata, new RegExp(`<SingleLogoutService Binding="${REDIRECT}" Location="${sloService()}"/>`));
    // What an IdP reads from it.
    const read = samlify.ServiceProvider({ metadata: sloMetadata }).entityMeta as { getSingleLogoutService(binding: string): unknown };
    assert.equal(read.getSingleLogoutService('redirect'), sloService());
    const plain = await (await fetch(`${server.issuer}/federation/saml/${PLAIN}/metadata`)).text();
    assert.doesNotMatch(plain, /SingleLogoutService/);
    const stored = await database.db('connections').where({ id: SLO }).first();
    assert.equal(stored.settings.slo_url, idp.sloUrl, 'read from the IdP metadata');
  });

  it('refuses slo_url without our signing key, and takes no SLO URL from metadata for a connection that cannot sign', async () => {
    const base = {
      type: 'saml',
      display_name: 'No key',
      settings: { idp_entity_id: idp.entityId, sso_url: idp.ssoUrl, idp_certificates: [idp.cert] },
    };
    await assert.rejects(
      createConnection(operator(database), box, { ...base, id: 'slo-no-cert', settings: { ...base.settings, slo_url: idp.sloUrl } }),
      (error: { fields?: { path: string; message: string }[] }) =>
        error.fields?.some(
          (f) =>
            /slo_url/.test(f.path) && f.message === 'slo_url needs sp_certificate and sp_private_key: single logout messages are signed',
        ) === true,
    );
    await assert.rejects(
      createConnection(operator(database), box, {
        ...base,
        id: 'slo-no-key',
        settings: { ...base.settings, slo_url: idp.sloUrl, sp_certificate: spPair.cert },
      }),
      (error: { fields?: { path: string; message: string }[] }) =>
        error.fields?.[0]?.message === 'sp_private_key is required for single logout (slo_url): its messages are signed',
    );
    assert.equal(await database.db('connections').whereIn('id', ['slo-no-cert', 'slo-no-key']).first(), undefined);
    const fromMetadata = await createConnection(operator(database), box, {
      id: 'slo-metadata-no-key',
      type: 'saml',
      display_name: 'Metadata, no key',
      settings: { idp_metadata_xml: idp.metadata },
    });
    assert.equal((fromMetadata.settings as { slo_url?: string }).slo_url, undefined);

    // Given by hand with our key and certificate; turned off again with null, after which the key may go.
    await createConnection(operator(database), box, {
      ...base,
      id: 'slo-toggle',
      settings: { ...base.settings, slo_url: idp.sloUrl, sp_certificate: spPair.cert },
      sp_private_key: spPair.key,
    });
    assert.match(await (await fetch(`${server.issuer}/federation/saml/slo-toggle/metadata`)).text(), /SingleLogoutService/);
    await assert.rejects(
      updateConnection(operator(database), box, 'slo-toggle', { sp_private_key: null }),
      (error: { fields?: { message: string }[] }) => /required for single logout/.test(String(error.fields?.[0]?.message)),
    );
    const off = await updateConnection(operator(database), box, 'slo-toggle', { settings: { slo_url: null } });
    assert.equal((off.settings as { slo_url?: string }).slo_url, undefined);
    assert.doesNotMatch(await (await fetch(`${server.issuer}/federation/saml/slo-toggle/metadata`)).text(), /SingleLogoutService/);
    await updateConnection(operator(database), box, 'slo-toggle', { sp_private_key: null });
  });

  it('signs out of the IdP too: a signed LogoutRequest naming the person and IdP session, then back to the relying party', async () => {
    const { browser, tokens, person, toIdp } = await signInAndOut();
    assert.equal(browser.jar.get(SAML_SESSION_COOKIE), undefined, 'the SAML session is forgotten');
    // The IdP checks our signature (against our metadata's certificate) and reads whom to sign out.
    const request = await idp.readLogoutRequest(sloMetadata, toIdp);
    assert.equal(request.nameId, person.nameId);
    assert.equal(request.sessionIndex, person.sessionIndex);
    assert.equal(request.issuer, `${server.issuer}/federation/saml/${SLO}/metadata`);
    assert.equal(request.destination, idp.sloUrl);
    assert.ok(request.relayState && request.relayState.length <= 80, 'a RelayState within the binding’s 80 bytes');

    const back = await idp.answerLogout(sloMetadata, toIdp);
    assert.ok(back.startsWith(`${sloService()}?`));
    const landed = await follow(browser, back);
    assert.equal(landed.url, `${RP_LOGOUT_REDIRECT}?state=bye`);
    assert.equal(await stillSignedIn(browser), false);
    assert.equal((await client.tokenIntrospection(rp, tokens.access_token)).active, false);

    const event = await lastAudit('logout.saml');
    assert.deepEqual(event?.details, { connection: SLO, initiated_by: 'gatehouse' });
    assert.ok(event?.user_id, 'the account signed out');

    // The same answer again: its request was answered already; signed out all the same.
    const replayed = await follow(new Browser(), back);
    assert.equal(replayed.status, 200);
    assert.match(replayed.html, /<h1 id="page-title">Signed out<\/h1>/);
    assert.equal((await lastAudit('logout.saml_refused'))?.details.problem, 'stale');
  });

  for (const [name, bend, reason] of [
    ['an unsigned LogoutResponse', { signer: 'nobody' }, /is not signed/],
    ['a LogoutResponse signed by a key the connection does not list', { signer: 'stranger' }, /not signed by the IdP/],
    ['a LogoutResponse to another request', { inResponseTo: '_a-request-we-never-sent' }, /does not answer our logout request/],
    [
      'a LogoutResponse that says the IdP did not sign the person out',
      { status: 'urn:oasis:names:tc:SAML:2.0:status:Responder' },
      /Bad status code/,
    ],
  ] as const) {
    it(`keeps the person signed out, on the signed-out page, after ${name}`, async () => {
      const { browser, toIdp } = await signInAndOut();
      const refusals = await auditCount('logout.saml_refused');
      const landed = await follow(browser, await idp.answerLogout(sloMetadata, toIdp, bend as LogoutBend));
      assert.equal(landed.status, 200, landed.html.slice(0, 300));
      assert.ok(landed.url.startsWith(`${server.issuer}/session/end/success`), landed.url);
      assert.match(landed.html, /<h1 id="page-title">Signed out<\/h1>/);
      assert.match(landed.html, /did not confirm that it signed you out too/);
      assert.equal(await stillSignedIn(browser), false);
      assert.equal(await auditCount('logout.saml_refused'), refusals + 1);
      const event = await lastAudit('logout.saml_refused');
      assert.equal(event?.details.connection, SLO);
      assert.match(String(event?.details.reason), reason);
    });
  }

  it('signs out as before through a connection without single logout: no trip to the IdP', async () => {
    const { browser, tokens } = await signIn(PLAIN);
    const confirmed = await signOut(browser, tokens);
    assert.equal(confirmed.status, 303);
    assert.equal(confirmed.headers.get('location'), `${RP_LOGOUT_REDIRECT}?state=bye`);
    assert.equal(await stillSignedIn(browser), false);
  });

  it('stays signed in, IdP session included, when the person chooses to stay signed in', async () => {
    const { browser, tokens } = await signIn();
    const logoutUrl = client.buildEndSessionUrl(rp, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: RP_LOGOUT_REDIRECT,
    });
    const page = await browser.navigate(logoutUrl.toString());
    const form = findForm(page.html, /\/session\/end\/confirm$/);
    const stayed = await browser.request(new URL(form.action, page.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form.hidden),
    });
    assert.equal(stayed.status, 303);
    assert.ok(!(stayed.headers.get('location') as string).startsWith(idp.sloUrl));
    assert.ok(browser.jar.get(SAML_SESSION_COOKIE));
  });

  describe('when the IdP signs the person out', () => {
    it('ends this browser’s Gatehouse session and its grants, and answers with a signed LogoutResponse', async () => {
      const { browser, tokens, person } = await signIn();
      assert.equal((await client.tokenIntrospection(rp, tokens.access_token)).active, true);
      const request = await idp.logoutRequest(sloMetadata, person, { relayState: 'idp-state-1' });
      assert.ok(request.url.startsWith(`${sloService()}?`));
      const answered = await browser.request(request.url);
      assert.equal(answered.status, 303);
      const response = await idp.readLogoutResponse(sloMetadata, answered.headers.get('location') as string);
      assert.equal(response.inResponseTo, request.id);
      assert.equal(response.relayState, 'idp-state-1');
      assert.equal(browser.jar.get(SAML_SESSION_COOKIE), undefined);
      assert.equal(await stillSignedIn(browser), false);
      assert.equal((await client.tokenIntrospection(rp, tokens.access_token)).active, false, 'the grant is revoked with its tokens');
      const event = await lastAudit('logout.saml');
      assert.deepEqual(event?.details, { connection: SLO, initiated_by: 'idp', session_ended: true, status: 'success' });
      assert.doesNotMatch(JSON.stringify(event?.details), /emp-slo/, 'no NameID in the audit');
    });

    it('signs out every session of the NameID when the request names no SessionIndex', async () => {
      const { browser, person } = await signIn();
      const request = await idp.logoutRequest(sloMetadata, { nameId: person.nameId });
      const answered = await browser.request(request.url);
      await idp.readLogoutResponse(sloMetadata, answered.headers.get('location') as string);
      assert.equal(await stillSignedIn(browser), false);
    });

    for (const [name, bend, reason] of [
      ['an unsigned LogoutRequest', { signer: 'nobody' }, /is not signed/],
      ['a LogoutRequest signed by a key the connection does not list', { signer: 'stranger' }, /not signed by the IdP/],
    ] as const) {
      it(`refuses ${name}, and the session goes on`, async () => {
        const { browser, person } = await signIn();
        const request = await idp.logoutRequest(sloMetadata, person, bend);
        const answered = await browser.request(request.url);
        assert.equal(answered.status, 400);
        assert.match(await answered.text(), /The sign-out request could not be checked/);
        assert.ok(browser.jar.get(SAML_SESSION_COOKIE));
        assert.equal(await stillSignedIn(browser), true);
        const event = await lastAudit('logout.saml_refused');
        assert.equal(event?.details.initiated_by, 'idp');
        assert.match(String(event?.details.reason), reason);
      });
    }

    it('keeps a session another NameID or another IdP session signed in, and says so to the IdP', async () => {
      const { browser, person } = await signIn();
      for (const named of [
        { nameId: 'emp-someone-else', sessionIndex: person.sessionIndex },
        { nameId: person.nameId, sessionIndex: '_another-idp-session' },
      ]) {
        const request = await idp.logoutRequest(sloMetadata, named);
        const answered = await browser.request(request.url);
        assert.equal(answered.status, 303);
        await assert.rejects(
          idp.readLogoutResponse(sloMetadata, answered.headers.get('location') as string),
          /ERR_FAILED_STATUS with top tier code: urn:oasis:names:tc:SAML:2.0:status:Requester, second tier code: urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal/,
        );
        assert.equal(await stillSignedIn(browser), true);
        assert.deepEqual((await lastAudit('logout.saml'))?.details, {
          connection: SLO,
          initiated_by: 'idp',
          session_ended: false,
          status: 'unknown_principal',
        });
      }
    });

    it('answers success to a browser already signed out, and refuses a request for another SLO service', async () => {
      const request = await idp.logoutRequest(sloMetadata, { nameId: 'emp-gone', sessionIndex: '_gone' });
      const answered = await new Browser().request(request.url);
      assert.equal(answered.status, 303);
      await idp.readLogoutResponse(sloMetadata, answered.headers.get('location') as string);

      // A connection without single logout has no SLO service.
      const elsewhere = await fetch(request.url.replace(`/${SLO}/slo`, `/${PLAIN}/slo`), { redirect: 'manual' });
      assert.equal(elsewhere.status, 404);
      // Nothing to read.
      const empty = await fetch(sloService(), { redirect: 'manual' });
      assert.equal(empty.status, 400);
    });
  });
});
