// Passkeys on a real database, answered by a software authenticator: registration and sign-in
// (discoverable and as a second factor), every bad input refused with its exact message and no
// change to the stored passkey, one winner among parallel uses of one response (truly parallel
// only on the PostgreSQL server; PGlite serialises them), the user's list, and the relying party
// configuration with its errors.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, type User } from '../../src/accounts/index.ts';
import type { ServiceContext } from '../../src/changes/index.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { type InvalidInputError, NotFoundError } from '../../src/errors/index.ts';
import {
  countPasskeys,
  listPasskeys,
  type PasskeyRefusedError,
  passkeyAuthenticationOptions,
  passkeyRegistrationOptions,
  registerPasskey,
  removePasskey,
  renamePasskey,
  verifyPasskeyAssertion,
  type PasskeyRefusal,
  type UserVerification,
} from '../../src/mfa/passkeys.ts';
import { relyingParty } from '../../src/mfa/relyingParty.ts';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { operator } from '../helpers/fixtures.ts';
import { PASSKEY_REFUSALS } from '../helpers/passkeyRefusals.ts';
import { SoftAuthenticator, strangerKey, type Knobs } from '../helpers/softAuthenticator.ts';

const SECRET = 's'.repeat(40);
const ISSUER = 'https://id.example.com';
const ICLOUD_KEYCHAIN = 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd';
// Passkeys bound to example.com, usable on the issuer's pages and on the www site's.
const rp = relyingParty(
  loadConfig({ ISSUER, SECRET_KEY: SECRET, WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://www.example.com' }),
);

const MESSAGES = PASSKEY_REFUSALS;

describe('passkeys', () => {
  let database: TestDatabase;
  let alice: User;
  let bob: User;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.dispose());
  beforeEach(async () => {
    await truncateAll(database);
    alice = await createUser(operator(database), { email: 'alice@example.com', profile: { name: 'Alice Example' } }, 4);
    bob = await createUser(operator(database), { email: 'bob@example.com' }, 4);
  });

  // The person acting on their own account, from one request.
  const as = (user: User): ServiceContext => ({
    db: database.db,
    actor: { type: 'user', id: user.id },
    source: ISSUER,
    requestId: 'req-passkeys',
    ip: '203.0.113.7',
  });
  const signInContext = (): ServiceContext => ({ db: database.db, actor: { type: 'system' }, source: ISSUER, requestId: 'req-sign-in' });

  const authenticatorAt = (origin = ISSUER, setup: { synced?: boolean; aaguid?: string } = {}) =>
    new SoftAuthenticator({ origin, rpId: rp.id, ...setup });

  async function registrationFor(user: User, authenticator: SoftAuthenticator, knobs: Knobs = {}) {
    const { options, challenge } = await passkeyRegistrationOptions(rp, user, await listPasskeys(database.db, user.id));
    return { response: authenticator.register(options, knobs), challenge, options };
  }

  async function enrol(
    user: User,
    authenticator = authenticatorAt(),
    options: { name?: string; userVerification?: UserVerification } = {},
  ) {
    const { response, challenge } = await registrationFor(user, authenticator);
    const passkey = await registerPasskey(as(user), rp, user.id, response, challenge, options);
    return { authenticator, passkey };
  }

  async function assertion(authenticator: SoftAuthenticator, knobs: Knobs = {}) {
    const { challenge } = await passkeyAuthenticationOptions(rp);
    return { response: authenticator.authenticate(challenge, knobs), challenge };
  }

  async function signIn(
    authenticator: SoftAuthenticator,
    knobs: Knobs = {},
    options: { userId?: string; userVerification?: UserVerification } = {},
  ) {
    const { response, challenge } = await assertion(authenticator, knobs);
    return verifyPasskeyAssertion(signInContext(), rp, response, challenge, options);
  }

  /** What a refused attempt must leave as it was. */
  const storedPasskeys = async () =>
    (await database.db('passkeys').orderBy('id').select('id', 'user_id', 'counter', 'backed_up', 'last_used_at', 'name')).map((row) => ({
      ...row,
      counter: Number(row.counter),
    }));

  async function assertRefused(attempt: () => Promise<unknown>, message: string, reason?: PasskeyRefusal) {
    const before = await storedPasskeys();
    await assert.rejects(attempt, (error: Error) => {
      assert.equal(error.message, message);
      if (reason) assert.equal((error as PasskeyRefusedError).reason, reason);
      return true;
    });
    assert.deepEqual(await storedPasskeys(), before, 'no passkey changed');
  }

  const auditsOf = (type: string) => database.db('audit_events').where('type', type).orderBy('id').select('user_id', 'details');
  const eventsOf = (type: string) =>
    database.db('domain_events').where('type', `gatehouse.${type}`).orderBy('seq').select('subject', 'data');

  describe('options', () => {
    it('asks for a discoverable passkey that verifies the person, excluding those the user has', async () => {
      const first = await passkeyRegistrationOptions(rp, { id: alice.id, email: alice.email, name: 'Alice Example' }, []);
      assert.equal(first.challenge, first.options.challenge);
      assert.deepEqual(first.options.rp, { id: 'example.com', name: 'Gatehouse' });
      assert.deepEqual(first.options.user, {
        id: Buffer.from(alice.id).toString('base64url'),
        name: alice.email,
        displayName: 'Alice Example',
      });
      assert.equal(first.options.authenticatorSelection?.residentKey, 'required');
      assert.equal(first.options.authenticatorSelection?.requireResidentKey, true);
      assert.equal(first.options.authenticatorSelection?.userVerification, 'required');
      assert.equal(first.options.attestation, 'none');
      assert.deepEqual(
        first.options.pubKeyCredParams.map((param) => param.alg),
        [-7, -8, -257],
      );
      assert.equal(first.options.timeout, 300000);
      assert.deepEqual(first.options.excludeCredentials, []);

      const { authenticator } = await enrol(alice);
      const next = await passkeyRegistrationOptions(rp, alice, await listPasskeys(database.db, alice.id), {
        userVerification: 'preferred',
      });
      assert.deepEqual(next.options.excludeCredentials, [{ id: authenticator.id, transports: ['internal'], type: 'public-key' }]);
      assert.equal(next.options.authenticatorSelection?.userVerification, 'preferred');
      assert.notEqual(next.challenge, first.challenge);
    });

    it('offers any passkey for a sign-in, and only the user’s for a second factor', async () => {
      const { authenticator } = await enrol(alice);
      const discoverable = await passkeyAuthenticationOptions(rp);
      assert.equal(discoverable.options.allowCredentials, undefined);
      assert.equal(discoverable.options.rpId, 'example.com');
      assert.equal(discoverable.options.userVerification, 'required');
      const secondFactor = await passkeyAuthenticationOptions(rp, { allowCredentials: await listPasskeys(database.db, alice.id) });
      assert.deepEqual(secondFactor.options.allowCredentials, [{ id: authenticator.id, transports: ['internal'], type: 'public-key' }]);
    });
  });

  describe('registration and sign-in', () => {
    it('registers a passkey, then signs in with it, counting each use', async () => {
      const { authenticator, passkey } = await enrol(alice);
      assert.equal(passkey.userId, alice.id);
      assert.equal(passkey.credentialId, authenticator.id);
      assert.equal(passkey.deviceType, 'singleDevice');
      assert.equal(passkey.backedUp, false);
      assert.deepEqual(passkey.transports, ['internal']);
      assert.equal(passkey.aaguid, null);
      assert.equal(passkey.counter, 0);
      assert.equal(passkey.lastUsedAt, null);
      assert.match(passkey.name, /^Passkey \(\d{4}-\d{2}-\d{2}\)$/);
      assert.equal(await countPasskeys(database.db, alice.id), 1);
      const [added] = await eventsOf('user.passkey_added');
      assert.equal(added.subject, alice.id);
      assert.deepEqual(added.data, {
        credential: passkey.id,
        name: passkey.name,
        device_type: 'singleDevice',
        backed_up: false,
        aaguid: null,
      });

      const proved = await signIn(authenticator, {}, { userId: alice.id });
      assert.deepEqual(proved, {
        userId: alice.id,
        passkeyId: passkey.id,
        credentialId: authenticator.id,
        amr: ['hwk', 'user'],
        userVerified: true,
      });
      let [stored] = await listPasskeys(database.db, alice.id);
      assert.equal(stored.counter, 1);
      assert.ok(stored.lastUsedAt instanceof Date);

      await signIn(authenticator);
      [stored] = await listPasskeys(database.db, alice.id);
      assert.equal(stored.counter, 2);
      const verified = await auditsOf('mfa.passkey_verified');
      assert.equal(verified.length, 2);
      assert.equal(verified[0].user_id, alice.id);
      assert.deepEqual(verified[0].details, { credential: passkey.id, amr: ['hwk', 'user'], actor: { type: 'system' } });
    });

    it('finds the person from a discoverable passkey alone', async () => {
      await enrol(bob);
      const { authenticator, passkey } = await enrol(alice);
      const proved = await signIn(authenticator);
      assert.equal(proved.userId, alice.id);
      assert.equal(proved.passkeyId, passkey.id);
    });

    it('names a synced passkey after its provider, and proves a software key with it', async () => {
      const { authenticator, passkey } = await enrol(alice, authenticatorAt(ISSUER, { synced: true, aaguid: ICLOUD_KEYCHAIN }));
      assert.equal(passkey.name, 'iCloud Keychain');
      assert.equal(passkey.aaguid, ICLOUD_KEYCHAIN);
      assert.equal(passkey.deviceType, 'multiDevice');
      assert.equal(passkey.backedUp, true);
      assert.deepEqual((await signIn(authenticator)).amr, ['swk', 'user']);
    });

    it('keeps the name the person chose, trimmed', async () => {
      const { passkey } = await enrol(alice, authenticatorAt(), { name: '  Work laptop  ' });
      assert.equal(passkey.name, 'Work laptop');
    });

    it('accepts a passkey without user verification only when asked for "preferred"', async () => {
      const authenticator = authenticatorAt();
      const { response, challenge } = await registrationFor(alice, authenticator, { userVerified: false });
      await assertRefused(
        () => registerPasskey(as(alice), rp, alice.id, response, challenge),
        MESSAGES.userVerification,
        'user_verification',
      );
      await registerPasskey(as(alice), rp, alice.id, response, challenge, { userVerification: 'preferred' });
      await assertRefused(() => signIn(authenticator, { userVerified: false }), MESSAGES.userVerification, 'user_verification');
      const proved = await signIn(authenticator, { userVerified: false }, { userVerification: 'preferred' });
      assert.deepEqual(proved.amr, ['hwk']);
      assert.equal(proved.userVerified, false);
    });

    it('accepts a ceremony on an origin WEBAUTHN_ORIGINS adds, and refuses one on any other page of the domain', async () => {
      const { authenticator } = await enrol(alice, authenticatorAt('https://www.example.com'));
      assert.equal((await signIn(authenticator)).userId, alice.id);
      await assertRefused(() => signIn(authenticator, { origin: 'https://shop.example.com' }), MESSAGES.origin, 'origin');
      const elsewhere = await registrationFor(bob, authenticatorAt('https://shop.example.com'));
      await assertRefused(() => registerPasskey(as(bob), rp, bob.id, elsewhere.response, elsewhere.challenge), MESSAGES.origin, 'origin');
    });
  });

  describe('bad registrations', () => {
    const refusedRegistration = async (knobs: Knobs, message: string, reason: PasskeyRefusal) => {
      const { response, challenge } = await registrationFor(alice, authenticatorAt(), knobs);
      await assertRefused(() => registerPasskey(as(alice), rp, alice.id, response, challenge), message, reason);
    };

    it('refuses a response to another challenge', async () => {
      const { response } = await registrationFor(alice, authenticatorAt());
      const { challenge: other } = await passkeyRegistrationOptions(rp, alice, []);
      await assertRefused(() => registerPasskey(as(alice), rp, alice.id, response, other), MESSAGES.challenge, 'challenge');
      await assertRefused(() => registerPasskey(as(alice), rp, alice.id, response, undefined), MESSAGES.challenge, 'challenge');
    });

    it('refuses a passkey made on another site, or for another RP ID, or without verifying the person', async () => {
      await refusedRegistration({ origin: 'https://evil.example.net' }, MESSAGES.origin, 'origin');
      await refusedRegistration({ rpId: 'evil.example.net' }, MESSAGES.rpId, 'rp_id');
      await refusedRegistration({ userVerified: false }, MESSAGES.userVerification, 'user_verification');
    });

    it('refuses a credential registered before, to this user or another', async () => {
      const { authenticator } = await enrol(alice);
      const again = await registrationFor(alice, authenticator);
      await assertRefused(
        () => registerPasskey(as(alice), rp, alice.id, again.response, again.challenge),
        MESSAGES.duplicate,
        'already_registered',
      );
      const forBob = await registrationFor(bob, authenticator);
      await assertRefused(
        () => registerPasskey(as(bob), rp, bob.id, forBob.response, forBob.challenge),
        MESSAGES.duplicate,
        'already_registered',
      );
      assert.equal((await eventsOf('user.passkey_added')).length, 1);
    });

    it('refuses malformed JSON, a wrong shape and an oversized attestation, naming what is wrong', async () => {
      const { response, challenge } = await registrationFor(alice, authenticatorAt());
      const register = (sent: unknown) => () => registerPasskey(as(alice), rp, alice.id, sent, challenge);
      await assertRefused(register('{"id": "abc", '), MESSAGES.notJson);
      await assertRefused(register('x'.repeat(200_000)), MESSAGES.tooLarge);
      await assert.rejects(register({ id: 'abc', type: 'password', response: 'yes' }), (error: InvalidInputError) => {
        assert.equal(error.message, MESSAGES.invalid);
        assert.deepEqual(error.fields, [
          { path: 'rawId', message: 'must be a base64url string' },
          { path: 'type', message: 'must be "public-key"' },
          { path: 'response', message: 'must be an object' },
        ]);
        return true;
      });
      await assert.rejects(register({ ...response, id: 'not base64url!' }), (error: InvalidInputError) => {
        assert.deepEqual(error.fields, [{ path: 'id', message: 'must be base64url' }]);
        return true;
      });
      const oversized = { ...response, response: { ...response.response, attestationObject: 'A'.repeat(22_000) } };
      await assert.rejects(register(oversized), (error: InvalidInputError) => {
        assert.equal(error.message, MESSAGES.tooLarge);
        assert.deepEqual(error.fields, [{ path: 'response.attestationObject', message: 'is over 16 KiB' }]);
        return true;
      });
      await assertRefused(register(JSON.stringify(oversized)), MESSAGES.tooLarge);
      await assertRefused(register(null), MESSAGES.invalid);
      assert.equal(await countPasskeys(database.db, alice.id), 0);
      // The same response, sent whole, still registers: nothing above used it up.
      await registerPasskey(as(alice), rp, alice.id, JSON.stringify(response), challenge);
      assert.equal(await countPasskeys(database.db, alice.id), 1);
    });

    it('refuses a name outside 1 to 64 characters before anything else', async () => {
      const { response, challenge } = await registrationFor(alice, authenticatorAt());
      await assertRefused(() => registerPasskey(as(alice), rp, alice.id, response, challenge, { name: '   ' }), MESSAGES.name);
      await assertRefused(() => registerPasskey(as(alice), rp, alice.id, response, challenge, { name: 'n'.repeat(65) }), MESSAGES.name);
    });
  });

  describe('bad sign-ins', () => {
    let authenticator: SoftAuthenticator;
    beforeEach(async () => {
      ({ authenticator } = await enrol(alice));
      await signIn(authenticator);
    });

    const refusedSignIn = async (knobs: Knobs, message: string, reason: PasskeyRefusal, options: { userId?: string } = {}) =>
      assertRefused(() => signIn(authenticator, knobs, options), message, reason);

    it('refuses a response to another challenge, or when no challenge is kept', async () => {
      const { response } = await assertion(authenticator);
      const { challenge: other } = await passkeyAuthenticationOptions(rp);
      await assertRefused(() => verifyPasskeyAssertion(signInContext(), rp, response, other), MESSAGES.challenge, 'challenge');
      await assertRefused(() => verifyPasskeyAssertion(signInContext(), rp, response, null), MESSAGES.challenge, 'challenge');
    });

    it('refuses another origin, another RP ID, a missing user verification and a signature by another key', async () => {
      await refusedSignIn({ origin: 'https://evil.example.net' }, MESSAGES.origin, 'origin');
      await refusedSignIn({ rpId: 'evil.example.net' }, MESSAGES.rpId, 'rp_id');
      await refusedSignIn({ userVerified: false }, MESSAGES.userVerification, 'user_verification');
      await refusedSignIn({ signingKey: strangerKey() }, MESSAGES.signature, 'signature');
      const failed = await auditsOf('mfa.passkey_failed');
      assert.deepEqual(
        failed.map((row) => [row.user_id, row.details.reason]),
        [
          [alice.id, 'origin'],
          [alice.id, 'rp_id'],
          [alice.id, 'user_verification'],
          [alice.id, 'signature'],
        ],
      );
      assert.equal(JSON.stringify(failed).includes('clientDataJSON'), false, 'no raw response in the audit');
    });

    it('refuses a passkey nobody registered', async () => {
      await assertRefused(() => signIn(authenticatorAt()), MESSAGES.unknown, 'unknown_credential');
    });

    it('refuses, as a second factor, a passkey of another user', async () => {
      const { authenticator: bobs } = await enrol(bob);
      await assertRefused(() => signIn(bobs, {}, { userId: alice.id }), MESSAGES.otherUser, 'other_user');
      const [failed] = await auditsOf('mfa.passkey_failed');
      assert.equal(failed.user_id, alice.id);
      assert.equal(failed.details.reason, 'other_user');
    });

    it('refuses a user handle that is not the passkey owner’s', async () => {
      await refusedSignIn({ userHandle: Buffer.from(bob.id).toString('base64url') }, MESSAGES.userHandle, 'user_handle');
      assert.equal((await signIn(authenticator, { userHandle: null })).userId, alice.id, 'no user handle at all is fine');
    });

    it('refuses the same signed response a second time', async () => {
      const { response, challenge } = await assertion(authenticator);
      await verifyPasskeyAssertion(signInContext(), rp, response, challenge);
      await assertRefused(() => verifyPasskeyAssertion(signInContext(), rp, response, challenge), MESSAGES.replayed, 'replayed');
    });

    it('refuses a counter that went backwards as a possibly copied authenticator, and audits it as such', async () => {
      await signIn(authenticator, { counter: 7 });
      await refusedSignIn({ counter: 3 }, MESSAGES.counter, 'counter');
      const [suspected] = await auditsOf('mfa.passkey_clone_suspected');
      assert.equal(suspected.user_id, alice.id);
      assert.equal(suspected.details.reason, 'counter');
      assert.equal((await listPasskeys(database.db, alice.id))[0].counter, 7);
    });

    it('lets exactly one of 8 parallel uses of one response through', async () => {
      const { response, challenge } = await assertion(authenticator);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, () => verifyPasskeyAssertion(signInContext(), rp, response, challenge)),
      );
      assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1);
      assert.deepEqual(
        outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [(outcome.reason as PasskeyRefusedError).reason] : [])),
        Array(7).fill('replayed'),
      );
      assert.equal((await listPasskeys(database.db, alice.id))[0].counter, 2);
      assert.equal((await auditsOf('mfa.passkey_verified')).length, 2, 'the first sign-in and the one winner');
    });

    it('refuses malformed JSON, a wrong shape and an oversized response', async () => {
      const { response, challenge } = await assertion(authenticator);
      const verify = (sent: unknown) => () => verifyPasskeyAssertion(signInContext(), rp, sent, challenge, { userId: alice.id });
      await assertRefused(verify('not json'), MESSAGES.notJson);
      await assert.rejects(
        verify({ ...response, response: { clientDataJSON: response.response.clientDataJSON } }),
        (error: InvalidInputError) => {
          assert.equal(error.message, MESSAGES.invalid);
          assert.deepEqual(error.fields, [
            { path: 'response.authenticatorData', message: 'must be a base64url string' },
            { path: 'response.signature', message: 'must be a base64url string' },
          ]);
          return true;
        },
      );
      const oversized = { ...response, response: { ...response.response, clientDataJSON: 'A'.repeat(22_000) } };
      await assertRefused(verify(oversized), MESSAGES.tooLarge);
      const failed = await auditsOf('mfa.passkey_failed');
      assert.deepEqual(
        failed.map((row) => row.details.reason),
        ['malformed', 'malformed', 'malformed'],
      );
      // Nothing above used the response up.
      assert.equal((await verifyPasskeyAssertion(signInContext(), rp, JSON.stringify(response), challenge)).userId, alice.id);
    });
  });

  describe("the user's passkeys", () => {
    it('renames one, trimmed, refusing a bad name and another user’s passkey', async () => {
      const { passkey } = await enrol(alice);
      const renamed = await renamePasskey(as(alice), alice.id, passkey.id, '  Phone  ');
      assert.equal(renamed.name, 'Phone');
      assert.equal((await listPasskeys(database.db, alice.id))[0].name, 'Phone');
      const [event] = await eventsOf('user.passkey_renamed');
      assert.deepEqual(event.data, { credential: passkey.id, name: 'Phone' });
      await assertRefused(() => renamePasskey(as(alice), alice.id, passkey.id, ''), MESSAGES.name);
      await assertRefused(() => renamePasskey(as(alice), alice.id, passkey.id, 'x'.repeat(65)), MESSAGES.name);
      await assertRefused(() => renamePasskey(as(alice), alice.id, passkey.id, 42), MESSAGES.name);
      await assertRefused(() => renamePasskey(as(bob), bob.id, passkey.id, 'Mine'), `User ${bob.id} has no passkey ${passkey.id}`);
      await assertRefused(() => renamePasskey(as(alice), alice.id, 'not-a-uuid', 'Phone'), `User ${alice.id} has no passkey not-a-uuid`);
    });

    it('removes one, only for its owner, after which it signs nobody in', async () => {
      const { authenticator, passkey } = await enrol(alice);
      await enrol(alice);
      await assert.rejects(() => removePasskey(as(bob), bob.id, passkey.id), NotFoundError);
      assert.equal(await countPasskeys(database.db, alice.id), 2);
      await removePasskey(as(alice), alice.id, passkey.id);
      assert.equal(await countPasskeys(database.db, alice.id), 1);
      const [event] = await eventsOf('user.passkey_removed');
      assert.equal(event.subject, alice.id);
      assert.deepEqual(event.data, { credential: passkey.id, name: passkey.name });
      await assertRefused(() => signIn(authenticator), MESSAGES.unknown, 'unknown_credential');
      await assert.rejects(() => removePasskey(as(alice), alice.id, passkey.id), NotFoundError);
    });
  });
});

describe('passkey relying party configuration', () => {
  function problems(env: Record<string, string>): string[] {
    try {
      loadConfig({ SECRET_KEY: SECRET, ...env });
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
    assert.fail('expected a ConfigError');
  }

  it('is the issuer, on its own, by default', () => {
    assert.deepEqual(relyingParty(loadConfig({ ISSUER: `${ISSUER}/tenant/`, SECRET_KEY: SECRET })), {
      id: 'id.example.com',
      name: 'Gatehouse',
      origins: [ISSUER],
    });
    assert.deepEqual(relyingParty(loadConfig({ SECRET_KEY: SECRET, PORT: '3000' })), {
      id: 'localhost',
      name: 'Gatehouse',
      origins: ['http://localhost:3000'],
    });
  });

  it('reads the RP ID, its name and the extra origins', () => {
    const config = loadConfig({
      ISSUER,
      SECRET_KEY: SECRET,
      WEBAUTHN_RP_ID: 'example.com',
      WEBAUTHN_RP_NAME: 'Example',
      WEBAUTHN_ORIGINS: ' https://www.example.com/ , https://App.Example.com:8443,https://id.example.com',
    });
    assert.deepEqual(relyingParty(config), {
      id: 'example.com',
      name: 'Example',
      origins: [ISSUER, 'https://www.example.com', 'https://app.example.com:8443'],
    });
    assert.deepEqual(relyingParty(loadConfig({ SECRET_KEY: SECRET, WEBAUTHN_ORIGINS: 'http://app.localhost:5173' })).origins, [
      'http://localhost:3000',
      'http://app.localhost:5173',
    ]);
  });

  it('lists every bad origin in WEBAUTHN_ORIGINS', () => {
    assert.deepEqual(
      problems({ ISSUER, WEBAUTHN_ORIGINS: 'http://www.example.com,www.example.com,https://id.example.com/login,ftp://example.com' }),
      [
        'WEBAUTHN_ORIGINS: WEBAUTHN_ORIGINS entry "http://www.example.com" must use https (http is allowed only for localhost)',
        'WEBAUTHN_ORIGINS: WEBAUTHN_ORIGINS entry "www.example.com" is not an origin such as https://app.example.com',
        'WEBAUTHN_ORIGINS: WEBAUTHN_ORIGINS entry "https://id.example.com/login" must be an origin only (scheme, host and port), without a path, query or fragment',
        'WEBAUTHN_ORIGINS: WEBAUTHN_ORIGINS entry "ftp://example.com" is not an origin such as https://app.example.com',
      ],
    );
  });

  it('refuses an origin outside the RP ID, saying how to fix it', () => {
    assert.deepEqual(problems({ ISSUER, WEBAUTHN_ORIGINS: 'https://www.example.com' }), [
      'WEBAUTHN_ORIGINS: WEBAUTHN_ORIGINS entry "https://www.example.com" is outside the passkey RP ID id.example.com (ISSUER\'s host): set WEBAUTHN_RP_ID to a domain both are under',
    ]);
    assert.deepEqual(problems({ ISSUER, WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://shop.example.net' }), [
      'WEBAUTHN_ORIGINS: WEBAUTHN_ORIGINS entry "https://shop.example.net" is outside WEBAUTHN_RP_ID example.com: its host must be example.com or a subdomain of it',
    ]);
  });

  it('refuses a WEBAUTHN_RP_ID that is no domain, or not a suffix of the issuer host', () => {
    assert.deepEqual(problems({ ISSUER, WEBAUTHN_RP_ID: 'https://example.com' }), [
      'WEBAUTHN_RP_ID: WEBAUTHN_RP_ID must be a domain name such as example.com (lower case, no scheme, port or path)',
    ]);
    assert.deepEqual(problems({ ISSUER, WEBAUTHN_RP_ID: '192.168.1.10' }), [
      'WEBAUTHN_RP_ID: WEBAUTHN_RP_ID must be a domain name, not an IP address',
    ]);
    assert.deepEqual(problems({ ISSUER, WEBAUTHN_RP_ID: 'com' }), [
      'WEBAUTHN_RP_ID: WEBAUTHN_RP_ID must be a registrable domain such as example.com, not a top-level domain',
    ]);
    assert.deepEqual(problems({ ISSUER, WEBAUTHN_RP_ID: 'ample.com' }), [
      "WEBAUTHN_RP_ID: WEBAUTHN_RP_ID ample.com must be ISSUER's host (id.example.com) or a parent domain of it",
    ]);
    assert.deepEqual(problems({ ISSUER, WEBAUTHN_RP_NAME: 'n'.repeat(65) }), [
      'WEBAUTHN_RP_NAME: WEBAUTHN_RP_NAME must be at most 64 characters',
    ]);
  });
});
