// Pre-account hijacking through a federated first sign-in: someone whose upstream identity claims
// an address they do not own (the provider did not verify it) gets an account made for it just in
// time. When the address's real owner later proves the mailbox — a password reset, an accepted
// invitation — that identity is unlinked: its holder never proved the mailbox. An identity whose
// provider verified the email stays linked through a reset.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { leaveFor as leaveForConnection, pastConsent } from '../helpers/federatedSignIn.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { Browser } from '../helpers/browserForm.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { RP_REDIRECT, discover, exchangeCode } from '../helpers/relyingParty.ts';
import { signInUpstream, startUpstreamProvider, type UpstreamProvider } from '../helpers/upstreamProvider.ts';
import { createSmtpSink, linkIn, mailTo, type SmtpSink } from '../helpers/smtpSink.ts';
import { heading } from '../helpers/accountScreens.ts';
import { createConnection } from '../../src/federation/index.ts';
import { accountDeps, inviteUser } from '../../src/accounts/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const box = createSecretBox(TEST_SECRET_KEY);
const PASSWORD = 'owner fresh lantern 77 xyz';

describe('federation: identities linked on an address nobody proved', () => {
  let database: TestDatabase;
  let server: TestServer;
  let upstream: UpstreamProvider;
  let rp: client.Configuration;
  let sink: SmtpSink;

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    server = await startTestServer(database, { SMTP_URL: sink.url });
    upstream = await startUpstreamProvider(`${server.issuer}/federation/oidc/callback`);
    await createConnection(operator(database), box, {
      id: 'up',
      type: 'oidc',
      display_name: 'Up ID',
      settings: { issuer: upstream.issuer, client_id: upstream.clientId },
      client_secret: upstream.clientSecret,
    });
    const registered = await createClient(database, server.config, { name: 'App' });
    rp = await discover(server.issuer, registered.client_id, registered.client_secret);
  });

  after(async () => {
    await upstream?.close();
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  /** Signs in through the upstream as `login`; the page back at Gatehouse. */
  async function throughUpstream(login: string) {
    const { browser, request, page } = await leaveForConnection(rp, 'up');
    const landed = await pastConsent(browser, await signInUpstream(browser, page, login));
    return {
      landed,
      subject: landed.url.startsWith(RP_REDIRECT) ? (await exchangeCode(rp, landed.url, request)).claims()?.sub : undefined,
    };
  }

  /** The address's owner resets the password from the mailbox. */
  async function ownerResets(email: string) {
    const owner = new Browser();
    const form = await owner.navigate(`${server.issuer}/account/forgot-password`);
    await owner.submit(form, /forgot-password$/, { email });
    const mail = await sink.waitForMail(mailTo(email, 'Reset your password'));
    const reset = await owner.navigate(linkIn(mail, `${server.issuer}/account/reset-password?token=`));
    const done = await owner.submit(reset, /reset-password$/, { password: PASSWORD });
    assert.equal(heading(done.html), 'Password changed');
  }

  const identity = (subject: string) => database.db('federated_identities').where({ connection_id: 'up', subject }).first();
  const userOf = (email: string) => database.db('users').where({ email }).first();

  it('unlinks the identity that made the account on an unverified address when the owner resets the password', async () => {
    upstream.people.mallory = { email: 'victim@example.com', email_verified: false };
    // The first sign-in makes the account (unverified: it then asks for the address's code).
    await throughUpstream('mallory');
    const account = await userOf('victim@example.com');
    assert.equal(account.email_verified, false);
    assert.equal((await identity('mallory')).user_id, account.id);
    assert.equal((await identity('mallory')).proven, false);

    await ownerResets('victim@example.com');
    assert.equal(await identity('mallory'), undefined, 'unlinked by the reset');
    const reset = await database.db('audit_events').where({ type: 'user.password_reset', user_id: account.id }).first();
    assert.equal(reset.details.identities_unlinked, 1);

    // Through the upstream again: no longer the owner's account; the address has an account, and
    // the provider did not verify it, so nothing is linked and nobody is signed in.
    const again = await throughUpstream('mallory');
    assert.equal(again.subject, undefined);
    assert.equal(again.landed.status, 403);
    assert.match(again.landed.html, /has not verified the address/);
    assert.equal(await identity('mallory'), undefined);
  });

  it('keeps an identity whose provider verified the address through its owner’s reset', async () => {
    upstream.people.vera = { email: 'vera@example.com', email_verified: true };
    const first = await throughUpstream('vera');
    assert.equal((await identity('vera')).proven, true);
    await ownerResets('vera@example.com');
    assert.equal((await identity('vera')).user_id, first.subject);
    assert.equal((await throughUpstream('vera')).subject, first.subject);
  });

  it('unlinks it when an invitation to the address is accepted', async () => {
    upstream.people.mallory2 = { email: 'newhire@corp.example', email_verified: false };
    await throughUpstream('mallory2');
    const planted = await userOf('newhire@corp.example');
    const invited = await inviteUser(
      operator(database),
      accountDeps(server.config, box),
      { email: 'newhire@corp.example' },
      async () => undefined,
    );
    assert.equal(invited.user.id, planted.id, 'the invitation goes to the account the sign-in made');
    const mail = await sink.waitForMail(mailTo('newhire@corp.example', 'You are invited to create an account'));
    const hire = new Browser();
    const form = await hire.navigate(linkIn(mail, `${server.issuer}/account/invitation?token=`));
    const ready = await hire.submit(form, /\/account\/invitation$/, { password: PASSWORD });
    assert.equal(heading(ready.html), 'Your account is ready');
    assert.equal(await identity('mallory2'), undefined);
    assert.equal((await throughUpstream('mallory2')).subject, undefined);
  });
});
