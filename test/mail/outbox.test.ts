// Without SMTP_URL every mail is a file in DATA_DIR/outbox that a mail program opens (and whose
// link a newcomer clicks); the log says where the file is and never what it says.
import { captureLog, type LogCapture } from '../helpers/logCapture.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { createMailer, enqueueMail } from '../../src/mail/index.ts';

// The mail module alone: no server here (server.test.ts starts one).
const TEST_SECRET_KEY = 'mail-test-secret-key-0123456789-abcdefghijklmnop';
const LINK = 'https://gatehouse.test/reset?token=outbox-5ecret-link-0a1b2c';

describe('mail outbox (no SMTP_URL)', () => {
  let database: TestDatabase;
  let dataDir: string;
  let config: Config;
  const box = createSecretBox(TEST_SECRET_KEY);
  let log: LogCapture;

  before(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-outbox-'));
    config = loadConfig({
      NODE_ENV: 'test',
      ISSUER: 'http://gatehouse.test',
      SECRET_KEY: TEST_SECRET_KEY,
      DATA_DIR: join(dataDir, 'data'),
    });
    log = captureLog({ level: 'info' });
  });
  after(async () => {
    log.stop();
    await database?.dispose();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes a readable .eml with the link, private to its owner, and logs only where it is', async () => {
    const mailer = createMailer({ config, database, box, pollIntervalMs: 3_600_000 });
    const id = await database.db.transaction((trx) =>
      enqueueMail(trx, box, { to: 'sam@example.com', template: 'password_reset', data: { link: LINK, expiresMinutes: 30 } }),
    );
    assert.equal(await mailer.deliverDue(), 1);

    const outbox = join(config.dataDir, 'outbox');
    const files = await readdir(outbox);
    assert.equal(files.length, 1);
    assert.match(files[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}Z-password_reset-${id}\\.eml$`));
    const file = join(outbox, files[0]);
    assert.equal((await stat(outbox)).mode & 0o777, 0o700);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const parsed = await simpleParser(await readFile(file));
    assert.equal(parsed.subject, 'Reset your password');
    assert.equal(parsed.messageId, `<${id}@gatehouse.test>`);
    assert.ok(parsed.text?.includes(LINK));
    assert.ok(typeof parsed.html === 'string' && parsed.html.includes(`href="${LINK}"`));

    const written = log.lines.map((l) => JSON.parse(l)).find((l) => l.message === 'mail written');
    assert.deepEqual(
      { file: written?.file, mailId: written?.mailId, template: written?.template, level: written?.level },
      { file, mailId: id, template: 'password_reset', level: 'info' },
    );
    const logged = log.lines.join('');
    assert.ok(!logged.includes(LINK) && !logged.includes('outbox-5ecret'), 'the log does not hold the link');
    assert.ok(!logged.includes('sam@example.com'), 'nor the recipient');

    // A second send of the same mail (a crash before it was marked sent) writes the same file.
    await database.db('mail_queue').update({
      sent_at: null,
      payload: box.seal(JSON.stringify({ link: LINK, expiresMinutes: 30 }), { table: 'mail_queue', rowId: id, purpose: 'payload' }),
    });
    assert.equal(await mailer.deliverDue(), 1);
    assert.deepEqual(await readdir(outbox), files);
    await mailer.close();
  });
});
