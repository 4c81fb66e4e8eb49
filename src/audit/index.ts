// Security events: written to the audit table and to the log, never with secrets in them.
import type { Db } from '../db/index.ts';
import { logger } from '../http/logger.ts';

export type AuditType =
  | 'user.created'
  | 'user.deleted'
  | 'user.updated'
  | 'user.password_set'
  | 'user.suspended'
  | 'user.unsuspended'
  | 'user.session_revoked'
  | 'user.grant_revoked'
  | 'user.registered'
  | 'user.registration_attempted'
  | 'user.verification_sent'
  | 'user.email_verified'
  | 'user.password_reset_requested'
  | 'user.password_reset'
  | 'user.invited'
  | 'user.invitation_accepted'
  | 'user.invitation_revoked'
  | 'user.email_change_requested'
  | 'user.email_changed'
  | 'user.locked'
  | 'user.password_rehashed'
  | 'user.profile_updated'
  | 'client.created'
  // Federation (src/federation): connections, then what users' upstream identities do.
  | 'connection.created'
  | 'connection.updated'
  | 'connection.deleted'
  | 'user.provisioned'
  | 'user.identity_linked'
  | 'user.identity_unlinked'
  | 'login.federated_refused'
  | 'login.federated'
  | 'logout.saml'
  | 'logout.saml_refused'
  | 'client.deleted'
  | 'client.updated'
  | 'client.secret_rotated'
  | 'api.created'
  | 'api.deleted'
  | 'api.updated'
  | 'api.access_granted'
  | 'api.access_revoked'
  | 'api.resource_server_changed'
  | 'keys.rotated'
  | 'secrets.rotated'
  | 'login.succeeded'
  | 'login.failed'
  | 'login.throttled'
  | 'login.unverified'
  | 'login.mfa_succeeded'
  | 'login.mfa_failed'
  | 'login.mfa_unmet'
  | 'user.device_forgotten'
  | 'user.factors_reset'
  | 'consent.granted'
  | 'consent.denied'
  | 'grant.revoked'
  | 'refresh_token.reused'
  | 'authorization_code.replayed'
  | 'device_code.replayed'
  // Second factors (src/mfa): the user's changes, then each check of a factor.
  | 'user.totp_enrolment_started'
  | 'user.totp_enrolled'
  | 'user.totp_removed'
  | 'user.recovery_codes_generated'
  | 'user.recovery_code_used'
  | 'mfa.totp_verified'
  | 'mfa.totp_failed'
  | 'mfa.recovery_code_failed'
  // Passkeys (src/mfa/passkeys.ts): the user's list, then each use; a counter that went backwards
  // has a type of its own, to alert on (a copied authenticator).
  | 'user.passkey_added'
  | 'user.passkey_renamed'
  | 'user.passkey_removed'
  | 'mfa.passkey_verified'
  | 'mfa.passkey_failed'
  | 'mfa.passkey_clone_suspected'
  // Terms and consents (src/policies): a decision on a version of a document, then each row of
  // the consent ledger (refused: a first answer of no; withdrawn: no after a yes).
  | 'user.terms_accepted'
  | 'user.terms_declined'
  | 'user.consent_granted'
  | 'user.consent_withdrawn'
  | 'user.consent_refused';

export interface AuditEvent {
  type: AuditType;
  userId?: string | null;
  clientId?: string | null;
  ip?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

export async function audit(db: Db, event: AuditEvent): Promise<void> {
  logger.info('audit', { event: event.type, userId: event.userId, clientId: event.clientId, requestId: event.requestId, ...event.details });
  try {
    await db('audit_events').insert({
      type: event.type,
      user_id: event.userId ?? null,
      client_id: event.clientId ?? null,
      ip: event.ip ?? null,
      request_id: event.requestId ?? null,
      details: JSON.stringify(event.details ?? {}),
    });
  } catch (error) {
    // Inside a transaction the failed insert has aborted it: the change must not look committed
    // (its COMMIT would quietly roll back), so the caller hears of it.
    if ((db as { isTransaction?: boolean }).isTransaction) throw error;
    // Losing an audit row must not fail the user's request; the log line above still has it.
    logger.warn('audit write failed', { event: event.type, error: (error as Error).message });
  }
}

interface RequestState {
  state: Record<string | symbol, unknown>;
}

const PENDING = Symbol('audit writes of this request');

/**
 * Audits from an event listener, which cannot be awaited where the event fires: the request
 * holds its response until the record is written (see awaitRequestAudits), so whoever sees the
 * answer can also find the record.
 */
export function auditDuringRequest(db: Db, ctx: RequestState, event: AuditEvent): void {
  const pending = (ctx.state[PENDING] as Promise<void>[] | undefined) ?? [];
  ctx.state[PENDING] = pending;
  pending.push(audit(db, event));
}

/** Waits for the records auditDuringRequest started for this request (audit() never rejects). */
export async function awaitRequestAudits(ctx: RequestState): Promise<void> {
  const pending = ctx.state[PENDING] as Promise<void>[] | undefined;
  if (pending) await Promise.all(pending);
}

export interface AuditRecord {
  id: number | string;
  at: Date;
  type: string;
  user_id: string | null;
  client_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  limit: number;
  /** Records older than this one (newest first). */
  before?: number;
  type?: string;
  userId?: string;
  clientId?: string;
}

/** Audit records, newest first. */
export function listAuditEvents(db: Db, query: AuditQuery): Promise<AuditRecord[]> {
  const q = db<AuditRecord>('audit_events').orderBy('id', 'desc').limit(query.limit);
  if (query.before !== undefined) q.where('id', '<', query.before);
  if (query.type) q.where('type', query.type);
  if (query.userId) q.where('user_id', query.userId);
  if (query.clientId) q.where('client_id', query.clientId);
  return q;
}
