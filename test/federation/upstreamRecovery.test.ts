// Recovering from what goes wrong in the middle of a federated sign-in, end to end with real
// peers: a second oidc-provider as the upstream (test/helpers/upstreamProvider.ts) and
// openid-client as the relying party.
//   - An identity waiting for its owner to link it whose connection the operator deletes or
//     disables meanwhile is dropped: the sign-in goes on to the application, nothing is linked,
//     and no screen says "Something went wrong" — nor when the connection goes between the last
//     look and the link itself.
//   - The Security page links only through providers whose answer it can take: a hand-made post
//     for one that answers by form_post never leaves for it.
//   - After a trip to the provider a relying party picked (connection=, idp_hint=) fails, "Sign in
//     another way" shows the sign-in screen, not the same provider again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { leaveFor as leaveForConnection, toRelyingParty as reachRelyingParty } from '../helpers/federatedSignIn.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { Browser, decode, findForm, type Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, authorizationRequest, discover, type AuthorizationRequest } from '../helpers/relyingParty.ts';
import { signInUpstream, startUpstreamProvider, type UpstreamProvider } from '../helpers/upstreamProvider.ts';
import { createUser, type User } from '../../src/accounts/index.ts';
import { createConnection, deleteConnection, updateConnection } from '../../src/federation/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const box = createSecretBox(TEST_SECRET_KEY);
const PASSWORD = 'a long and unguessable passphrase';

describe('federation: recovering from a federated sign-in that went wrong', () => {
  let database: TestDatabase;
  let server: TestServer;
  let upstream: UpstreamProvider;
  let rp: client.Configuration;

  /** An OpenID Connect connection to the upstream, named after its id. */
  const connect = (id: string, settings: Record<string, unknown> = {}) =>
    createConnection(operator(database), box, {
      id,
      type: 'oidc',
      display_name: `${id} ID`,
      settings: { issuer: upstream.issuer, client_id: upstream.clientId, ...settings },
      client_secret: upstream.clientSecret,
    });

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    upstream = await startUpstreamProvider(`${server.issuer}/federation/oidc/callback`);
    await connect('upstream-idp');
    await connect('posting-idp', { response_mode: 'form_post' });
    const registered = await createClient(database, server.config, { name: 'Federated App' });
    rp = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await upstream?.close();
    await server?.close();
    await database?.dispose();
  });

  /** Leaves for the connection's provider: its sign-in page. */
  async function leaveFor(connection: string) {
    const left = await leaveForConnection(rp, connection);
    assert.ok(left.page.url.startsWith(upstream.issuer), `at the provider: ${left.page.url}`);
    return left;
  }

  const toRelyingParty = (browser: Browser, page: Page, request: AuthorizationRequest) => reachRelyingParty(rp, browser, page, request);

  /**
   * The owner of an account signs in upstream through a new connection `id` with an identity whose
   * verified email is the account's: the sign-in screen asks for the account's password to link it.
   */
  async function identityWaitingForOwner(id: string) {
    await connect(id);
    const email = `${id}@example.com`;
    const owner = await createUser(operator(database), { email, password: PASSWORD, email_verified: true }, 4);
    const subject = `${id}-upstream`;
    upstream.people[subject] = { email, email_verified: true };
    const { browser, request, page } = await leaveFor(id);
    const asked = await signInUpstream(browser, page, subject);
    assert.match(asked.html, new RegExp(`id="login-notice">An account with ${email} already exists. Sign in to it to link ${id} ID`));
    const signIn = () => browser.submit(asked, /\/password$/, { email, password: PASSWORD }, RP_REDIRECT);
    return { browser, request, owner, subject, signIn };
  }

  const linkOf = (subject: string) => database.db('federated_identities').where({ subject }).first();
  /** The identities still waiting for this account's owner to say whether to link them. */
  const waitingFor = (owner: User) =>
    database.db('verification_records').where({ user_id: owner.id }).whereLike('flow', 'identity-link:%').select('id');

  const OPERATOR_CHANGES = {
    deleted: (id: string) => deleteConnection(operator(database), id),
    disabled: (id: string) => updateConnection(operator(database), box, id, { enabled: false }),
  };

  for (const [what, change] of Object.entries(OPERATOR_CHANGES)) {
    it(`drops the identity waiting to be linked when its connection is ${what} before the owner signs in: on to the application, nothing linked`, async () => {
      const waiting = await identityWaitingForOwner(`${what}-early`);
      await change(`${what}-early`);
      const signedIn = await waiting.signIn();
      assert.doesNotMatch(signedIn.html, /identity_link/, 'no question about a connection that is no more');
      const tokens = await toRelyingParty(waiting.browser, signedIn, waiting.request);
      assert.equal(tokens.claims()?.sub, waiting.owner.id, 'signed in to the account');
      assert.equal(await linkOf(waiting.subject), undefined, 'nothing linked');
      assert.deepEqual(await waitingFor(waiting.owner), [], 'the waiting identity is dropped');
    });

    it(`links nothing when the connection is ${what} while the owner is asked to link it, and goes on to the application`, async () => {
      const waiting = await identityWaitingForOwner(`${what}-late`);
      const asked = await waiting.signIn();
      assert.match(asked.html, new RegExp(`<h1 id="page-title">Link ${what}-late ID\\?</h1>`));
      await change(`${what}-late`);
      const answered = await waiting.browser.submit(asked, /\/identity_link$/, { decision: 'link' }, RP_REDIRECT);
      const tokens = await toRelyingParty(waiting.browser, answered, waiting.request);
      assert.equal(tokens.claims()?.sub, waiting.owner.id);
      assert.equal(await linkOf(waiting.subject), undefined, 'nothing linked');
    });
  }

  it('goes on to the application when the question is shown again after its connection was deleted', async () => {
    const waiting = await identityWaitingForOwner('reloaded');
    const asked = await waiting.signIn();
    assert.match(asked.html, /Link reloaded ID\?/);
    await deleteConnection(operator(database), 'reloaded');
    const reloaded = await waiting.browser.navigate(asked.url, {}, RP_REDIRECT);
    const tokens = await toRelyingParty(waiting.browser, reloaded, waiting.request);
    assert.equal(tokens.claims()?.sub, waiting.owner.id);
    assert.equal(await linkOf(waiting.subject), undefined);
  });

  /**
   * Runs `during` while the connection is deleted as the link through it is written, inside the
   * same statement, after every look at it: a trigger stands in for an operator deleting it at that
   * instant. (The deletion rolls back with the refused link, so the connection is still there after.)
   */
  async function whileConnectionVanishesAtLink<T>(connection: string, during: () => Promise<T>): Promise<T> {
    const { db } = database;
    await db.raw(`create function vanish_connection() returns trigger language plpgsql as $$
      begin delete from connections where id = new.connection_id; return new; end $$`);
    await db.raw(`create trigger vanish_connection before insert on federated_identities for each row
      when (new.connection_id = '${connection}') execute function vanish_connection()`);
    try {
      return await during();
    } finally {
      await db.raw('drop trigger vanish_connection on federated_identities');
      await db.raw('drop function vanish_connection()');
    }
  }

  it('creates nobody, and says the provider is no longer offered, when the connection goes as a first sign-in creates the user', async () => {
    await connect('vanishing-jit');
    upstream.people['jit-upstream'] = { email: 'jit@example.com', email_verified: true };
    const { browser, page } = await leaveFor('vanishing-jit');
    const refused = await whileConnectionVanishesAtLink('vanishing-jit', () => signInUpstream(browser, page, 'jit-upstream'));
    assert.equal(refused.status, 403);
    assert.match(refused.html, /vanishing-jit ID is no longer offered here\. Sign in another way\./);
    assert.equal(await database.db('users').where({ email: 'jit@example.com' }).first(), undefined, 'the user rolled back with the link');
  });

  it('links nothing, and goes on to the application, when the connection goes between the last look and the link', async () => {
    const waiting = await identityWaitingForOwner('vanishing');
    const asked = await waiting.signIn();
    const answered = await whileConnectionVanishesAtLink('vanishing', () =>
      waiting.browser.submit(asked, /\/identity_link$/, { decision: 'link' }, RP_REDIRECT),
    );
    assert.doesNotMatch(answered.html, /Something went wrong/);
    const tokens = await toRelyingParty(waiting.browser, answered, waiting.request);
    assert.equal(tokens.claims()?.sub, waiting.owner.id);
    assert.equal(await linkOf(waiting.subject), undefined, 'nothing linked');
  });

  /** Signs in to the account area's Security page. */
  async function securityPage(email: string) {
    await createUser(operator(database), { email, password: PASSWORD, email_verified: true }, 4);
    const browser = new Browser();
    const signIn = await browser.navigate(`${server.issuer}/account/security`);
    const page = await browser.submit(signIn, /\/password$/, { email, password: PASSWORD });
    assert.match(page.html, /\/identities\/upstream-idp\/link"/, 'the provider answering by redirect is offered');
    return { browser, page };
  }

  /** Posts the Security page's link form for `connection` (which the page may not offer). */
  function postLink(browser: Browser, page: Page, connection: string) {
    const form = findForm(page.html, /\/identities\/upstream-idp\/link$/);
    return browser.navigate(
      new URL(form.action.replace('/upstream-idp/', `/${connection}/`), page.url).href,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form.hidden) },
      upstream.origin,
    );
  }

  const tripsFromAccountArea = async () =>
    Number((await database.db('verification_records').where({ method: 'upstream_account_link' }).count({ n: '*' }).first())?.n);

  it('does not leave the Security page for a provider that answers by form_post, even when asked by hand', async () => {
    const { browser, page } = await securityPage('poster@example.com');
    assert.doesNotMatch(page.html, /\/identities\/posting-idp\/link"/, 'not offered');
    const trips = await tripsFromAccountArea();
    const back = await postLink(browser, page, 'posting-idp');
    assert.equal(back.url, `${server.issuer}/account/security?problem=identity-unavailable`, 'never at the provider');
    assert.match(back.html, /That provider is not available right now\./);
    assert.equal(await tripsFromAccountArea(), trips, 'no trip started');

    const leaving = await postLink(browser, page, 'upstream-idp');
    assert.ok(leaving.url.startsWith(upstream.origin), `a provider answering by redirect is left for: ${leaving.url}`);
  });

  it('says the provider is not available on the Security page when its connection goes as the link is made', async () => {
    await connect('vanishing-here');
    const { browser, page } = await securityPage('linker@example.com');
    upstream.people['linker-upstream'] = { email: 'linker@upstream.test', email_verified: true };
    const atProvider = await browser.submit(page, /\/identities\/vanishing-here\/link$/, {});
    const back = await whileConnectionVanishesAtLink('vanishing-here', () => signInUpstream(browser, atProvider, 'linker-upstream'));
    assert.equal(back.url, `${server.issuer}/account/security?problem=identity-unavailable`);
    assert.match(back.html, /That provider is not available right now\./);
    assert.equal(await linkOf('linker-upstream'), undefined);
  });

  for (const param of ['connection', 'idp_hint']) {
    it(`shows the sign-in screen for "Sign in another way" after a cancelled trip to the provider the relying party picked (${param}=)`, async () => {
      const user = await createUser(
        operator(database),
        { email: `another-way-${param}@example.com`, password: PASSWORD, email_verified: true },
        4,
      );
      const browser = new Browser();
      const request = await authorizationRequest(rp, { [param]: 'upstream-idp' });
      const atProvider = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
      assert.ok(atProvider.url.startsWith(upstream.issuer), `straight to the provider: ${atProvider.url}`);
      const uid = /\/interaction\/([^/"?]+)/.exec(atProvider.url)?.[1] as string;
      const cancelled = await browser.navigate(`${upstream.issuer}/interaction/${uid}/abort`, {}, RP_REDIRECT);
      assert.match(cancelled.html, /Signing in with upstream-idp ID was cancelled or refused/);

      const anotherWay = decode(/<a href="([^"]+)">Sign in another way<\/a>/.exec(cancelled.html)?.[1] as string);
      const screen = await browser.navigate(new URL(anotherWay, cancelled.url).href, {}, RP_REDIRECT);
      assert.ok(screen.url.startsWith(server.issuer), `stays here: ${screen.url}`);
      assert.match(screen.html, /<h1 id="page-title">Sign in<\/h1>/);
      assert.match(screen.html, /\/upstream\/upstream-idp\/start"/, 'with the providers’ buttons');
      const signedIn = await browser.submit(screen, /\/password$/, { email: user.email, password: PASSWORD }, RP_REDIRECT);
      const tokens = await toRelyingParty(browser, signedIn, request);
      assert.equal(tokens.claims()?.sub, user.id, 'signed in another way');
    });
  }

  it('leads back to the sign-in screen, not the picked provider, from the screens it links to', async () => {
    const browser = new Browser();
    const request = await authorizationRequest(rp, { connection: 'upstream-idp' });
    const atProvider = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
    const uid = /\/interaction\/([^/"?]+)/.exec(atProvider.url)?.[1] as string;
    const cancelled = await browser.navigate(`${upstream.issuer}/interaction/${uid}/abort`, {}, RP_REDIRECT);
    const anotherWay = decode(/<a href="([^"]+)">Sign in another way<\/a>/.exec(cancelled.html)?.[1] as string);
    const screen = await browser.navigate(new URL(anotherWay, cancelled.url).href, {}, RP_REDIRECT);
    for (const [link, back] of [
      ['Forgot password\\?', 'Back to sign in'],
      ['Create account', 'I already have an account'],
    ]) {
      const away = await browser.navigate(
        new URL(decode(new RegExp(`<a href="([^"]+)">${link}</a>`).exec(screen.html)?.[1] as string), screen.url).href,
      );
      const href = decode(new RegExp(`<a href="([^"]+)">${back}</a>`).exec(away.html)?.[1] as string);
      const again = await browser.navigate(new URL(href, away.url).href, {}, RP_REDIRECT);
      assert.match(again.html, /<h1 id="page-title">Sign in<\/h1>/, `${back}: the sign-in screen (${again.url})`);
    }
  });

  it('reads “another way” from the interaction’s own address only, never from the authorization request', async () => {
    const request = await authorizationRequest(rp, { connection: 'upstream-idp', another_way: '1' });
    const page = await new Browser().navigate(request.url.toString(), {}, RP_REDIRECT);
    assert.ok(page.url.startsWith(upstream.issuer), `straight to the provider all the same: ${page.url}`);
  });
});
