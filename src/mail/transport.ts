// Where mail goes: the SMTP server of SMTP_URL, or, without one, a file per message in
// DATA_DIR/outbox that a newcomer opens in a mail program (and clicks the link in). nodemailer
// builds the message either way, so the file holds exactly what a server would have received.
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../config.ts';
import { logger } from '../http/logger.ts';
import type { RenderedMail } from './templates.ts';

export interface OutgoingMail extends RenderedMail {
  id: string;
  template: string;
  from: string;
  to: string;
  /** `<id@issuer host>`: the same on every try, so a mail sent twice is one message to its reader. */
  messageId: string;
  /** When the mail was queued (also the same on every try). */
  date: Date;
}

export interface MailTransport {
  /** What the start-up log line says about where mail goes (no credentials). */
  readonly description: string;
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

// nodemailer waits up to two minutes to connect and ten for an idle socket by default; a send
// must end well within the lease that keeps other workers off the row (queue.ts). A query
// string in SMTP_URL (?connectionTimeout=…) still overrides these.
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

export function createMailTransport(config: Config): MailTransport {
  return config.smtpUrl ? smtpTransport(config.smtpUrl) : outboxTransport(join(config.dataDir, 'outbox'));
}

const message = (mail: OutgoingMail) => ({
  from: mail.from,
  to: mail.to,
  subject: mail.subject,
  text: mail.text,
  html: mail.html,
  messageId: mail.messageId,
  date: mail.date,
  // RFC 3834: no vacation replies to a machine's mail.
  headers: { 'Auto-Submitted': 'auto-generated' },
});

function smtpTransport(url: string): MailTransport {
  const transport = nodemailer.createTransport({ url, ...SMTP_TIMEOUTS });
  return {
    description: `SMTP server ${new URL(url).host}`,
    async send(mail) {
      await transport.sendMail(message(mail));
      logger.info('mail sent', { mailId: mail.id, template: mail.template });
    },
    close: () => transport.close(),
  };
}

function outboxTransport(dir: string): MailTransport {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  let ready: Promise<void> | undefined;
  // DATA_DIR may not exist yet (on a PostgreSQL server with SECRET_KEY set nothing else makes it).
  const prepare = async () => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  };
  return {
    description: `files in ${dir} (SMTP_URL is not set)`,
    async send(mail) {
      ready ??= prepare().catch((error) => {
        ready = undefined;
        throw error;
      });
      await ready;
      const { message: raw } = await transport.sendMail(message(mail));
      // Named by when the mail was queued and its id, so a second try writes the same file again.
      const name = `${mail.date.toISOString().replaceAll(':', '-')}-${mail.template}-${mail.id}.eml`;
      const file = join(dir, name);
      const draft = join(dir, `.${name}.${process.pid}.tmp`);
      try {
        await writeFile(draft, raw as Buffer, { mode: 0o600 });
        await rename(draft, file);
      } catch (error) {
        await rm(draft, { force: true });
        throw error;
      }
      // Where to look, never what it says: the file holds the link or code, the log does not.
      logger.info('mail written', { file, mailId: mail.id, template: mail.template });
    },
    close: () => transport.close(),
  };
}
