// Signing in through the OpenID providers Gatehouse has presets for that do things their own way:
// Microsoft Entra ID (one multi-tenant issuer, a directory per tenant) and Apple (a client secret
// signed with the team's key, the code posted back, the name sent once beside it).
//
// This machine cannot reach login.microsoftonline.com or appleid.apple.com. Each is stood in for
// by a real oidc-provider that says it is that provider (its issuer), and the one request Gatehouse
// sends to the real host — discovery — is answered from the stand-in (routeProviderHost in
// test/helpers/upstreamProvider.ts). For Microsoft, the discovery document is rewritten as the
// real /common and /organizations documents are: its issuer is the template
// https://login.microsoftonline.com/{tenantid}/v2.0, and, as Microsoft's, it offers no iss
// parameter in the redirect back (RFC 9207). Apple's client authentication (an ES256 JWT
// from the team about the client) is checked by the stand-in as Apple checks it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type * as client from 'openid-client';
import { leaveFor as leaveForConnection, toRelyingParty as reachRelyingParty } from '../helpers/federatedSignIn.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import type { Browser, Page } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, discover, type AuthorizationRequest } from '../helpers/relyingParty.ts';
import { routeProviderHost, signInUpstream, startUpstreamProvider, type UpstreamProvider } from '../helpers/upstreamProvider.ts';
import { createUser } from '../../src/accounts/index.ts';
import { createConnection } from '../../src/federation/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const box = createSecretBox(TEST_SECRET_KEY);
const CONTOSO = '11111111-2222-4333-8444-555555555555';
const FABRIKAM = '99999999-8888-4777-8666-555555555555';
const MICROSOFT = 'https://login.microsoftonline.com';
const APPLE = 'https://appleid.apple.com';
const TEAM_ID = 'TEAM123456';
const KEY_ID = 'KEY7654321';

const p256Key = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pkcs8 = (key: ReturnType<typeof p256Key>) => key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe('federation: the Microsoft Entra ID and Apple presets', () => {
  let database: TestDatabase;
  let server: TestServer;
  let entra: UpstreamProvider;
  let apple: UpstreamProvider;
  let rp: client.Configuration;
  const routes: ReturnType<typeof routeProviderHost>[] = [];
  const appleKey = p256Key();

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    const callback = `${server.issuer}/federation/oidc/callback`;
    // Contoso's directory: its ID tokens say iss https://login.microsoftonline.com/<contoso>/v2.0.
    // Like Microsoft's, its redirects back carry no iss parameter (RFC 9207), and its discovery does not offer one.
    entra = await startUpstreamProvider(callback, {
      issuer: `${MICROSOFT}/${CONTOSO}/v2.0`,
      openidClaims: ['tid', 'xms_edov'],
      noIssParameter: true,
    });
    routes.push(
      routeProviderHost(MICROSOFT, entra, ({ authorization_response_iss_parameter_supported: _, ...document }) => ({
        ...document,
        issuer: `${MICROSOFT}/{tenantid}/v2.0`,
      })),
    );
    apple = await startUpstreamProvider(callback, {
      issuer: APPLE,
      appleKey: { publicKey: appleKey.publicKey, teamId: TEAM_ID, keyId: KEY_ID },
    });
    routes.push(routeProviderHost(APPLE, apple));

    const microsoftConnection = (id: string, settings: Record<string, unknown>) =>
      createConnection(operator(database), box, {
        id,
        type: 'oidc',
        display_name: `Microsoft (${id})`,
        settings: { preset: 'microsoft', client_id: entra.clientId, ...settings },
        client_secret: entra.clientSecret,
      });
    await microsoftConnection('entra', { tenant: 'organizations', allowed_tenants: [CONTOSO] });
    await microsoftConnection('entra-fabrikam', { tenant: 'organizations', allowed_tenants: [FABRIKAM] });
    await microsoftConnection('entra-any', { tenant: 'common' });
    const appleConnection = (id: string, key: string) =>
      createConnection(operator(database), box, {
        id,
        type: 'oidc',
        display_name: id === 'apple' ? 'Apple' : 'Apple (old key)',
        settings: { preset: 'apple', client_id: apple.clientId, team_id: TEAM_ID, key_id: KEY_ID },
        client_secret: key,
      });
    await appleConnection('apple', pkcs8(appleKey));
    await appleConnection('apple-old-key', pkcs8(p256Key()));
    const registered = await createClient(database, server.config, { name: 'Preset App' });
    rp = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    for (const route of routes) route.restore();
    await entra?.close();
    await apple?.close();
    await server?.close();
    await database?.dispose();
  });

  const leaveFor = (connection: string) => leaveForConnection(rp, connection);

  const toRelyingParty = (browser: Browser, page: Page, request: AuthorizationRequest) =>
    reachRelyingParty(rp, browser, page, request, failureReasons);

  const userByEmail = (email: string) => database.db('users').where({ email }).first();
  const failureReasons = async () =>
    (await database.db('audit_events').where('type', 'login.federated_refused')).map((row) => JSON.stringify(row));

  it('Microsoft: signs in a person of an allowed directory through the multi-tenant endpoint, with a vouched-for email verified', async () => {
    entra.people.ada = { tid: CONTOSO, xms_edov: true, email: 'ada@contoso.test', name: 'Ada Contoso' };
    const { browser, request, page } = await leaveFor('entra');
    assert.ok(page.url.startsWith(entra.origin), `at Microsoft’s stand-in: ${page.url}`);
    const tokens = await toRelyingParty(browser, await signInUpstream(browser, page, 'ada'), request);
    const user = await userByEmail('ada@contoso.test');
    assert.equal(tokens.claims()?.sub, user.id);
    assert.equal(user.email_verified, true, 'xms_edov: the domain owner vouches for the email');
    assert.ok(
      routes[0].routed.includes(`${MICROSOFT}/organizations/v2.0/.well-known/openid-configuration`),
      `discovery at the tenant's endpoint: ${routes[0].routed.join(', ')}`,
    );
  });

  it('Microsoft: an email no domain owner vouches for is not verified, so it never links to the account that has it', async () => {
    await createUser(
      operator(database),
      { email: 'boss@contoso.test', password: 'a long and unguessable passphrase', email_verified: true },
      4,
    );
    // Any directory's admin can type any address into a user's email (the "nOAuth" takeover).
    entra.people.mallory = { tid: CONTOSO, email: 'boss@contoso.test', email_verified: true };
    const { browser, page } = await leaveFor('entra');
    const refused = await signInUpstream(browser, page, 'mallory');
    assert.equal(refused.status, 403);
    assert.match(refused.html, /has not verified the address/);
    assert.equal(await database.db('federated_identities').where({ subject: 'mallory' }).first(), undefined);
  });

  it('Microsoft: refuses a person of a directory the connection does not allow, and the relying party gets access_denied', async () => {
    entra.people.carl = { tid: CONTOSO, xms_edov: true, email: 'carl@contoso.test' };
    const { browser, page } = await leaveFor('entra-fabrikam');
    const refused = await signInUpstream(browser, page, 'carl');
    assert.equal(refused.status, 400);
    assert.match(refused.html, /Signing in with Microsoft \(entra-fabrikam\) was cancelled or refused/);
    assert.equal(await userByEmail('carl@contoso.test'), undefined);
    assert.ok(
      (await failureReasons()).some((reason) => reason.includes(`The Microsoft directory ${CONTOSO} is not one this connection allows`)),
    );
    const back = await browser.submit(refused, /\/upstream\/give-up$/, {}, RP_REDIRECT);
    assert.equal(new URL(back.url).searchParams.get('error'), 'access_denied');
  });

  it('Microsoft: refuses an ID token whose issuer is not its own tenant’s (tid of another directory)', async () => {
    // Signed by Contoso's issuer, claiming to be of Fabrikam's directory.
    entra.people.eve = { tid: FABRIKAM, xms_edov: true, email: 'eve@fabrikam.test' };
    const { browser, page } = await leaveFor('entra-any');
    const refused = await signInUpstream(browser, page, 'eve');
    assert.equal(refused.status, 400);
    assert.match(refused.html, /its answer could not be checked/);
    assert.equal(await userByEmail('eve@fabrikam.test'), undefined);
    // openid-client: the token's iss is not the template filled with the token's own tid.
    assert.ok((await failureReasons()).some((reason) => reason.includes('entra-any') && reason.includes('unexpected JWT claim value')));
  });

  it('Apple: signs in with a client secret signed by the team’s key, keeps the name sent with the first sign-in, and finds the same user next time', async () => {
    apple.people['001234.apple'] = { email: 'ann@privaterelay.appleid.com', email_verified: 'true' as unknown as boolean };
    const first = await leaveFor('apple');
    const posting = await signInUpstream(first.browser, first.page, '001234.apple');
    assert.match(posting.html, /action="http:\/\/localhost:\d+\/federation\/oidc\/callback"/, 'Apple posts the code back');
    // Apple adds the person's name (never signed) to the first post only.
    const user = JSON.stringify({ name: { firstName: 'Ann', lastName: 'Appleseed' }, email: 'someone@else.example' });
    const back = await first.browser.submit(posting, /\/federation\/oidc\/callback$/, { user }, RP_REDIRECT);
    const tokens = await toRelyingParty(first.browser, back, first.request);
    const created = await userByEmail('ann@privaterelay.appleid.com');
    assert.equal(tokens.claims()?.sub, created.id);
    assert.equal(created.email_verified, true, 'Apple says "true" as a string');
    assert.equal(created.profile.given_name, 'Ann');
    assert.equal(created.profile.family_name, 'Appleseed');
    assert.equal(await userByEmail('someone@else.example'), undefined);
    assert.deepEqual(apple.appleSecretsSeen, [true]);

    const again = await leaveFor('apple');
    const secondPost = await signInUpstream(again.browser, again.page, '001234.apple');
    const secondTokens = await toRelyingParty(
      again.browser,
      await again.browser.submit(secondPost, /\/federation\/oidc\/callback$/, {}, RP_REDIRECT),
      again.request,
    );
    assert.equal(secondTokens.claims()?.sub, created.id);
    const later = await userByEmail('ann@privaterelay.appleid.com');
    assert.equal(later.profile.given_name, 'Ann', 'the name stays when Apple no longer sends it');
  });

  it('Apple: a client secret signed by a key Apple does not know is refused, and nobody is signed in', async () => {
    apple.people['005678.apple'] = { email: 'bo@privaterelay.appleid.com', email_verified: true };
    const seen = apple.appleSecretsSeen.length;
    const { browser, page } = await leaveFor('apple-old-key');
    const posting = await signInUpstream(browser, page, '005678.apple');
    const refused = await browser.submit(posting, /\/federation\/oidc\/callback$/, {}, RP_REDIRECT);
    assert.equal(refused.status, 400);
    assert.match(refused.html, /Signing in with Apple \(old key\) did not work/);
    assert.deepEqual(apple.appleSecretsSeen.slice(seen), [false]);
    assert.equal(await userByEmail('bo@privaterelay.appleid.com'), undefined);
  });
});
