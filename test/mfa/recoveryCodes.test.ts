// Recovery codes on the database: ten distinct codes shown once and stored only as keyed
// digests bound to their user, each used once even by 8 parallel requests (only the real
// PostgreSQL server runs them truly in parallel; PGlite serialises them), a new set voiding the
// old, what is typed read forgivingly, and a use telling the owner by email, queued in the same
// transaction and delivered to a real SMTP server.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../../src/accounts/index.ts';
import type { ServiceContext } from '../../src/changes/index.ts';
import { loadConfig } from '../../src/config.ts';
import { createMailer } from '../../src/mail/index.ts';
import { payloadContext } from '../../src/mail/queue.ts';
import { generateRecoveryCodes, recoveryCodesStatus, useRecoveryCode } from '../../src/mfa/recoveryCodes.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { operator } from '../helpers/fixtures.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';
import { createSmtpSink, mailTo, type SmtpSink } from '../helpers/smtpSink.ts';

const ISSUER = 'http://gatehouse.test';
const OTHER_KEY = 'another-secret-key-of-the-recovery-code-tests-0123';
const box = createSecretBox(TEST_SECRET_KEY);
const FORMAT = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{2}$/;

describe('recovery codes', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let userId: string;
  let ctx: ServiceContext;
  let wakeUps: number;
  const deps = { box, issuer: ISSUER, mailQueued: () => wakeUps++ };

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
  });
  after(async () => {
    await sink?.stop();
    await database?.dispose();
  });
  beforeEach(async () => {
    await truncateAll(database);
    sink.messages.length = 0;
    wakeUps = 0;
    userId = (await createUser(operator(database), { email: 'tess@example.com' }, 4)).id;
    ctx = { db: database.db, actor: { type: 'user', id: userId }, source: ISSUER, ip: '203.0.113.7', requestId: 'req-1' };
  });

  const generate = () => generateRecoveryCodes(ctx, deps, userId);
  const use = (code: unknown, as = ctx, withDeps = deps) => useRecoveryCode(as, withDeps, as.actor.id as string, code);
  const rows = () => database.db('recovery_codes').orderBy('id');
  const auditOf = (type: string) => database.db('audit_events').where('type', type).orderBy('id');
  const eventsOf = (type: string) => database.db('domain_events').where('type', `gatehouse.${type}`).orderBy('seq');
  const queuedMail = () => database.db('mail_queue').orderBy('created_at');
  const count = async (table: string) => Number((await database.db(table).count({ n: '*' }).first())?.n);

  it('makes ten distinct codes of 50 bits, shown as xxxx-xxxx-xx', async () => {
    const codes = await generate();
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) assert.match(code, FORMAT);
    const status = await recoveryCodesStatus(database.db, userId);
    assert.equal(status.remaining, 10);
    assert.ok(status.generatedAt instanceof Date);
    assert.deepEqual(
      (await eventsOf('user.recovery_codes_generated')).map((e) => e.data),
      [{ count: 10 }],
    );
    assert.deepEqual(await recoveryCodesStatus(database.db, 'no-such-user'), { remaining: 0 });
  });

  it('stores only keyed digests, named by the key that made them', async () => {
    const codes = await generate();
    const stored = await rows();
    assert.equal(stored.length, 10);
    const dump = JSON.stringify(stored).toLowerCase();
    for (const code of codes) {
      assert.equal(dump.includes(code), false);
      assert.equal(dump.includes(code.replaceAll('-', '')), false);
    }
    for (const row of stored) {
      assert.match(row.digest, new RegExp(`^${box.currentKeyId}\\.[\\w-]{43}$`));
      assert.equal(row.used_at, null);
    }
    const events = JSON.stringify(await database.db('domain_events').select()) + JSON.stringify(await database.db('audit_events').select());
    for (const code of codes) assert.equal(events.toLowerCase().includes(code.replaceAll('-', '')), false, 'no code in events or audit');
  });

  it('accepts a code once, tells the owner by email in the same transaction, and audits how many remain', async () => {
    const [code] = await generate();
    assert.equal(await use(code), true);
    assert.equal(await use(code), false, 'the same code again');
    assert.equal((await recoveryCodesStatus(database.db, userId)).remaining, 9);
    assert.equal((await rows()).filter((r) => r.used_at).length, 1);

    const [audited] = await auditOf('user.recovery_code_used');
    assert.equal(audited.user_id, userId);
    assert.deepEqual(audited.details, { remaining: 9, actor: { type: 'user', id: userId } });
    assert.deepEqual(
      (await eventsOf('user.recovery_code_used')).map((e) => e.data),
      [{ remaining: 9 }],
    );
    assert.deepEqual(
      (await auditOf('mfa.recovery_code_failed')).map((a) => [a.user_id, a.ip, a.details]),
      [[userId, '203.0.113.7', { actor: { type: 'user', id: userId } }]],
    );
    assert.equal((await eventsOf('mfa.recovery_code_failed')).length, 0, 'a refusal changes nothing: no event');

    const [mail] = await queuedMail();
    assert.equal(mail.template, 'recovery_code_used');
    assert.equal(mail.recipient, 'tess@example.com');
    assert.deepEqual(JSON.parse(box.open(mail.payload, payloadContext(mail.id))), {
      remaining: 9,
      resetLink: `${ISSUER}/account/forgot-password`,
    });
    assert.equal(wakeUps, 1, 'the sender is woken once, after the commit');

    const config = loadConfig({
      NODE_ENV: 'test',
      ISSUER,
      SECRET_KEY: TEST_SECRET_KEY,
      SMTP_URL: sink.url,
      DATA_DIR: '/nonexistent-test-data-dir',
    });
    const mailer = createMailer({ config, database, box, pollIntervalMs: 3_600_000 });
    try {
      assert.equal(await mailer.deliverDue(), 1);
    } finally {
      await mailer.close();
    }
    const received = await sink.waitForMail(mailTo('tess@example.com', 'A recovery code was used to sign in to your account'));
    assert.match(received.text, /You have 9 recovery codes left\./);
    assert.match(received.text, /If it was not you, .*Reset your password now/);
    assert.ok(received.text.includes(`${ISSUER}/account/forgot-password`));
  });

  it('queues no mail and uses no code when the change around it rolls back', async () => {
    const [code] = await generate();
    await assert.rejects(
      database.db.transaction(async (trx) => {
        assert.equal(await use(code, { ...ctx, db: trx }), true);
        throw new Error('the sign-in around it failed');
      }),
      /the sign-in around it failed/,
    );
    assert.equal(await count('mail_queue'), 0);
    assert.equal(wakeUps, 0, 'nothing to send');
    assert.equal((await auditOf('user.recovery_code_used')).length, 0);
    assert.equal(await use(code), true, 'the code is still unused');
  });

  it('lets exactly one of 8 parallel uses of one code through', async () => {
    const [code] = await generate();
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => use(code)));
    assert.equal(outcomes.filter(Boolean).length, 1);
    assert.equal((await recoveryCodesStatus(database.db, userId)).remaining, 9);
    assert.equal(await count('mail_queue'), 1);
    assert.equal((await auditOf('user.recovery_code_used')).length, 1);
    assert.equal((await auditOf('mfa.recovery_code_failed')).length, 7);
  });

  it('voids the old set when a new one is made', async () => {
    const old = await generate();
    const fresh = await generate();
    assert.equal((await rows()).length, 10);
    for (const code of old) assert.equal(fresh.includes(code), false);
    assert.equal(await use(old[0]), false);
    assert.equal(await use(fresh[0]), true);
    assert.equal((await recoveryCodesStatus(database.db, userId)).remaining, 9);
  });

  it('leaves exactly one valid set when new sets are made in parallel', async () => {
    const sets = await Promise.all(Array.from({ length: 4 }, () => generate()));
    assert.equal((await rows()).length, 10);
    const valid = [];
    for (const set of sets) valid.push(await use(set[0]));
    assert.equal(valid.filter(Boolean).length, 1);
  });

  it('reads what is typed in either case, with or without dashes and spaces, o as 0 and i or l as 1', async () => {
    // A set with a 0 or a 1 in one of its codes, to type it as a letter.
    let codes = await generate();
    for (let i = 0; i < 5 && !codes.some((c) => /[01]/.test(c)); i++) codes = await generate();
    const lookalike = codes.find((c) => /[01]/.test(c)) as string;
    const others = codes.filter((c) => c !== lookalike);
    assert.equal(await use(others[0].toUpperCase()), true, 'upper case');
    assert.equal(await use(others[1].replaceAll('-', '')), true, 'without dashes');
    assert.equal(await use(` ${others[2].replaceAll('-', ' ')} `), true, 'with spaces');
    assert.equal(await use(lookalike.replaceAll('0', 'O').replaceAll('1', 'l')), true, 'letters for look-alike digits');
    assert.equal(await use(lookalike), false, 'the same code, typed as shown');
  });

  it('refuses malformed input without a look at the table', async () => {
    const [code] = await generate();
    const before = await rows();
    const audits = await count('audit_events');
    const malformed: unknown[] = [
      '',
      code.slice(0, -1),
      `${code}a`,
      code.replace(/[a-z0-9]$/, 'u'), // u is not in the alphabet
      `${'-'.repeat(60)}${code}`, // longer than anyone types
      Number.NaN,
      undefined,
      [code],
    ];
    for (const input of malformed) assert.equal(await use(input), false, JSON.stringify(input));
    assert.deepEqual(await rows(), before);
    assert.equal(await count('audit_events'), audits, 'nothing audited');
    assert.equal(await use(code), true);
  });

  it("refuses another user's code, even with its digest moved to that user", async () => {
    const [code, second] = await generate();
    const mallory = (await createUser(operator(database), { email: 'mallory@example.com' }, 4)).id;
    const asMallory: ServiceContext = { ...ctx, actor: { type: 'user', id: mallory } };
    await generateRecoveryCodes(asMallory, deps, mallory);
    assert.equal(await use(code, asMallory), false);
    // Every digest of the owner's moved over (so the moved rows surely include those of `code`
    // and `second`), then moved back.
    const owners = (await rows()).filter((r) => r.user_id === userId).map((r) => r.digest);
    await database.db('recovery_codes').whereIn('digest', owners).update({ user_id: mallory });
    for (const typed of [code, second]) assert.equal(await use(typed, asMallory), false);
    await database.db('recovery_codes').whereIn('digest', owners).update({ user_id: userId });
    assert.equal(await use(second), true, "the owner's codes are unharmed");
  });

  it('accepts codes made under SECRET_KEY_PREVIOUS during a rotation, and not once it is removed', async () => {
    const codes = await generate();
    const rotating = { ...deps, box: createSecretBox(OTHER_KEY, [TEST_SECRET_KEY]) };
    const rotated = { ...deps, box: createSecretBox(OTHER_KEY) };
    assert.equal(await use(codes[0], ctx, rotating), true);
    assert.equal(await use(codes[1], ctx, rotated), false);
    assert.equal(await use(codes[1], ctx, deps), true);
  });

  it('refuses to make codes for a user that does not exist', async () => {
    await assert.rejects(generateRecoveryCodes(ctx, deps, 'no-such-user'), { name: 'NotFoundError', message: 'No user no-such-user' });
    assert.equal(await count('recovery_codes'), 0);
  });
});
