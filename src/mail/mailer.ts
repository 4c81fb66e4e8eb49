// The worker that sends queued mail (queue.ts): it looks for due mail every few seconds, and at
// once when nudged (a caller nudges after the transaction that queued a mail commits). One pass
// at a time per mailer; several mailers (instances) share the queue through the claim's lease.
import type { Config } from '../config.ts';
import type { Database } from '../db/index.ts';
import type { SecretBox } from '../secrets/secretBox.ts';
import { logger } from '../http/logger.ts';
import { claimDueMail, markAttemptFailed, markSent, payloadContext, type QueuedMail } from './queue.ts';
import { renderMail } from './templates.ts';
import { createMailTransport, type MailTransport } from './transport.ts';

export interface Mailer {
  /** Starts looking for due mail every few seconds (and at once). */
  start(): void;
  /** Looks for due mail now: call it after the transaction that queued a mail has committed. */
  nudge(): void;
  /** One pass over the due mail, after any pass under way; resolves to how many were sent. */
  deliverDue(): Promise<number>;
  /** Stops looking and waits for the pass under way. */
  close(): Promise<void>;
}

export interface MailerOptions {
  config: Config;
  database: Database;
  box: SecretBox;
  pollIntervalMs?: number;
  /** Rows claimed (and sent side by side) per statement. */
  batchSize?: number;
  /** For tests: where mail goes instead of the one the configuration names. */
  transport?: MailTransport;
}

// A server's refusal may quote the address ("550 <kim@example.com>: no such user"); the row and
// the log keep the reason without it.
function withoutAddress(reason: string, address: string): string {
  return reason.replace(new RegExp(address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '<recipient>');
}

interface Failure {
  reason: string;
  /** Trying again cannot help. */
  permanent: boolean;
}

// The receiving server refused this recipient for good (RFC 5321 §4.2.1: a 5yz reply to RCPT
// TO, such as 550 "no such mailbox"). Other 5yz replies (a refused login, a refused sender) are
// the operator's to fix, and the mail waits for that.
function refusedForGood(error: unknown): boolean {
  const { responseCode, command } = error as { responseCode?: number; command?: string };
  return typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600 && command === 'RCPT TO';
}

const POLL_INTERVAL_MS = 5_000;
const BATCH_SIZE = 10;

export function createMailer({
  config,
  database,
  box,
  pollIntervalMs = POLL_INTERVAL_MS,
  batchSize = BATCH_SIZE,
  transport = createMailTransport(config),
}: MailerOptions): Mailer {
  const { db } = database;
  const host = new URL(config.issuer).hostname;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Passes run one after another; `waiting` is the next one while it has not started, which
  // every caller until then shares (it will see everything they committed before asking).
  let chain: Promise<unknown> = Promise.resolve();
  let waiting: Promise<number> | undefined;

  /** Renders and sends one claimed mail; returns why it was not sent, if it was not. */
  async function send(mail: QueuedMail): Promise<Failure | undefined> {
    try {
      if (mail.payload === null) return { reason: 'the mail has no payload', permanent: true };
      let data: unknown;
      try {
        data = JSON.parse(box.open(mail.payload, payloadContext(mail.id)));
      } catch (error) {
        // JSON.parse quotes the text it fails on; the payload must not reach the log.
        return { reason: error instanceof SyntaxError ? 'the payload is not JSON' : (error as Error).message, permanent: false };
      }
      const rendered = await renderMail(mail.template, data);
      await transport.send({
        ...rendered,
        id: mail.id,
        template: mail.template,
        from: config.mailFrom,
        to: mail.recipient,
        messageId: `<${mail.id}@${host}>`,
        date: new Date(mail.created_at),
      });
      return undefined;
    } catch (error) {
      return { reason: (error as Error).message, permanent: refusedForGood(error) };
    }
  }

  async function deliver(mail: QueuedMail): Promise<boolean> {
    const failed = await send(mail);
    if (failed === undefined) {
      await markSent(db, mail.id);
      return true;
    }
    const failure = withoutAddress(failed.reason, mail.recipient);
    const givenUp = await markAttemptFailed(db, mail, failure, failed.permanent);
    logger.warn(givenUp ? 'mail given up' : 'mail not sent, will retry', {
      mailId: mail.id,
      template: mail.template,
      attempts: mail.attempts,
      error: failure,
    });
    return false;
  }

  async function pass(): Promise<number> {
    waiting = undefined;
    if (closed) return 0;
    let sent = 0;
    for (;;) {
      const claimed = await claimDueMail(db, batchSize);
      const results = await Promise.allSettled(claimed.map(deliver));
      for (const result of results) {
        // The database failed while recording an outcome: the lease lapses and the mail is
        // tried again later (a second send of a sent mail is harmless, see queue.ts).
        if (result.status === 'rejected') throw result.reason;
        if (result.value) sent += 1;
      }
      if (claimed.length < batchSize || closed) return sent;
    }
  }

  function deliverDue(): Promise<number> {
    if (closed) return Promise.resolve(0);
    if (waiting) return waiting;
    const next = chain.then(pass);
    waiting = next;
    chain = next.catch(() => {});
    return next;
  }

  function nudge(): void {
    deliverDue().catch((error: Error) => logger.warn('mail queue unavailable', { error: error.message }));
  }

  return {
    start() {
      if (timer || closed) return;
      logger.info('mail delivery', { destination: transport.description });
      timer = setInterval(nudge, pollIntervalMs);
      timer.unref();
      nudge();
    },
    nudge,
    deliverDue,
    async close() {
      closed = true;
      clearInterval(timer);
      await chain;
      transport.close();
    },
  };
}
