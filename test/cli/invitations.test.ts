// The CLI's invitations, email changes and imported password hashes, in-process against a test
// database: what each command writes (one user, one sealed mail, one live link), what it prints
// (never the link), and the operator mistakes it must explain. Each test uses addresses of its own.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcrypt';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { loadConfig } from '../../src/config.ts';
import { commandContext, type CommandContext } from '../../src/cli/context.ts';
import { runCommand } from '../../src/cli/run.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';
import { payloadContext } from '../../src/mail/queue.ts';
import { peekToken, verifyPassword } from '../../src/accounts/index.ts';
import { verifyPasswordHash } from '../../src/accounts/passwords/index.ts';

const WRITTEN_TABLES = ['users', 'one_time_tokens', 'mail_queue', 'domain_events', 'audit_events'] as const;

describe('gatehouse CLI: invitations, email changes and imported password hashes', () => {
  let database: TestDatabase;
  let ctx: CommandContext;

  before(async () => {
    database = await createTestDatabase();
    const config = loadConfig({
      NODE_ENV: 'test',
      ISSUER: 'http://gatehouse.test',
      SECRET_KEY: TEST_SECRET_KEY,
      BCRYPT_COST: '4',
      DATA_DIR: '/nonexistent-test-data-dir',
    });
    ctx = commandContext(config, database);
  });

  after(async () => {
    await database?.dispose();
  });

  const run = (...argv: string[]) => runCommand(ctx, argv);
  async function json<T = Record<string, unknown>>(...argv: string[]): Promise<T> {
    const outcome = await run(...argv, '--json');
    assert.equal(outcome.exitCode, 0, `${argv.join(' ')}: ${outcome.stdout}${outcome.stderr}`);
    return JSON.parse(outcome.stdout) as T;
  }
  const count = async (table: string, where: Record<string, unknown> = {}) =>
    Number((await database.db(table).where(where).count({ n: '*' }).first())?.n);
  const counts = async () => Object.fromEntries(await Promise.all(WRITTEN_TABLES.map(async (t) => [t, await count(t)])));
  /** The mails queued to an address, their sealed payloads opened. */
  async function mailsTo(recipient: string) {
    const rows = await database.db('mail_queue').where({ recipient }).orderBy('created_at');
    return rows.map((row) => ({ ...row, data: JSON.parse(ctx.box.open(row.payload, payloadContext(row.id))) }));
  }
  const tokenOf = (link: string) => new URL(link).searchParams.get('token') as string;

  describe('users invite', () => {
    it('makes an unverified user without a password and queues one sealed invitation; the link is only in the mail', async () => {
      const human = await run('users', 'invite', '--email', 'Ines@Example.com', '--name', 'Ines');
      assert.equal(human.exitCode, 0, human.stderr);
      assert.match(human.stdout, /^email: +Ines@Example.com$/m);
      assert.match(human.stdout, /^has_password: +false$/m);
      assert.match(human.stdout, /^expires_at: +\d{4}-\d{2}-\d{2}T/m);

      const user = await database.db('users').where('email', 'Ines@Example.com').first();
      assert.equal(user.email_verified, false);
      assert.equal(user.password_hash, null);
      assert.deepEqual(user.profile, { name: 'Ines' });

      const mails = await mailsTo('Ines@Example.com');
      assert.equal(mails.length, 1);
      assert.equal(mails[0].template, 'invitation');
      assert.equal(mails[0].data.name, 'Ines');
      assert.equal(mails[0].data.expiresDays, 7);
      assert.match(mails[0].data.link, /^http:\/\/gatehouse\.test\/account\/invitation\?token=[\w-]{43}$/);
      const token = tokenOf(mails[0].data.link);
      assert.equal(human.stdout.includes(token), false, 'the link is not printed');
      // A dump holds no usable link: the mail's payload is sealed, the token kept as a digest.
      for (const table of ['mail_queue', 'one_time_tokens', 'domain_events', 'audit_events']) {
        const dump = JSON.stringify(await database.db(table));
        assert.equal(dump.includes(token), false, `${table} holds no token`);
      }
      const link = await peekToken(database.db, 'invitation', token);
      assert.equal(link.ok && link.token.user_id, user.id);

      const tokens = await database.db('one_time_tokens').where({ user_id: user.id, purpose: 'invitation' });
      assert.equal(tokens.length, 1);
      const expiresAt = new Date(tokens[0].expires_at).getTime();
      assert.ok(Math.abs(expiresAt - new Date(tokens[0].created_at).getTime() - 7 * 24 * 3600 * 1000) < 60_000);

      const event = await database.db('domain_events').where({ type: 'gatehouse.user.invited', subject: user.id }).first();
      assert.ok(event, 'a gatehouse.user.invited event');
      const audit = await database.db('audit_events').where({ type: 'user.invited', user_id: user.id }).first();
      assert.equal(audit.details.actor.type, 'cli');
    });

    it('prints the user and expires_at with --json', async () => {
      const invited = await json('users', 'invite', '--email', 'jonas@example.com');
      assert.equal(invited.email, 'jonas@example.com');
      assert.equal(invited.has_password, false);
      assert.equal(invited.email_verified, false);
      assert.equal(invited.password_hash, undefined);
      assert.ok(!Number.isNaN(Date.parse(invited.expires_at as string)));
      assert.equal(JSON.stringify(invited).includes('token'), false);
    });

    it('replaces the link when inviting the same address again: one live invitation token', async () => {
      const first = await json('users', 'invite', '--email', 'kira@example.com');
      const again = await json('users', 'invite', '--email', 'KIRA@example.com');
      assert.equal(again.id, first.id);
      assert.equal(await count('users', { id: first.id }), 1);
      const tokens = await database.db('one_time_tokens').where({ user_id: first.id, purpose: 'invitation' }).orderBy('created_at');
      assert.equal(tokens.length, 2);
      assert.deepEqual(
        tokens.map((t) => t.consumed_at === null),
        [false, true],
      );
      const [oldMail, newMail] = await mailsTo('kira@example.com');
      assert.deepEqual(await peekToken(database.db, 'invitation', tokenOf(oldMail.data.link)), { ok: false, reason: 'replaced' });
      assert.equal((await peekToken(database.db, 'invitation', tokenOf(newMail.data.link))).ok, true);
    });

    it('refuses an address that already has an account with a password, and writes nothing', async () => {
      await json('users', 'create', '--email', 'lena@example.com', '--password', 'copper kite meadow 1');
      const before = await counts();
      const refused = await run('users', 'invite', '--email', 'LENA@example.com');
      assert.equal(refused.exitCode, 1);
      assert.equal(refused.stderr, 'An account with this email already exists\n');
      assert.deepEqual(await counts(), before);
      const asJson = await run('users', 'invite', '--email', 'lena@example.com', '--json');
      assert.deepEqual(JSON.parse(asJson.stdout), { error: 'An account with this email already exists', problems: [] });
    });

    it('refuses to invite a suspended account again, and writes nothing', async () => {
      const invited = await json('users', 'invite', '--email', 'otto@example.com');
      await json('users', 'suspend', String(invited.id));
      const before = await counts();
      const refused = await run('users', 'invite', '--email', 'otto@example.com');
      assert.equal(refused.exitCode, 1);
      assert.equal(refused.stderr, 'This account is suspended: unsuspend it before inviting again\n');
      assert.deepEqual(await counts(), before);
    });

    it('refuses an address whose account is verified, even without a password', async () => {
      await json('users', 'invite', '--email', 'mona@example.com');
      await database.db('users').where('email', 'mona@example.com').update({ email_verified: true });
      const before = await counts();
      const refused = await run('users', 'invite', '--email', 'mona@example.com');
      assert.equal(refused.stderr, 'An account with this email already exists\n');
      assert.deepEqual(await counts(), before);
    });

    it('names the client the invitee lands on, and refuses an unknown one', async () => {
      const app = await json('clients', 'create', '--name', 'Team Wiki', '--redirect-uri', 'https://wiki.example/cb');
      const invited = await json('users', 'invite', '--email', 'nils@example.com', '--client', app.client_id as string);
      const [mail] = await mailsTo('nils@example.com');
      assert.equal(mail.data.clientName, 'Team Wiki');
      const [token] = await database.db('one_time_tokens').where({ user_id: invited.id, purpose: 'invitation' });
      assert.deepEqual(token.data, { client_id: app.client_id });

      const before = await counts();
      const unknown = await run('users', 'invite', '--email', 'olga@example.com', '--client', 'no-such-client');
      assert.equal(unknown.exitCode, 1);
      assert.equal(unknown.stderr, 'No client no-such-client\n');
      assert.deepEqual(await counts(), before);
    });

    it('explains a missing or malformed address', async () => {
      assert.equal((await run('users', 'invite')).stderr, '--email is required\n');
      const bad = await run('users', 'invite', '--email', 'not-an-email', '--json');
      assert.deepEqual(JSON.parse(bad.stdout), { error: 'Invalid input', problems: ['email: Enter a valid email address'] });
    });
  });

  describe('users revoke-invitation', () => {
    it('uses up the pending invitation, by email or id; a second time there is none', async () => {
      const invited = await json('users', 'invite', '--email', 'pia@example.com');
      const [mail] = await mailsTo('pia@example.com');
      assert.deepEqual(await json('users', 'revoke-invitation', 'PIA@example.com'), { revoked_invitation: invited.id });
      const [token] = await database.db('one_time_tokens').where({ user_id: invited.id, purpose: 'invitation' });
      assert.notEqual(token.consumed_at, null);
      assert.deepEqual(await peekToken(database.db, 'invitation', tokenOf(mail.data.link)), { ok: false, reason: 'revoked' });
      assert.ok(await database.db('domain_events').where({ type: 'gatehouse.user.invitation_revoked', subject: invited.id }).first());

      const again = await run('users', 'revoke-invitation', invited.id as string);
      assert.equal(again.exitCode, 1);
      assert.equal(again.stderr, `User ${invited.id} has no pending invitation\n`);
      const nobody = await run('users', 'revoke-invitation', 'nobody@example.com');
      assert.equal(nobody.stderr, 'No user nobody@example.com\n');
    });
  });

  describe('users change-email', () => {
    it('sends a confirmation link to the new address and keeps the old one until it is followed', async () => {
      const user = await json('users', 'create', '--email', 'quinn@example.com', '--password', 'copper kite meadow 1', '--email-verified');
      const pending = await json('users', 'change-email', 'quinn@example.com', '--email', 'quinn@new.example');
      assert.equal(pending.id, user.id);
      assert.equal(pending.email, 'quinn@example.com');
      assert.equal(pending.new_email, 'quinn@new.example');
      assert.ok(!Number.isNaN(Date.parse(pending.expires_at as string)));

      const row = await database
        .db('users')
        .where('id', user.id as string)
        .first();
      assert.equal(row.email, 'quinn@example.com');
      assert.equal(row.email_verified, true);
      const [mail] = await mailsTo('quinn@new.example');
      assert.equal(mail.template, 'email_change_confirm');
      assert.equal(mail.data.newEmail, 'quinn@new.example');
      assert.equal(JSON.stringify(pending).includes(tokenOf(mail.data.link)), false);
      assert.equal((await mailsTo('quinn@example.com')).length, 0);
      const [token] = await database.db('one_time_tokens').where({ user_id: user.id, purpose: 'email_change' });
      assert.deepEqual(token.data, { new_email: 'quinn@new.example' });
      assert.ok(await database.db('domain_events').where({ type: 'gatehouse.user.email_change_requested', subject: user.id }).first());
    });

    it('refuses an address taken by another account, the same address, a malformed one, and an unknown user', async () => {
      await json('users', 'create', '--email', 'rosa@example.com', '--password', 'copper kite meadow 1');
      await json('users', 'create', '--email', 'sam@example.com', '--password', 'copper kite meadow 1');
      const before = await counts();
      const taken = await run('users', 'change-email', 'rosa@example.com', '--email', 'SAM@example.com');
      assert.equal(taken.exitCode, 1);
      assert.equal(taken.stderr, 'An account with this email already exists\n');
      const same = await run('users', 'change-email', 'rosa@example.com', '--email', 'Rosa@Example.com');
      assert.equal(same.stderr, 'This is already the user’s email address\n');
      const malformed = await run('users', 'change-email', 'rosa@example.com', '--email', 'rosa@', '--json');
      assert.deepEqual(JSON.parse(malformed.stdout), { error: 'Invalid input', problems: ['email: Enter a valid email address'] });
      assert.equal((await run('users', 'change-email', 'rosa@example.com')).stderr, '--email is required\n');
      const unknown = await run('users', 'change-email', 'ghost@example.com', '--email', 'ghost@new.example');
      assert.equal(unknown.stderr, 'No user ghost@example.com\n');
      assert.deepEqual(await counts(), before);
    });
  });

  describe('users create --password-hash', () => {
    it('imports a bcrypt hash as it is; its password signs in', async () => {
      const password = 'imported password 1';
      const hash = await bcrypt.hash(password, 4);
      assert.match(hash, /^\$2b\$04\$/);
      const user = await json('users', 'create', '--email', 'tara@example.com', '--password-hash', hash, '--email-verified');
      assert.equal(user.has_password, true);
      assert.equal(user.password_hash, undefined);
      const row = await database
        .db('users')
        .where('id', user.id as string)
        .first();
      assert.equal(row.password_hash, hash);
      assert.equal((await verifyPassword(database.db, 'tara@example.com', password, 4))?.id, user.id);
      assert.equal(await verifyPassword(database.db, 'tara@example.com', 'not the password', 4), undefined);
    });

    it("imports PHP's $2y$ and the older $2a$ variants", async () => {
      const password = 'php made this one';
      const hash = (await bcrypt.hash(password, 4)).slice(4);
      for (const variant of ['$2y$', '$2a$']) {
        const email = `${variant.slice(1, 3)}@example.com`;
        await json('users', 'create', '--email', email, '--password-hash', variant + hash);
        assert.ok(await verifyPassword(database.db, email, password, 4), variant);
      }
      assert.equal(await verifyPasswordHash('wrong', `$2y$${hash}`), false);
    });

    it('refuses a malformed hash with its exact reason, and writes nothing', async () => {
      const before = await counts();
      const cases: [string, string][] = [
        ['5f4dcc3b5aa765d61d8327deb882cf99', 'Password hash must be a bcrypt hash starting with $2a$, $2b$ or $2y$'],
        [
          '$gh1$$2b$04$abcdefghijklmnopqrstuvwxyz0123456789./ABCDEFGHIJKLMNOPQ',
          'Password hash must be a bcrypt hash starting with $2a$, $2b$ or $2y$',
        ],
        ['$2b$04$too-short', 'Password hash must be $2a$, $2b$ or $2y$, a two-digit cost, $, then 53 characters of ./A-Za-z0-9'],
        [`$2b$03$${'a'.repeat(53)}`, 'Password hash cost must be between 4 and 31'],
        [`$2b$32$${'a'.repeat(53)}`, 'Password hash cost must be between 4 and 31'],
      ];
      for (const [hash, reason] of cases) {
        const outcome = await run('users', 'create', '--email', 'uma@example.com', '--password-hash', hash, '--json');
        assert.equal(outcome.exitCode, 1, hash);
        assert.deepEqual(JSON.parse(outcome.stdout), { error: 'Invalid input', problems: [`password_hash: ${reason}`] }, hash);
      }
      const human = await run('users', 'create', '--email', 'uma@example.com', '--password-hash', 'md5:abc');
      assert.equal(
        human.stderr,
        'Invalid input\n  - password_hash: Password hash must be a bcrypt hash starting with $2a$, $2b$ or $2y$\n',
      );
      assert.deepEqual(await counts(), before);
    });

    it('refuses a hash together with a password, and asks for one of the three', async () => {
      const hash = await bcrypt.hash('whatever password', 4);
      const both = await run(
        'users',
        'create',
        '--email',
        'vera@example.com',
        '--password',
        'copper kite meadow 1',
        '--password-hash',
        hash,
      );
      assert.equal(both.stderr, '--password-hash cannot be combined with --password or --password-stdin\n');
      const withStdin = await runCommand(
        ctx,
        ['users', 'create', '--email', 'vera@example.com', '--password-stdin', '--password-hash', hash],
        'vera-password-1\n',
      );
      assert.equal(withStdin.stderr, '--password-hash cannot be combined with --password or --password-stdin\n');
      const neither = await run('users', 'create', '--email', 'vera@example.com');
      assert.equal(neither.stderr, '--password, --password-stdin or --password-hash is required\n');
      assert.equal(await count('users', { email: 'vera@example.com' }), 0);
    });
  });
});
