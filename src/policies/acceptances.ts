// Who accepted (or declined) which version of which document, when, from which IP and through
// which application. A document counts as accepted by a user only at its current version: a new
// version in the policies file makes it pending again for everyone, and the terms prompt asks.
import type { Db } from '../db/index.ts';
import { recordChange, type ServiceContext } from '../changes/index.ts';
import { InvalidInputError } from '../errors/index.ts';
import { lockDecider } from './decider.ts';
import type { Policies, PolicyDocument } from './schema.ts';

export type PolicyDecision = 'accepted' | 'declined';

export interface PendingDocument {
  document: PolicyDocument;
  /** The user accepted another (earlier) version: the screen links to what changed. */
  previouslyAccepted: boolean;
}

export interface PolicyAcceptance {
  id: number;
  user_id: string;
  document: string;
  version: string;
  decision: PolicyDecision;
  recorded_at: Date;
  ip: string | null;
  client_id: string | null;
}

interface LatestDecision {
  document: string;
  version: string;
  decision: PolicyDecision;
}

// "Latest" is by id, not recorded_at: recorded_at is when the recording transaction began, and
// one that waited on the user's lock (decider.ts) may have begun before the one it waited for.

/** The user's latest decision on each version of the documents named. */
function latestDecisions(db: Db, userId: string, documents: readonly string[]): Promise<LatestDecision[]> {
  if (!documents.length) return Promise.resolve([]);
  return db('policy_acceptances')
    .distinctOn('document', 'version')
    .select('document', 'version', 'decision')
    .where('user_id', userId)
    .whereIn('document', documents)
    .orderBy([{ column: 'document' }, { column: 'version' }, { column: 'id', order: 'desc' }]);
}

const decisionAt = (rows: LatestDecision[], document: PolicyDocument) =>
  rows.find((row) => row.document === document.id && row.version === document.version)?.decision;

/**
 * The documents the user must answer for before going on: a mandatory one not accepted at its
 * current version (declining it asks again next time), an optional one never answered at it.
 */
export async function pendingDocuments(db: Db, userId: string, policies: Policies): Promise<PendingDocument[]> {
  const rows = await latestDecisions(
    db,
    userId,
    policies.documents.map((d) => d.id),
  );
  return policies.documents.flatMap((document) => {
    const current = decisionAt(rows, document);
    if (document.mandatory ? current === 'accepted' : current !== undefined) return [];
    const previouslyAccepted = rows.some(
      (row) => row.document === document.id && row.version !== document.version && row.decision === 'accepted',
    );
    return [{ document, previouslyAccepted }];
  });
}

export interface DocumentStatus {
  document: PolicyDocument;
  /** The version the user last accepted, and when; undefined if they never accepted any. */
  accepted?: { version: string; at: Date };
}

/** For each document in the file, the last version the user accepted (the account area shows it). */
export async function documentStatuses(db: Db, userId: string, policies: Policies): Promise<DocumentStatus[]> {
  const ids = policies.documents.map((d) => d.id);
  const rows: { document: string; version: string; recorded_at: Date }[] = ids.length
    ? await db('policy_acceptances')
        .distinctOn('document')
        .select('document', 'version', 'recorded_at')
        .where({ user_id: userId, decision: 'accepted' })
        .whereIn('document', ids)
        .orderBy([{ column: 'document' }, { column: 'id', order: 'desc' }])
    : [];
  return policies.documents.map((document) => {
    const row = rows.find((r) => r.document === document.id);
    return { document, ...(row ? { accepted: { version: row.version, at: new Date(row.recorded_at) } } : {}) };
  });
}

export interface PolicyDecisions {
  userId: string;
  /** The policies in force: only their documents, at their current versions, are recorded. */
  policies: Policies;
  /** The application the sign-in is for. */
  clientId?: string;
  /** Where the decision came from, when not the request of ctx (an import). */
  ip?: string;
  accepted: readonly string[];
  declined: readonly string[];
}

/** What was recorded (a decision the same as the latest one at that version is not recorded again). */
export interface RecordedDecision {
  document: string;
  version: string;
  decision: PolicyDecision;
}

function wantedDecisions(input: PolicyDecisions): { document: PolicyDocument; decision: PolicyDecision }[] {
  const both = input.accepted.filter((id) => input.declined.includes(id));
  if (both.length) throw new InvalidInputError(`Document ${both[0]} cannot be both accepted and declined`);
  // An id the file does not (or no longer) declares is ignored: a forged or stale form stores nothing.
  const known = new Map(input.policies.documents.map((d) => [d.id, d]));
  return [
    ...[...new Set(input.accepted)].map((id) => ({ id, decision: 'accepted' as const })),
    ...[...new Set(input.declined)].map((id) => ({ id, decision: 'declined' as const })),
  ].flatMap(({ id, decision }) => {
    const document = known.get(id);
    return document ? [{ document, decision }] : [];
  });
}

/** Records the decisions in the transaction `trx` (which may be the caller's); see recordPolicyDecisions. */
export async function appendPolicyDecisions(trx: Db, ctx: ServiceContext, input: PolicyDecisions): Promise<RecordedDecision[]> {
  const wanted = wantedDecisions(input);
  if (!wanted.length) return [];
  await lockDecider(trx, input.userId);
  const latest = await latestDecisions(
    trx,
    input.userId,
    wanted.map((w) => w.document.id),
  );
  const recorded: RecordedDecision[] = [];
  for (const { document, decision } of wanted) {
    if (decisionAt(latest, document) === decision) continue;
    await trx('policy_acceptances').insert({
      user_id: input.userId,
      document: document.id,
      version: document.version,
      decision,
      ip: input.ip ?? ctx.ip ?? null,
      client_id: input.clientId ?? null,
    });
    const record = { document: document.id, version: document.version, decision };
    await recordChange(trx, ctx, {
      type: decision === 'accepted' ? 'user.terms_accepted' : 'user.terms_declined',
      subject: input.userId,
      userId: input.userId,
      clientId: input.clientId ?? null,
      data: { ...record, client_id: input.clientId ?? null },
    });
    recorded.push(record);
  }
  return recorded;
}

/**
 * Records a user's answer to documents, each with its current version, the time, ctx's IP and the
 * client, with an audit record and event per row. Ids not in the file are ignored; repeating the
 * latest decision at a version (a form posted twice) records nothing.
 */
export function recordPolicyDecisions(ctx: ServiceContext, input: PolicyDecisions): Promise<RecordedDecision[]> {
  return ctx.db.transaction((trx) => appendPolicyDecisions(trx, ctx, input));
}

/** Every decision of a user, oldest first (the admin API). */
export async function listPolicyAcceptances(db: Db, userId: string): Promise<PolicyAcceptance[]> {
  const rows: PolicyAcceptance[] = await db('policy_acceptances').where('user_id', userId).orderBy('id');
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}
