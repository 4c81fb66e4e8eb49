// The mail queue against a real SMTP server: a mail exists exactly when its transaction
// committed, is sent after the commit, survives the mail server being down and the worker dying,
// is never sent twice at once by two workers, and keeps its links sealed and then drops them.
import { captureLog, type LogCapture } from '../helpers/logCapture.ts';
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { createSmtpSink, type SmtpSink } from '../helpers/smtpSink.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { openDatabase } from '../../src/db/index.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { createMailer, enqueueMail, MailDataError, type Mailer, type MailMessage } from '../../src/mail/index.ts';
import { claimDueMail, MAX_ATTEMPTS, retryDelaySeconds, sweepFinishedMail } from '../../src/mail/queue.ts';
import { createMailTransport } from '../../src/mail/transport.ts';

// The mail module alone: no server here (server.test.ts starts one).
const TEST_SECRET_KEY = 'mail-test-secret-key-0123456789-abcdefghijklmnop';
const LINK = 'https://gatehouse.test/verify?token=tok-5ecret-link-9f8e7d&flow=signup';
const CODE = '482913';
const verify = (to = 'kim@example.com'): MailMessage => ({
  to,
  template: 'verify_email',
  data: { link: LINK, code: CODE, expiresMinutes: 15 },
});

describe('mail queue', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let config: Config;
  const box = createSecretBox(TEST_SECRET_KEY);
  const mailers: Mailer[] = [];
  let log: LogCapture;

  /** A mailer that does not poll (each test says when to look) unless started. */
  const mailer = (options: Partial<Parameters<typeof createMailer>[0]> = {}) => {
    const created = createMailer({ config, database, box, pollIntervalMs: 3_600_000, ...options });
    mailers.push(created);
    return created;
  };
  const rows = () => database.db('mail_queue').orderBy('created_at');
  const queue = (message = verify()) => database.db.transaction((trx) => enqueueMail(trx, box, message));

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
    config = loadConfig({
      NODE_ENV: 'test',
      ISSUER: 'http://gatehouse.test',
      SECRET_KEY: TEST_SECRET_KEY,
      SMTP_URL: sink.url,
      DATA_DIR: '/nonexistent-test-data-dir',
    });
    log = captureLog({ level: 'info' });
  });
  after(async () => {
    log.stop();
    await sink?.stop();
    await database?.dispose();
  });
  beforeEach(async () => {
    await sink.start(); // a test may have left it stopped
    sink.messages.length = 0;
    log.lines.length = 0;
    await database.db('mail_queue').delete();
  });
  afterEach(async () => {
    await Promise.all(mailers.splice(0).map((m) => m.close()));
  });

  it('sends a mail queued in a committed transaction when nudged', async () => {
    const worker = mailer();
    worker.start();
    const id = await database.db.transaction(async (trx) => {
      await trx.raw('select 1'); // the change the mail is about
      return enqueueMail(trx, box, verify());
    });
    worker.nudge();
    const [received] = await sink.received(1);
    assert.equal(received.subject, 'Verify your email address');
    assert.deepEqual(received.to, ['kim@example.com']);
    assert.equal(received.from, 'no-reply@gatehouse.test');
    assert.equal(received.messageId, `<${id}@gatehouse.test>`);
    assert.equal(received.headers.get('auto-submitted'), 'auto-generated');
    assert.ok(received.text.includes(LINK), 'the text holds the link as it is');
    assert.ok(received.text.includes(CODE));
    assert.ok(received.html.includes(`href="${LINK.replace('&', '&amp;')}"`), 'the HTML links to it');
    await worker.close();
    const [row] = await rows();
    assert.ok(row.sent_at, 'marked sent');
    assert.equal(row.payload, null, 'the link does not linger once sent');
    assert.equal(row.attempts, 1);
    assert.equal(row.lease_until, null);
  });

  it('sends nothing for a transaction that rolled back', async () => {
    await assert.rejects(
      database.db.transaction(async (trx) => {
        await enqueueMail(trx, box, verify());
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    assert.equal(await mailer().deliverDue(), 0);
    assert.equal((await rows()).length, 0);
    assert.equal(sink.messages.length, 0);
  });

  it('keeps the template data sealed at rest and drops it after sending', async () => {
    const id = await queue();
    const [stored] = await rows();
    const dump = JSON.stringify(await database.db.raw('select * from mail_queue'));
    assert.ok(!dump.includes(LINK) && !dump.includes('tok-5ecret') && !dump.includes(CODE), 'no link or code in the table');
    assert.match(stored.payload, /^v2\./);
    assert.deepEqual(JSON.parse(box.open(stored.payload, { table: 'mail_queue', rowId: id, purpose: 'payload' })), verify().data);
    assert.throws(() => box.open(stored.payload, { table: 'mail_queue', rowId: 'another-row', purpose: 'payload' }), {
      name: 'SealedSecretError',
      problem: 'not-authentic',
    });
    assert.equal(await mailer().deliverDue(), 1);
    assert.equal((await rows())[0].payload, null);
  });

  it('keeps the mail while the SMTP server is down and sends it once when it is back', async () => {
    await sink.stop();
    const id = await queue();
    const worker = mailer();
    assert.equal(await worker.deliverDue(), 0);

    const [waiting] = await database.db('mail_queue').select('*', database.db.raw('next_attempt_at > now() as later'));
    assert.equal(waiting.attempts, 1);
    assert.equal(waiting.later, true, 'the next try waits (backoff)');
    assert.match(waiting.last_error, /ECONNREFUSED/);
    assert.equal(waiting.sent_at, null);
    assert.equal(waiting.failed_at, null);
    assert.equal(waiting.lease_until, null);
    assert.ok(waiting.payload, 'still queued with its data');
    const warning = log.lines.map((l) => JSON.parse(l)).find((l) => l.message === 'mail not sent, will retry');
    assert.equal(warning?.level, 'warn');
    assert.equal(warning?.mailId, id);
    assert.equal(warning?.template, 'verify_email');
    assert.match(warning?.error, /ECONNREFUSED/);
    assert.ok(!log.lines.join('').includes(LINK) && !log.lines.join('').includes(CODE), 'no link or code in the log');

    await sink.start();
    assert.equal(await worker.deliverDue(), 0, 'not before its time');
    await database.db('mail_queue').update({ next_attempt_at: database.db.fn.now() });
    assert.equal(await worker.deliverDue(), 1);
    assert.equal(await worker.deliverDue(), 0);
    assert.equal(sink.messages.length, 1, 'sent exactly once');
    const [sent] = await rows();
    assert.equal(sent.attempts, 2);
    assert.ok(sent.sent_at);
    assert.equal(sent.last_error, null);
  });

  it('gives up at once on a recipient the server refuses for good, and keeps the address out of the error and the log', async () => {
    sink.refused.add('Gone.User@example.com');
    try {
      await queue(verify('Gone.User@example.com'));
      assert.equal(await mailer().deliverDue(), 0);
      const [row] = await rows();
      assert.equal(row.attempts, 1);
      assert.ok(row.failed_at, 'a 550 to RCPT TO is not retried');
      assert.equal(row.payload, null);
      assert.match(row.last_error, /550 <<recipient>>: no such mailbox here/);
      assert.ok(!log.lines.join('').toLowerCase().includes('gone.user@example.com'), 'not in the log');
      assert.ok(!row.last_error.toLowerCase().includes('gone.user@example.com'), 'not in the row');
    } finally {
      sink.refused.clear();
    }
  });

  it('backs off exponentially up to an hour', () => {
    assert.deepEqual([1, 2, 3, 4, 10, 11, 12].map(retryDelaySeconds), [5, 10, 20, 40, 2560, 3600, 3600]);
  });

  it('gives a mail up after the last attempt, and drops its data', async () => {
    await sink.stop();
    const id = await queue();
    await database.db('mail_queue').update({ attempts: MAX_ATTEMPTS - 1 });
    assert.equal(await mailer().deliverDue(), 0);
    const [row] = await rows();
    assert.equal(row.attempts, MAX_ATTEMPTS);
    assert.ok(row.failed_at);
    assert.equal(row.payload, null);
    assert.match(row.last_error, /ECONNREFUSED/);
    const given = log.lines.map((l) => JSON.parse(l)).find((l) => l.message === 'mail given up');
    assert.equal(given?.mailId, id);
    await sink.start();
    await database.db('mail_queue').update({ next_attempt_at: database.db.fn.now() });
    assert.equal(await mailer().deliverDue(), 0, 'a given-up mail is not tried again');
  });

  it('loses nothing when a worker dies after claiming: the lease lapses and another sends it', async () => {
    await queue();
    const claimed = await claimDueMail(database.db, 10); // a worker that claimed and died
    assert.equal(claimed.length, 1);
    const worker = mailer();
    assert.equal(await worker.deliverDue(), 0, 'held by the lease');
    await database.db('mail_queue').update({ lease_until: database.db.raw("now() - interval '1 second'") });
    assert.equal(await worker.deliverDue(), 1);
    assert.equal(sink.messages.length, 1);
    assert.equal((await rows())[0].attempts, 2);
  });

  it('makes a second send of the same mail the same message (crash after sending, before marking)', async () => {
    const smtp = createMailTransport(config);
    let crashes = 1;
    const worker = mailer({
      transport: {
        description: 'SMTP, then a crash',
        close: () => smtp.close(),
        async send(mail) {
          await smtp.send(mail);
          if (crashes-- > 0) throw new Error('the process died before marking the mail sent');
        },
      },
    });
    const id = await queue();
    assert.equal(await worker.deliverDue(), 0);
    await database.db('mail_queue').update({ next_attempt_at: database.db.fn.now() });
    assert.equal(await worker.deliverDue(), 1);
    assert.equal(sink.messages.length, 2);
    const [first, second] = sink.messages;
    assert.equal(first.messageId, `<${id}@gatehouse.test>`);
    assert.equal(second.messageId, first.messageId, 'one Message-ID: mail systems show one message');
    assert.equal(second.headers.get('date')?.toString(), first.headers.get('date')?.toString());
    assert.equal(second.text, first.text);
  });

  it('refuses data its template does not take, and the transaction with it', async () => {
    await assert.rejects(
      queue({ to: 'kim@example.com', template: 'verify_email', data: { link: 'javascript:alert(1)', code: '12345', expiresMinutes: 15 } }),
      (error: Error) => {
        assert.ok(error instanceof MailDataError);
        assert.equal(error.message, 'Mail verify_email: link must be an http(s) URL; code must be 6 digits');
        return true;
      },
    );
    await assert.rejects(queue({ to: 'kim@example.com', template: 'password_reset', data: { link: LINK, expiresMinutes: 15, extra: 1 } }), {
      name: 'MailDataError',
      message: 'Mail password_reset: data Unrecognized key: "extra"',
    });
    await assert.rejects(queue({ ...verify(), template: 'no_such' as MailMessage['template'] }), {
      name: 'MailDataError',
      message: 'Mail no_such: no such template',
    });
    await assert.rejects(queue(verify('not an address')), {
      name: 'TypeError',
      message: 'Mail verify_email: the recipient is not an email address',
    });
    assert.equal((await rows()).length, 0);
  });

  it('sweeps mail sent or given up more than a week ago', async () => {
    for (let i = 0; i < 4; i += 1) await queue();
    const [old, recent, oldFailed] = (await rows()).map((r) => r.id);
    await database
      .db('mail_queue')
      .where({ id: old })
      .update({ sent_at: database.db.raw("now() - interval '8 days'"), payload: null });
    await database
      .db('mail_queue')
      .where({ id: recent })
      .update({ sent_at: database.db.raw("now() - interval '1 day'"), payload: null });
    await database
      .db('mail_queue')
      .where({ id: oldFailed })
      .update({ failed_at: database.db.raw("now() - interval '8 days'"), payload: null });
    assert.equal(await sweepFinishedMail(database.db), 2);
    assert.equal((await rows()).length, 2, 'the recent one and the unsent one stay');
  });

  // On PostgreSQL the second worker has connections of its own, so claims truly race (SKIP
  // LOCKED decides); on PGlite both share its one connection and the claims take turns, but a
  // worker still sends while the other claims, so the lease alone keeps them apart.
  it('never lets two workers send the same mail', async () => {
    const other = database.url ? await openDatabase({ databaseUrl: database.url, poolMax: 5 }) : database;
    try {
      const count = 30;
      for (let i = 0; i < count; i += 1) await queue(verify(`user${i}@example.com`));
      const a = mailer({ batchSize: 3 });
      const b = mailer({ database: other, batchSize: 3 });
      const drain = async (worker: Mailer) => {
        let total = 0;
        for (;;) {
          const sent = await worker.deliverDue();
          if (sent === 0) return total;
          total += sent;
        }
      };
      const [byA, byB] = await Promise.all([drain(a), drain(b)]);
      assert.equal(byA + byB, count);
      assert.equal(sink.messages.length, count);
      assert.equal(new Set(sink.messages.map((m) => m.messageId)).size, count, 'each mail once');
      assert.equal(Number((await database.db('mail_queue').whereNull('sent_at').count({ n: '*' }).first())?.n), 0);
      await Promise.all(mailers.splice(0).map((m) => m.close()));
    } finally {
      if (other !== database) await other.close();
    }
  });
});
