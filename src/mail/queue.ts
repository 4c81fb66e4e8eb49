// The mail queue in the database (table mail_queue). A mail is queued in the transaction of the
// change that calls for it, so it exists exactly when that change committed, and is sent after
// the commit by a worker (mailer.ts); the account's state never waits on a mail server.
//
// A worker claims due rows with a lease: the claim marks them taken until lease_until (and
// counts the attempt) in one statement that skips rows another worker is claiming, so two
// workers never send the same row at once. A worker that dies mid-send leaves its rows to be
// claimed again when the lease lapses; if it had already sent, the mail goes out twice under
// the same Message-ID, which mail systems treat as one message.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.ts';
import type { SealedColumn } from '../secrets/sealedColumns.ts';
import type { SealContext, SecretBox } from '../secrets/secretBox.ts';
import { checkMailData, type MailTemplate } from './templates.ts';
import { z } from 'zod';

export interface MailMessage {
  to: string;
  template: MailTemplate;
  data: Record<string, unknown>;
}

/** A claimed row, its payload still sealed. */
export interface QueuedMail {
  id: string;
  recipient: string;
  template: string;
  payload: string | null;
  attempts: number;
  created_at: Date;
}

/** How long a claim holds a row: well past the transport's own time limits (see transport.ts). */
export const LEASE_SECONDS = 120;
/** Attempts before a mail is given up: with the backoff below, about two and a half hours. */
export const MAX_ATTEMPTS = 12;
const FIRST_RETRY_SECONDS = 5;
const LONGEST_RETRY_SECONDS = 3600;
/** Sent and given-up mail is kept this long for operators to look at, then swept. */
export const KEEP_FINISHED_DAYS = 7;
const LAST_ERROR_LENGTH = 500;

export const payloadContext = (id: string): SealContext => ({ table: 'mail_queue', rowId: id, purpose: 'payload' });

/** Queued mail payloads, for `secrets rotate` and the start-up check (sent mail has none left). */
export const SEALED_MAIL_PAYLOADS: SealedColumn = {
  table: 'mail_queue',
  idColumn: 'id',
  column: 'payload',
  context: (row) => payloadContext(row.id),
};

const recipientSchema = z.email();

/**
 * Queues a mail in the caller's transaction; returns its id. The data is checked against the
 * template and sealed. Once the transaction commits, nudge the mailer so it goes out at once.
 */
export async function enqueueMail(trx: Db, box: SecretBox, message: MailMessage): Promise<string> {
  const data = checkMailData(message.template, message.data);
  if (!recipientSchema.safeParse(message.to).success)
    throw new TypeError(`Mail ${message.template}: the recipient is not an email address`);
  const id = randomUUID();
  await trx('mail_queue').insert({
    id,
    recipient: message.to,
    template: message.template,
    payload: box.seal(JSON.stringify(data), payloadContext(id)),
  });
  return id;
}

/** Takes up to `limit` due rows for LEASE_SECONDS and counts the attempt. */
export async function claimDueMail(db: Db, limit: number): Promise<QueuedMail[]> {
  const { rows } = (await db.raw(
    `update mail_queue
        set lease_until = now() + ? * interval '1 second', attempts = attempts + 1
      where id in (
        select id from mail_queue
         where sent_at is null and failed_at is null and next_attempt_at <= now()
           and (lease_until is null or lease_until < now())
         order by next_attempt_at
         limit ?
         for update skip locked)
      returning id, recipient, template, payload, attempts, created_at`,
    [LEASE_SECONDS, limit],
  )) as { rows: QueuedMail[] };
  return rows.map((row) => ({ ...row, attempts: Number(row.attempts) }));
}

/** Sent: the payload (its links and codes) is dropped at once. */
export async function markSent(db: Db, id: string): Promise<void> {
  await db('mail_queue').where({ id }).update({ sent_at: db.fn.now(), payload: null, lease_until: null, last_error: null });
}

/** Seconds before the next try after `attempts` tries: 5 s, 10 s, 20 s … at most an hour. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(FIRST_RETRY_SECONDS * 2 ** Math.max(0, attempts - 1), LONGEST_RETRY_SECONDS);
}

/**
 * A try failed: the mail waits for the next one, or is given up (and its payload dropped) after
 * MAX_ATTEMPTS, or at once when the failure is `permanent`. `error` is the transport's message; it never holds the payload. Returns whether
 * the mail was given up.
 */
export async function markAttemptFailed(db: Db, mail: QueuedMail, error: string, permanent = false): Promise<boolean> {
  const givenUp = permanent || mail.attempts >= MAX_ATTEMPTS;
  await db('mail_queue')
    .where({ id: mail.id })
    .whereNull('sent_at')
    .update({
      lease_until: null,
      last_error: error.slice(0, LAST_ERROR_LENGTH),
      ...(givenUp
        ? { failed_at: db.fn.now(), payload: null }
        : { next_attempt_at: db.raw("now() + ? * interval '1 second'", [retryDelaySeconds(mail.attempts)]) }),
    });
  return givenUp;
}

/** Deletes mail sent or given up more than KEEP_FINISHED_DAYS ago. */
export function sweepFinishedMail(db: Db): Promise<number> {
  return db('mail_queue').whereRaw(`coalesce(sent_at, failed_at) < now() - ? * interval '1 day'`, [KEEP_FINISHED_DAYS]).delete();
}
