// Domain events (the outbox): every change a service commits writes exactly one, in the same
// transaction, with CloudEvents 1.0 attributes and no secret in its data. A later delivery
// feature (webhooks, brokers) and the admin API's event feed read them with a position.
//
// Sequence numbers are handed out when a row is written, not when its transaction commits, so a
// transaction that started first may commit last: reading "everything after seq N" would skip
// it. Each row therefore carries its transaction's id, and a reader is served only rows of
// transactions older than the oldest one still running that could write here (the horizon,
// below). Every such transaction has ended, so nothing can later appear before a position
// already handed out; a long-running transaction delays the feed, it never makes it skip.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.ts';

/** Who made a change. */
export interface Actor {
  type: 'cli' | 'client' | 'user' | 'system';
  /** The admin client's id, or the user's id. */
  id?: string;
}

export interface NewDomainEvent {
  /** Without the `gatehouse.` prefix: `user.created`. */
  type: string;
  /** The id of what changed. */
  subject: string;
  data: Record<string, unknown>;
}

export interface DomainEvent {
  specversion: '1.0';
  id: string;
  type: string;
  source: string;
  subject: string | null;
  time: string;
  datacontenttype: 'application/json';
  actor: Actor;
  request_id: string | null;
  data: Record<string, unknown>;
}

/** Where a reader stands in the feed: the last event it was given. */
export interface EventPosition {
  txId: string;
  seq: number;
}

interface EventRow {
  seq: string | number;
  tx_id: string;
  id: string;
  type: string;
  source: string;
  subject: string | null;
  time: Date;
  actor: Actor;
  request_id: string | null;
  data: Record<string, unknown>;
}

export const EVENT_TYPE_PREFIX = 'gatehouse.';

/** Writes the event of a change; `trx` must be the change's own transaction. */
export async function writeEvent(
  trx: Db,
  event: NewDomainEvent,
  origin: { source: string; actor: Actor; requestId?: string },
): Promise<void> {
  await trx('domain_events').insert({
    id: randomUUID(),
    type: EVENT_TYPE_PREFIX + event.type,
    source: origin.source,
    subject: event.subject,
    actor: JSON.stringify(origin.actor),
    request_id: origin.requestId ?? null,
    data: JSON.stringify(event.data),
  });
}

export interface EventQuery {
  after?: EventPosition;
  limit: number;
  /** Full CloudEvents types (`gatehouse.user.created`). */
  types?: string[];
  subject?: string;
}

export interface EventPage {
  events: DomainEvent[];
  /** The position of the last event given, to ask for the ones after it; undefined when none. */
  last?: EventPosition;
}

// The horizon: the oldest transaction still running in this database, or, when none is, the
// first transaction id not yet handed out. pg_snapshot_xmin alone would be the oldest running
// transaction of the whole server, so a long transaction of another database on a shared server
// would hold the feed back. Only transactions pg_stat_activity shows in another database are
// left out; one it does not show (no permission to see it, a prepared transaction) still counts,
// which can only delay the feed.
const HORIZON_SQL = `(
  with snap as materialized (select pg_current_snapshot() as s)
  select coalesce(
    (select min(x) from snap, pg_snapshot_xip(snap.s) as x
      where not exists (
        select 1 from pg_stat_activity a where a.datname is distinct from current_database() and a.backend_xid = xid(x))),
    (select pg_snapshot_xmax(s) from snap)))`;

/** Committed events after a position, oldest first. */
export async function listEvents(db: Db, query: EventQuery): Promise<EventPage> {
  const q = db<EventRow>('domain_events')
    .whereRaw(`tx_id < ${HORIZON_SQL}`)
    .orderBy([
      { column: 'tx_id', order: 'asc' },
      { column: 'seq', order: 'asc' },
    ])
    .limit(query.limit);
  if (query.after) q.whereRaw('(tx_id, seq) > (?::xid8, ?)', [query.after.txId, query.after.seq]);
  if (query.types?.length) q.whereIn('type', query.types);
  if (query.subject) q.where('subject', query.subject);
  const rows = await q;
  const lastRow = rows.at(-1);
  return { events: rows.map(toCloudEvent), last: lastRow ? { txId: String(lastRow.tx_id), seq: Number(lastRow.seq) } : undefined };
}

function toCloudEvent(row: EventRow): DomainEvent {
  return {
    specversion: '1.0',
    id: row.id,
    type: row.type,
    source: row.source,
    subject: row.subject,
    time: new Date(row.time).toISOString(),
    datacontenttype: 'application/json',
    actor: row.actor,
    request_id: row.request_id,
    data: row.data,
  };
}
