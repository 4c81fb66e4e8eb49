// A real SMTP server on a loopback port (smtp-server) that keeps every message it receives,
// parsed (mailparser) so tests read the subject, recipients, text and HTML. It answers the
// client only once the message is parsed and kept: when a send resolves, the message is here.
// It can stop and start again on the same port, to play a mail server that is down for a while.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

export interface ReceivedMail {
  messageId: string | undefined;
  from: string | undefined;
  to: string[];
  subject: string | undefined;
  text: string;
  html: string;
  headers: Map<string, unknown>;
}

export interface SmtpSink {
  readonly port: number;
  /** smtp://127.0.0.1:<port>, for SMTP_URL. */
  readonly url: string;
  readonly messages: ReceivedMail[];
  /** Addresses the server refuses (550), as a server does for a mailbox it does not have. */
  readonly refused: Set<string>;
  /** Listens (again) on the same port. */
  start(): Promise<void>;
  /** Stops listening: connections to the port are refused until start(). */
  stop(): Promise<void>;
  /** Resolves once `count` messages have arrived in all. */
  received(count: number): Promise<ReceivedMail[]>;
  /**
   * Resolves with the first message (already here or still to come) that `predicate` accepts;
   * rejects after `timeoutMs` naming what did arrive, so a missing mail fails with a reason.
   */
  waitForMail(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
}

/** A mail to `to` (any letter case) whose subject is `subject`. */
export const mailTo =
  (to: string, subject?: string) =>
  (mail: ReceivedMail): boolean =>
    mail.to.some((address) => address.toLowerCase() === to.toLowerCase()) && (subject === undefined || mail.subject === subject);

/** The first link in a mail's text that starts with `prefix`. */
export function linkIn(mail: ReceivedMail, prefix: string): string {
  const found = mail.text.split(/\s+/).find((word) => word.startsWith(prefix));
  if (!found) throw new Error(`No link starting with ${prefix} in:\n${mail.text}`);
  return found;
}

/** The 6-digit code in a mail's text. */
export function codeIn(mail: ReceivedMail): string {
  const found = /\b(\d{6})\b/.exec(mail.text.replace(/https?:\/\/\S+/g, ''));
  if (!found) throw new Error(`No 6-digit code in:\n${mail.text}`);
  return found[1];
}

function addresses(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((a: { value: { address?: string }[] }) => a.value.map((v) => v.address ?? ''));
}

export async function createSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const waiters: { count: number; resolve: (messages: ReceivedMail[]) => void }[] = [];
  const watchers = new Set<(mail: ReceivedMail) => void>();
  const refused = new Set<string>();
  let port = 0;
  let server: SMTPServer | undefined;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const smtp = new SMTPServer({
        authOptional: true,
        // Plain SMTP on loopback: no self-signed STARTTLS for the client to refuse.
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        onRcptTo(address, _session, callback) {
          if (!refused.has(address.address)) return callback();
          callback(Object.assign(new Error(`<${address.address}>: no such mailbox here`), { responseCode: 550 }));
        },
        onData(stream, _session, callback) {
          simpleParser(stream)
            .then((parsed) => {
              messages.push({
                messageId: parsed.messageId,
                from: addresses(parsed.from)[0],
                to: addresses(parsed.to),
                subject: parsed.subject,
                text: parsed.text ?? '',
                html: typeof parsed.html === 'string' ? parsed.html : '',
                headers: parsed.headers,
              });
              callback();
              for (const watch of [...watchers]) watch(messages[messages.length - 1]);
              for (const waiter of waiters.filter((w) => messages.length >= w.count)) {
                waiters.splice(waiters.indexOf(waiter), 1);
                waiter.resolve(messages);
              }
            })
            .catch((error: Error) => callback(error));
        },
      });
      smtp.once('error', reject);
      smtp.listen(port, '127.0.0.1', () => {
        port = (smtp.server.address() as AddressInfo).port;
        server = smtp;
        resolve();
      });
    });

  await listen();
  return {
    get port() {
      return port;
    },
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    messages,
    refused,
    start: () => (server ? Promise.resolve() : listen()),
    received: (count) =>
      messages.length >= count ? Promise.resolve(messages) : new Promise((resolve) => waiters.push({ count, resolve })),
    waitForMail: (predicate, timeoutMs = 15_000) => {
      const already = messages.find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const watch = (mail: ReceivedMail) => {
          if (!predicate(mail)) return;
          watchers.delete(watch);
          clearTimeout(timer);
          resolve(mail);
        };
        const timer = setTimeout(() => {
          watchers.delete(watch);
          const seen = messages.map((m) => `${m.to.join(',')}: ${m.subject}`).join('; ') || 'none';
          reject(new Error(`No matching mail within ${timeoutMs} ms (received: ${seen})`));
        }, timeoutMs);
        watchers.add(watch);
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        const running = server;
        server = undefined;
        if (!running) return resolve();
        running.close(() => resolve());
      }),
  };
}
