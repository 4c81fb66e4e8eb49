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
  /** Listens (again) on the same port. */
  start(): Promise<void>;
  /** Stops listening: connections to the port are refused until start(). */
  stop(): Promise<void>;
  /** Resolves once `count` messages have arrived in all. */
  received(count: number): Promise<ReceivedMail[]>;
}

function addresses(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((a: { value: { address?: string }[] }) => a.value.map((v) => v.address ?? ''));
}

export async function createSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const waiters: { count: number; resolve: (messages: ReceivedMail[]) => void }[] = [];
  let port = 0;
  let server: SMTPServer | undefined;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const smtp = new SMTPServer({
        authOptional: true,
        // Plain SMTP on loopback: no self-signed STARTTLS for the client to refuse.
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
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
    start: () => (server ? Promise.resolve() : listen()),
    received: (count) =>
      messages.length >= count ? Promise.resolve(messages) : new Promise((resolve) => waiters.push({ count, resolve })),
    stop: () =>
      new Promise<void>((resolve) => {
        const running = server;
        server = undefined;
        if (!running) return resolve();
        running.close(() => resolve());
      }),
  };
}
