// Security events: written to the audit table and to the log, never with secrets in them.
import type { Db } from '../db/index.ts';
import { logger } from '../http/logger.ts';

export type AuditType =
  | 'user.created'
  | 'user.deleted'
  | 'client.created'
  | 'client.deleted'
  | 'api.created'
  | 'api.deleted'
  | 'api.access_granted'
  | 'api.access_revoked'
  | 'keys.rotated'
  | 'secrets.rotated'
  | 'login.succeeded'
  | 'login.failed'
  | 'login.throttled'
  | 'consent.granted'
  | 'consent.denied'
  | 'grant.revoked'
  | 'refresh_token.reused'
  | 'authorization_code.replayed';

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
    // Losing an audit row must not fail the user's request; the log line above still has it.
    logger.warn('audit write failed', { event: event.type, error: (error as Error).message });
  }
}
