// The mailer inside the server: mail queued while no server ran (the last one died after the
// commit, before sending) goes out as soon as a server starts, and the mailer stops with it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { createSmtpSink, type SmtpSink } from '../helpers/smtpSink.ts';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { enqueueMail } from '../../src/mail/index.ts';

describe('mail in the server', () => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let server: TestServer | undefined;

  before(async () => {
    database = await createTestDatabase();
    sink = await createSmtpSink();
  });
  after(async () => {
    await server?.close();
    await sink?.stop();
    await database?.dispose();
  });

  it('sends mail left in the queue as soon as it starts', async () => {
    const box = createSecretBox(TEST_SECRET_KEY);
    const id = await database.db.transaction((trx) =>
      enqueueMail(trx, box, {
        to: 'ada@example.com',
        template: 'invitation',
        data: { link: 'https://gatehouse.test/invite?t=1', expiresDays: 7, name: 'Ada' },
      }),
    );
    server = await startTestServer(database, { SMTP_URL: sink.url, MAIL_FROM: 'Example Sign-in <accounts@example.com>' });
    const [received] = await sink.received(1);
    assert.equal(received.subject, 'You are invited to create an account');
    assert.equal(received.from, 'accounts@example.com');
    assert.equal(received.messageId, `<${id}@localhost>`);
    await server.close();
    server = undefined;
    const [row] = await database.db('mail_queue');
    assert.ok(row.sent_at, 'marked sent before the server closed');
  });
});
