// The consent ledger: each decision about a purpose (marketing email, analytics, …), granted or
// not, with the purpose's version, the time, where it was made and from which IP and
// application. Rows are only appended (the table refuses UPDATE); the current state of a purpose
// is its latest row. Purposes are opt-in: one never decided is not granted.
import type { Db } from '../db/index.ts';
import { recordChange, type ServiceContext } from '../changes/index.ts';
import type { AuditType } from '../audit/index.ts';
import { lockDecider } from './decider.ts';
import type { Policies, Purpose } from './schema.ts';

export type ConsentSource = 'sign_in' | 'account' | 'admin';

export interface ConsentRecord {
  id: number;
  user_id: string;
  purpose: string;
  version: string;
  granted: boolean;
  recorded_at: Date;
  ip: string | null;
  client_id: string | null;
  source: ConsentSource;
}

export interface ConsentState {
  purpose: Purpose;
  granted: boolean;
  /** The latest decision (its version may be older than the purpose's); undefined if never decided. */
  decision?: { version: string; granted: boolean; at: Date };
}

interface LatestConsent {
  purpose: string;
  version: string;
  granted: boolean;
  recorded_at: Date;
}

/** The user's latest row for each purpose named ("latest" by id: see acceptances.ts). */
function latestConsents(db: Db, userId: string, purposes: readonly string[]): Promise<LatestConsent[]> {
  if (!purposes.length) return Promise.resolve([]);
  return db('consent_records')
    .distinctOn('purpose')
    .select('purpose', 'version', 'granted', 'recorded_at')
    .where('user_id', userId)
    .whereIn('purpose', purposes)
    .orderBy([{ column: 'purpose' }, { column: 'id', order: 'desc' }]);
}

/** The state of every purpose in the file for the user (ledger rows of purposes no longer declared are left out). */
export async function currentConsents(db: Db, userId: string, policies: Policies): Promise<ConsentState[]> {
  const rows = await latestConsents(
    db,
    userId,
    policies.purposes.map((p) => p.id),
  );
  return policies.purposes.map((purpose) => {
    const row = rows.find((r) => r.purpose === purpose.id);
    if (!row) return { purpose, granted: false };
    return { purpose, granted: row.granted, decision: { version: row.version, granted: row.granted, at: new Date(row.recorded_at) } };
  });
}

/** The purposes the sign-in offers: declared ask_at_sign_in and never decided at their current version. */
export async function purposesToAsk(db: Db, userId: string, policies: Policies): Promise<Purpose[]> {
  const offered = policies.purposes.filter((p) => p.ask_at_sign_in);
  if (!offered.length) return [];
  const rows = await latestConsents(
    db,
    userId,
    offered.map((p) => p.id),
  );
  return offered.filter((purpose) => rows.find((r) => r.purpose === purpose.id)?.version !== purpose.version);
}

export interface ConsentClaimEntry {
  granted: boolean;
  version: string;
  /** When it was decided, in seconds since the epoch. */
  time: number;
}

/** The `consents` claim: the latest decision on each declared purpose the user decided on. */
export async function consentsClaim(db: Db, userId: string, policies: Policies): Promise<Record<string, ConsentClaimEntry>> {
  const states = await currentConsents(db, userId, policies);
  return Object.fromEntries(
    states.flatMap(({ purpose, decision }) =>
      decision
        ? [[purpose.id, { granted: decision.granted, version: decision.version, time: Math.floor(decision.at.getTime() / 1000) }]]
        : [],
    ),
  );
}

export interface ConsentDecision {
  purpose: string;
  granted: boolean;
}

export interface ConsentChanges {
  userId: string;
  /** The policies in force: only their purposes, at their current versions, are recorded. */
  policies: Policies;
  decisions: readonly ConsentDecision[];
  source: ConsentSource;
  /** The application the sign-in is for (sign_in). */
  clientId?: string;
  /** Where the decisions came from, when not the request of ctx (an import). */
  ip?: string;
}

function eventType(granted: boolean, previous: LatestConsent | undefined): AuditType {
  if (granted) return 'user.consent_granted';
  return previous?.granted ? 'user.consent_withdrawn' : 'user.consent_refused';
}

/** Appends the changes in the transaction `trx` (which may be the caller's); see recordConsents. */
export async function appendConsents(trx: Db, ctx: ServiceContext, input: ConsentChanges): Promise<ConsentRecord[]> {
  const known = new Map(input.policies.purposes.map((p) => [p.id, p]));
  // An id the file does not declare is ignored; of one purpose named twice, the last answer counts.
  const wanted = [...new Map(input.decisions.filter((d) => known.has(d.purpose)).map((d) => [d.purpose, d.granted]))];
  if (!wanted.length) return [];
  await lockDecider(trx, input.userId);
  const latest = await latestConsents(
    trx,
    input.userId,
    wanted.map(([purpose]) => purpose),
  );
  const appended: ConsentRecord[] = [];
  for (const [id, granted] of wanted) {
    const purpose = known.get(id) as Purpose;
    const previous = latest.find((r) => r.purpose === id);
    // The same answer at the same version is no news; the same answer at a new version is.
    if (previous && previous.granted === granted && previous.version === purpose.version) continue;
    const [row] = (await trx('consent_records')
      .insert({
        user_id: input.userId,
        purpose: id,
        version: purpose.version,
        granted,
        ip: input.ip ?? ctx.ip ?? null,
        client_id: input.clientId ?? null,
        source: input.source,
      })
      .returning('*')) as ConsentRecord[];
    await recordChange(trx, ctx, {
      type: eventType(granted, previous),
      subject: input.userId,
      userId: input.userId,
      clientId: input.clientId ?? null,
      data: { purpose: id, version: purpose.version, granted, source: input.source, client_id: input.clientId ?? null },
    });
    appended.push({ ...row, id: Number(row.id) });
  }
  return appended;
}

/**
 * Records decisions about purposes: a row (with an audit record and an event) for each one that
 * changes the purpose's state, or answers it at a new version. Returns the rows appended.
 */
export function recordConsents(ctx: ServiceContext, input: ConsentChanges): Promise<ConsentRecord[]> {
  return ctx.db.transaction((trx) => appendConsents(trx, ctx, input));
}

export interface ConsentRecordQuery {
  userId?: string;
  purpose?: string;
  /** Rows after this one (the previous page's last id). */
  afterId?: number;
  limit?: number;
}

/**
 * The ledger in the order it was written (by id: an exact position for a cursor, where a
 * timestamp sent as JSON would lose its microseconds), optionally for one user or one purpose.
 */
export async function listConsentRecords(db: Db, query: ConsentRecordQuery): Promise<ConsentRecord[]> {
  const q = db<ConsentRecord>('consent_records').orderBy('id');
  if (query.userId !== undefined) q.where('user_id', query.userId);
  if (query.purpose !== undefined) q.where('purpose', query.purpose);
  if (query.afterId !== undefined) q.where('id', '>', query.afterId);
  if (query.limit !== undefined) q.limit(query.limit);
  const rows = await q;
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}
