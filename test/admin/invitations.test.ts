// The admin API's invitations, email changes and imported password hashes, end to end: a real
// server with a real SMTP sink, real client-credentials tokens, the invitee following the
// emailed link in a browser, and a sign-in with an imported bcrypt hash. Plus the bad input,
// the missing things, the conflicts and the per-client invitation limit.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcrypt';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { createSmtpSink, type SmtpSink } from '../helpers/smtpSink.ts';
import { createClient } from '../helpers/fixtures.ts';
import { Browser } from '../helpers/browserForm.ts';
import { discover, signInWithOfflineAccess } from '../helpers/relyingParty.ts';
import { ADMIN_BASE_PATH } from '../../src/admin/index.ts';

const PROBLEM = 'application/problem+json';
const INVITATIONS_PER_HOUR = 200;
const WRITTEN_TABLES = ['users', 'one_time_tokens', 'mail_queue', 'domain_events', 'audit_events'] as const;
const DOCUMENT_ID = 'https://gatehouse.test/openapi.json';

describe('admin API: invitations, email changes and imported password hashes', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer;
  let admin: AdminClient;
  let reader: AdminClient;
  // biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is an untyped tree
  let doc: Record<string, any>;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // The two formats the document uses (ajv-formats is not a dependency).
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('uri', { validate: (value: string) => URL.canParse(value) });
  /** Asserts that `body` fits the served document's schema `name`. */
  const fits = (name: string, body: unknown) => {
    const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/${name}` });
    assert.equal(validate(body), true, `${name}: ${ajv.errorsText(validate.errors)}`);
  };

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    server = await startTestServer(database, { SMTP_URL: sink.url });
    admin = await bootstrapAdminClient(server, database, 'Operator');
    reader = await bootstrapAdminClient(server, database, 'Support desk', ['users:read']);
    doc = (await (await fetch(`${server.url}${ADMIN_BASE_PATH}/openapi.json`)).json()) as typeof doc;
    ajv.addSchema(doc, DOCUMENT_ID);
  });

  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  const count = async (table: string, where: Record<string, unknown> = {}) =>
    Number((await database.db(table).where(where).count({ n: '*' }).first())?.n);
  const counts = async () => Object.fromEntries(await Promise.all(WRITTEN_TABLES.map(async (t) => [t, await count(t)])));
  /** The mail the sink received for `to` (waiting for it: it is sent after the commit). */
  async function mailTo(to: string) {
    for (;;) {
      const found = sink.messages.find((m) => m.to.includes(to));
      if (found) return found;
      await sink.received(sink.messages.length + 1);
    }
  }
  const linkIn = (text: string, path: string) => {
    const match = new RegExp(`${server.issuer}${path}\\?token=[\\w-]{43}`).exec(text);
    assert.ok(match, `a ${path} link in:\n${text}`);
    return match[0];
  };

  describe('POST /users/invitations', () => {
    it('invites (201, Location); the invitee follows the emailed link, chooses a password and is verified', async () => {
      const app = await createClient(database, server.config, { name: 'Team Wiki' });
      const answer = await admin.call('POST', '/users/invitations', {
        body: { email: 'wanda@example.com', name: 'Wanda', client_id: app.client_id },
      });
      assert.equal(answer.status, 201);
      const { user, expires_at } = answer.body;
      assert.equal(answer.headers.get('location'), `/api/admin/v1/users/${user.id}`);
      assert.equal(user.email, 'wanda@example.com');
      assert.equal(user.email_verified, false);
      assert.equal(user.has_password, false);
      assert.equal(user.locked_until, null);
      assert.deepEqual(user.profile, { name: 'Wanda' });
      const days = (Date.parse(expires_at) - Date.now()) / 86_400_000;
      assert.ok(days > 6.99 && days <= 7, String(days));

      const mail = await mailTo('wanda@example.com');
      assert.equal(mail.subject, 'You are invited to create an account');
      assert.match(mail.text, /Team Wiki/);
      const link = linkIn(mail.text, '/account/invitation');
      assert.equal(JSON.stringify(answer.body).includes(new URL(link).searchParams.get('token') as string), false);

      const event = await database.db('domain_events').where({ type: 'gatehouse.user.invited', subject: user.id }).first();
      assert.deepEqual(event.actor, { type: 'client', id: admin.clientId });
      assert.deepEqual(event.data, { client_id: app.client_id });
      const audit = await database.db('audit_events').where({ type: 'user.invited', user_id: user.id }).first();
      assert.equal(audit.client_id, app.client_id);

      const browser = new Browser();
      const form = await browser.navigate(link);
      assert.equal(form.status, 200);
      const done = await browser.submit(form, /\/account\/invitation/, { password: 'marble staircase over quiet orchards' });
      assert.equal(done.status, 200, done.html);
      const read = await admin.call('GET', `/users/${user.id}`);
      assert.equal(read.body.has_password, true);
      assert.equal(read.body.email_verified, true);
      // The link is used up.
      assert.notEqual((await browser.navigate(link)).status, 200);
      assert.equal((await admin.call('DELETE', `/users/${user.id}/invitation`)).status, 404);
    });

    it('answers a retry with the same Idempotency-Key with the first answer, and sends one mail', async () => {
      const headers = { 'idempotency-key': 'invite-xena-1' };
      const first = await admin.call('POST', '/users/invitations', { body: { email: 'xena@example.com' }, headers });
      assert.equal(first.status, 201);
      const retry = await admin.call('POST', '/users/invitations', { body: { email: 'xena@example.com' }, headers });
      assert.equal(retry.status, 201);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(retry.body, first.body);
      assert.equal(retry.headers.get('location'), first.headers.get('location'));
      assert.equal(await count('mail_queue', { recipient: 'xena@example.com' }), 1);
      assert.equal(await count('one_time_tokens', { user_id: first.body.user.id }), 1);
      // Sent once the key's transaction committed.
      await mailTo('xena@example.com');
    });

    it('replaces the link when the same address is invited again', async () => {
      const first = await admin.call('POST', '/users/invitations', { body: { email: 'yara@example.com' } });
      const again = await admin.call('POST', '/users/invitations', { body: { email: 'Yara@Example.com' } });
      assert.equal(again.status, 201);
      assert.equal(again.body.user.id, first.body.user.id);
      assert.equal(await count('one_time_tokens', { user_id: first.body.user.id, purpose: 'invitation', consumed_at: null }), 1);
      assert.equal(await count('one_time_tokens', { user_id: first.body.user.id, purpose: 'invitation' }), 2);
    });

    it('refuses malformed input, naming each field (400), and writes nothing', async () => {
      const before = await counts();
      const malformed = await admin.call('POST', '/users/invitations', { body: { email: 'not-an-email', name: '', role: 'admin' } });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.headers.get('content-type'), PROBLEM);
      assert.equal(malformed.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.deepEqual(
        [...malformed.body.errors].sort((a, b) => a.path.localeCompare(b.path)),
        [
          { path: 'email', message: 'Enter a valid email address' },
          { path: 'name', message: 'Too small: expected string to have >=1 characters' },
          { path: 'role', message: 'unknown field' },
        ],
      );
      const missing = await admin.call('POST', '/users/invitations', { body: {} });
      assert.equal(missing.status, 400);
      assert.deepEqual(missing.body.errors, [{ path: 'email', message: 'Invalid input: expected string, received undefined' }]);
      assert.deepEqual(await counts(), before);
    });

    it('refuses an unknown client (404) and an address that already has an account (409), writing nothing', async () => {
      const before = await counts();
      const unknown = await admin.call('POST', '/users/invitations', { body: { email: 'zoe@example.com', client_id: 'no-such-client' } });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.type, 'urn:gatehouse:problem:not-found');
      assert.equal(unknown.body.detail, 'No client no-such-client');
      assert.deepEqual(await counts(), before);

      const existing = await admin.call('POST', '/users', { body: { email: 'abel@example.com', password: 'copper kite meadow drum' } });
      assert.equal(existing.status, 201);
      const withAccount = await counts();
      const taken = await admin.call('POST', '/users/invitations', { body: { email: 'ABEL@example.com' } });
      assert.equal(taken.status, 409);
      assert.equal(taken.body.type, 'urn:gatehouse:problem:conflict');
      assert.equal(taken.body.detail, 'An account with this email already exists');
      assert.deepEqual(await counts(), withAccount);
    });

    it('needs users:write (403)', async () => {
      const answer = await reader.call('POST', '/users/invitations', { body: { email: 'bea@example.com' } });
      assert.equal(answer.status, 403);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:insufficient-scope');
      assert.equal(await count('users', { email: 'bea@example.com' }), 0);
    });

    it(`limits each admin client to ${INVITATIONS_PER_HOUR} invitations an hour (429 with Retry-After); others are not affected`, async () => {
      const busy = await bootstrapAdminClient(server, database, 'Bulk inviter', ['users:write']);
      // Each try counts, the refused ones too: a quick refusal (unknown client) uses up the hour.
      for (let i = 0; i < INVITATIONS_PER_HOUR; i += 25) {
        const answers = await Promise.all(
          Array.from({ length: 25 }, () =>
            busy.call('POST', '/users/invitations', { body: { email: 'cleo@example.com', client_id: 'nope' } }),
          ),
        );
        assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([404]));
      }
      const refused = await busy.call('POST', '/users/invitations', { body: { email: 'cleo@example.com' } });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('content-type'), PROBLEM);
      assert.equal(refused.body.type, 'urn:gatehouse:problem:rate-limited');
      assert.equal(refused.body.detail, 'Too many invitations from this client; try again later');
      fits('Problem', refused.body);
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 3600, String(retryAfter));
      assert.equal(await count('users', { email: 'cleo@example.com' }), 0);
      // Another client has its own count.
      assert.equal((await admin.call('POST', '/users/invitations', { body: { email: 'cleo@example.com' } })).status, 201);
    });
  });

  describe('DELETE /users/{id}/invitation', () => {
    it('withdraws the pending invitation (204): its link stops working; then there is none (404)', async () => {
      const invited = (await admin.call('POST', '/users/invitations', { body: { email: 'dora@example.com' } })).body.user;
      const link = linkIn((await mailTo('dora@example.com')).text, '/account/invitation');
      const revoked = await admin.call('DELETE', `/users/${invited.id}/invitation`);
      assert.equal(revoked.status, 204);
      assert.equal(await count('one_time_tokens', { user_id: invited.id, purpose: 'invitation', consumed_at: null }), 0);
      const event = await database.db('domain_events').where({ type: 'gatehouse.user.invitation_revoked', subject: invited.id }).first();
      assert.deepEqual(event.actor, { type: 'client', id: admin.clientId });
      assert.notEqual((await new Browser().navigate(link)).status, 200);

      const again = await admin.call('DELETE', `/users/${invited.id}/invitation`);
      assert.equal(again.status, 404);
      assert.equal(again.headers.get('content-type'), PROBLEM);
      assert.equal(again.body.detail, `User ${invited.id} has no pending invitation`);
      const nobody = await admin.call('DELETE', '/users/00000000-0000-0000-0000-000000000000/invitation');
      assert.equal(nobody.status, 404);
    });
  });

  describe('POST /users/{id}/email-change', () => {
    it('sends a link to the new address (202); the old address stays until the link is followed', async () => {
      const user = (
        await admin.call('POST', '/users', {
          body: { email: 'egon@example.com', password: 'copper kite meadow drum', email_verified: true },
        })
      ).body;
      const answer = await admin.call('POST', `/users/${user.id}/email-change`, { body: { email: ' egon@new.example ' } });
      assert.equal(answer.status, 202);
      assert.equal(answer.body.new_email, 'egon@new.example');
      const minutes = (Date.parse(answer.body.expires_at) - Date.now()) / 60_000;
      assert.ok(minutes > 59 && minutes <= 60, String(minutes));
      assert.equal((await admin.call('GET', `/users/${user.id}`)).body.email, 'egon@example.com');
      const event = await database.db('domain_events').where({ type: 'gatehouse.user.email_change_requested', subject: user.id }).first();
      assert.deepEqual(event.actor, { type: 'client', id: admin.clientId });

      const mail = await mailTo('egon@new.example');
      assert.equal(mail.subject, 'Confirm your new email address');
      const link = linkIn(mail.text, '/account/confirm-email-change');
      const browser = new Browser();
      let page = await browser.navigate(link);
      if (page.html.includes('<form')) page = await browser.submit(page, /\/account\/confirm-email-change/, {});
      assert.equal(page.status, 200, page.html);
      const changed = (await admin.call('GET', `/users/${user.id}`)).body;
      assert.equal(changed.email, 'egon@new.example');
      assert.equal(changed.email_verified, true);
    });

    it('refuses an address another account has (409), the same address (409), malformed input (400), an unknown user (404)', async () => {
      const user = (await admin.call('POST', '/users', { body: { email: 'fay@example.com' } })).body;
      assert.equal((await admin.call('POST', '/users', { body: { email: 'gus@example.com' } })).status, 201);
      const before = await counts();
      const taken = await admin.call('POST', `/users/${user.id}/email-change`, { body: { email: 'GUS@example.com' } });
      assert.equal(taken.status, 409);
      assert.equal(taken.body.type, 'urn:gatehouse:problem:conflict');
      assert.equal(taken.body.detail, 'An account with this email already exists');
      const same = await admin.call('POST', `/users/${user.id}/email-change`, { body: { email: 'Fay@Example.com' } });
      assert.equal(same.status, 409);
      assert.equal(same.body.detail, 'This is already the user’s email address');
      const malformed = await admin.call('POST', `/users/${user.id}/email-change`, { body: { email: 'fay@', verified: true } });
      assert.equal(malformed.status, 400);
      assert.deepEqual(
        [...malformed.body.errors].sort((a, b) => a.path.localeCompare(b.path)),
        [
          { path: 'email', message: 'Enter a valid email address' },
          { path: 'verified', message: 'unknown field' },
        ],
      );
      const unknown = await admin.call('POST', '/users/00000000-0000-0000-0000-000000000000/email-change', {
        body: { email: 'nobody@example.com' },
      });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.detail, 'No user 00000000-0000-0000-0000-000000000000');
      assert.deepEqual(await counts(), before);
      const readOnly = await reader.call('POST', `/users/${user.id}/email-change`, { body: { email: 'fay@new.example' } });
      assert.equal(readOnly.status, 403);
    });
  });

  it('answers as the OpenAPI document says (invitation, locked_until, pending email change)', async () => {
    const invited = await admin.call('POST', '/users/invitations', { body: { email: 'kai@example.com', name: 'Kai' } });
    fits('Invitation', invited.body);
    await database
      .db('users')
      .where('id', invited.body.user.id)
      .update({ locked_until: new Date(Date.now() + 60_000) });
    fits('User', (await admin.call('GET', `/users/${invited.body.user.id}`)).body);
    const pending = await admin.call('POST', `/users/${invited.body.user.id}/email-change`, { body: { email: 'kai@new.example' } });
    fits('PendingEmailChange', pending.body);
    assert.deepEqual(Object.keys(doc.paths['/users/invitations'].post.responses).sort(), [
      '201',
      '400',
      '401',
      '403',
      '404',
      '409',
      '415',
      '422',
      '429',
    ]);
    assert.ok(doc.components.schemas.NewUser.properties.password_hash);
  });

  describe('users with an imported password hash, and locked_until', () => {
    it('creates a user with a bcrypt hash from another system; they sign in and the hash is renewed', async () => {
      const password = 'hugo imported this one';
      const hash = await bcrypt.hash(password, 4);
      const created = await admin.call('POST', '/users', {
        body: { email: 'hugo@example.com', password_hash: hash, email_verified: true },
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.has_password, true);
      assert.equal('password_hash' in created.body, false);
      assert.equal((await database.db('users').where('id', created.body.id).first()).password_hash, hash);

      const app = await createClient(database, server.config, { name: 'Shop' });
      const tokens = await signInWithOfflineAccess(
        await discover(server.issuer, app.client_id, app.client_secret),
        'hugo@example.com',
        password,
      );
      assert.ok(tokens.access_token);
      const renewed = (await database.db('users').where('id', created.body.id).first()).password_hash as string;
      assert.match(renewed, /^\$gh1\$\$2b\$04\$/);
    });

    it('refuses a malformed hash, and a hash together with a password (400)', async () => {
      const malformed = await admin.call('POST', '/users', { body: { email: 'ida@example.com', password_hash: '$2b$04$short' } });
      assert.equal(malformed.status, 400);
      assert.deepEqual(malformed.body.errors, [
        {
          path: 'password_hash',
          message: 'Password hash must be $2a$, $2b$ or $2y$, a two-digit cost, $, then 53 characters of ./A-Za-z0-9',
        },
      ]);
      const both = await admin.call('POST', '/users', {
        body: { email: 'ida@example.com', password: 'copper kite meadow drum', password_hash: await bcrypt.hash('x', 4) },
      });
      assert.equal(both.status, 400);
      assert.deepEqual(both.body.errors, [{ path: 'password_hash', message: 'Give a password or a password hash, not both' }]);
      assert.equal(await count('users', { email: 'ida@example.com' }), 0);
    });

    it('shows until when sign-in is locked', async () => {
      const user = (await admin.call('POST', '/users', { body: { email: 'jan@example.com' } })).body;
      assert.equal(user.locked_until, null);
      const until = new Date(Date.now() + 15 * 60_000);
      await database.db('users').where('id', user.id).update({ locked_until: until });
      const read = await admin.call('GET', `/users/${user.id}`);
      assert.equal(read.body.locked_until, until.toISOString());
      assert.notEqual(read.headers.get('etag'), null);
    });
  });
});
