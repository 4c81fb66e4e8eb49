// A change made through a domain service: one transaction that holds the change itself, its
// audit record and its domain event. Either all three are committed or none is, so a failed
// change leaves no event and a committed one always has exactly one.
import type { Knex } from 'knex';
import type { Db } from '../db/index.ts';
import { audit, type AuditType } from '../audit/index.ts';
import { writeEvent, type Actor } from '../events/index.ts';

export type { Actor } from '../events/index.ts';

/** What every service call is given: where to write and on whose behalf. Never a Koa context. */
export interface ServiceContext {
  db: Db;
  actor: Actor;
  /** The issuer: the CloudEvents `source` of the events this change writes. */
  source: string;
  requestId?: string;
  ip?: string;
  /**
   * The management-API scopes of an admin API caller, for the checks that stop a caller from
   * granting or taking over more than it holds; undefined for an operator at the CLI.
   */
  callerScopes?: ReadonlySet<string>;
}

/** What a change says about itself once done: the event (and audit) type, subject and data. */
export interface ChangeRecord {
  type: AuditType;
  subject: string;
  /** No secrets: this goes to the event, the audit record and the log. */
  data: Record<string, unknown>;
  userId?: string | null;
  clientId?: string | null;
}

/**
 * Runs `work` in a transaction and writes its record as a domain event and an audit record in
 * the same transaction. `work` must do all its writes through the handle it is given. A null
 * record means nothing changed that anyone follows (a wrong code counted, a used link refused).
 */
export async function commitChange<T>(
  ctx: ServiceContext,
  work: (trx: Db) => Promise<{ value: T; record: ChangeRecord | null }>,
): Promise<T> {
  return ctx.db.transaction(async (trx) => {
    const { value, record } = await work(trx);
    if (record) await recordChange(trx, ctx, record);
    return value;
  });
}

/** Writes a change's event and audit record; for a service that runs its own transaction. */
export async function recordChange(trx: Db, ctx: ServiceContext, record: ChangeRecord): Promise<void> {
  await writeEvent(trx, { type: record.type, subject: record.subject, data: record.data }, ctx);
  await audit(trx, {
    type: record.type,
    userId: record.userId ?? (ctx.actor.type === 'user' ? ctx.actor.id : undefined),
    clientId: record.clientId ?? (ctx.actor.type === 'client' ? ctx.actor.id : undefined),
    ip: ctx.ip,
    requestId: ctx.requestId,
    details: { ...record.data, actor: ctx.actor },
  });
}

/** The context of a change an operator makes with the CLI. */
export const cliContext = (db: Db, source: string): ServiceContext => ({ db, actor: { type: 'cli' }, source });

/**
 * Runs `callback` once what `db` wrote is committed: at once outside a transaction, or when the
 * caller's own transaction commits (an admin create with an Idempotency-Key runs its change in
 * one). Never if it rolls back. For work that must not see the change early, such as waking the
 * mail sender.
 */
export function afterCommit(db: Db, callback: () => void): void {
  if (db.isTransaction) (db as Knex.Transaction).executionPromise.then(callback, () => {});
  else callback();
}
