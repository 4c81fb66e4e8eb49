// /events: the domain events (the outbox) in commit-safe order, for pollers with a cursor;
// /audit-events: the security audit trail.
import { z } from 'zod';
import { listEvents, type EventPosition } from '../../events/index.ts';
import { listAuditEvents } from '../../audit/index.ts';
import { operation, type Operation } from '../operation.ts';
import { pageQuery, timestamp } from '../schemas.ts';

const eventSchema = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string(),
    type: z.string().meta({ description: 'gatehouse.<noun>.<verb>, e.g. gatehouse.user.created' }),
    source: z.string().meta({ description: 'The issuer' }),
    subject: z.string().nullable(),
    time: timestamp,
    datacontenttype: z.literal('application/json'),
    actor: z.object({ type: z.enum(['cli', 'client', 'user', 'system']), id: z.string().optional() }),
    request_id: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'DomainEvent', description: 'A CloudEvents 1.0 event (structured mode) with Gatehouse extensions' });

const auditEventSchema = z
  .object({
    id: z.number().int(),
    at: timestamp,
    type: z.string(),
    user_id: z.string().nullable(),
    client_id: z.string().nullable(),
    ip: z.string().nullable(),
    request_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEvent' });

const TAG = 'Events';

export const EVENT_OPERATIONS: Operation[] = [
  operation({
    method: 'get',
    path: '/events',
    operationId: 'listEvents',
    summary: 'Read domain events after a cursor, in commit-safe order',
    description:
      'An event appears only once every transaction that could still write an earlier one has ended, so a poller that keeps the last next_cursor never misses one. next_cursor is always set: poll again with it to get what came after.',
    tag: TAG,
    scope: 'events:read',
    query: z
      .object({
        ...pageQuery,
        type: z
          .string()
          .max(200)
          .optional()
          .meta({ description: 'Only events of these types (comma-separated), e.g. gatehouse.user.created' }),
        subject: z.string().max(2000).optional().meta({ description: 'Only events about this subject' }),
      })
      .strict(),
    response: z.object({ data: z.array(eventSchema), next_cursor: z.string() }).meta({ id: 'EventPage' }),
    errors: [400],
    async handle({ query, deps }) {
      const after = query.cursor ? deps.cursors.decode<EventPosition>('events', query.cursor) : undefined;
      const page = await listEvents(deps.database.db, {
        after,
        limit: query.limit,
        types: query.type
          ?.split(',')
          .map((t) => t.trim())
          .filter(Boolean),
        subject: query.subject,
      });
      const position = page.last ?? after ?? { txId: '0', seq: 0 };
      const nextCursor = deps.cursors.encode('events', position);
      return {
        body: { data: page.events, next_cursor: nextCursor },
        nextCursor: page.events.length === query.limit ? nextCursor : undefined,
      };
    },
  }),
  operation({
    method: 'get',
    path: '/audit-events',
    operationId: 'listAuditEvents',
    summary: 'Read audit records, newest first',
    tag: TAG,
    scope: 'events:read',
    query: z
      .object({
        ...pageQuery,
        type: z.string().max(200).optional().meta({ description: 'Only records of this type, e.g. login.failed' }),
        user_id: z.string().max(200).optional(),
        client_id: z.string().max(200).optional(),
      })
      .strict(),
    response: z.object({ data: z.array(auditEventSchema), next_cursor: z.string().nullable() }).meta({ id: 'AuditEventPage' }),
    errors: [400],
    async handle({ query, deps }) {
      const before = query.cursor ? deps.cursors.decode<{ id: number }>('audit-events', query.cursor).id : undefined;
      const records = await listAuditEvents(deps.database.db, {
        limit: query.limit,
        before,
        type: query.type,
        userId: query.user_id,
        clientId: query.client_id,
      });
      const last = records.at(-1);
      const nextCursor = last && records.length === query.limit ? deps.cursors.encode('audit-events', { id: Number(last.id) }) : undefined;
      return { body: { data: records.map((r) => ({ ...r, id: Number(r.id) })), next_cursor: nextCursor ?? null }, nextCursor };
    },
  }),
];
