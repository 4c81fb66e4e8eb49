// Terms and consents as an operator sees them: a user's current consents with their ledger, a
// user's decisions on the documents, and the whole consent ledger, in the order it was written,
// a page at a time: the export.
import { z } from 'zod';
import { getUser } from '../../accounts/index.ts';
import { currentConsents, listConsentRecords, listPolicyAcceptances, type ConsentRecord } from '../../policies/index.ts';
import { operation, type Operation } from '../operation.ts';
import { identifierParam, page, pageQuery, timestamp } from '../schemas.ts';

const consentRecordSchema = z
  .object({
    id: z.number().int().meta({ description: 'Its position in the ledger' }),
    user_id: z.string(),
    purpose: z.string(),
    version: z.string().meta({ description: 'The version of the purpose the decision was made on' }),
    granted: z.boolean(),
    recorded_at: timestamp,
    ip: z.string().nullable(),
    client_id: z.string().nullable().meta({ description: 'The application of the sign-in the decision was made in' }),
    source: z
      .enum(['sign_in', 'account', 'admin'])
      .meta({ description: 'Where it was made: the sign-in, the account area, or an operator' }),
  })
  .meta({ id: 'ConsentRecord' });

const consentStateSchema = z
  .object({
    purpose: z.string(),
    granted: z.boolean().meta({ description: 'Purposes are opt-in: one never decided is not granted' }),
    current_version: z.string().meta({ description: 'The version in the policies file now' }),
    version: z.string().nullable().meta({ description: 'The version of the latest decision (null: never decided)' }),
    decided_at: timestamp.nullable(),
  })
  .meta({ id: 'ConsentState' });

const userConsentsSchema = z
  .object({
    data: z.array(consentStateSchema).meta({ description: 'Every purpose declared now, with its state' }),
    records: z.array(consentRecordSchema).meta({ description: 'The user’s ledger, oldest first' }),
  })
  .meta({ id: 'UserConsents' });

const policyAcceptanceSchema = z
  .object({
    id: z.number().int(),
    document: z.string(),
    version: z.string(),
    decision: z.enum(['accepted', 'declined']),
    recorded_at: timestamp,
    ip: z.string().nullable(),
    client_id: z.string().nullable(),
  })
  .meta({ id: 'PolicyAcceptance' });

const userParams = z.object({ userId: identifierParam('user id') }).strict();
const TAG = 'Terms and consents';
const LEDGER = 'consent-records';

export const CONSENT_OPERATIONS: Operation[] = [
  operation({
    method: 'get',
    path: '/users/{userId}/consents',
    operationId: 'getUserConsents',
    summary: 'A user’s consent to each declared purpose, and their consent ledger',
    tag: TAG,
    scope: 'users:read',
    params: userParams,
    response: userConsentsSchema,
    errors: [404],
    async handle({ params, deps }) {
      const { db } = deps.database;
      await getUser(db, params.userId);
      const [states, records] = await Promise.all([
        currentConsents(db, params.userId, deps.config.declarations.current().policies),
        listConsentRecords(db, { userId: params.userId }),
      ]);
      const data = states.map(({ purpose, granted, decision }) => ({
        purpose: purpose.id,
        granted,
        current_version: purpose.version,
        version: decision?.version ?? null,
        decided_at: decision?.at ?? null,
      }));
      return { body: { data, records } };
    },
  }),
  operation({
    method: 'get',
    path: '/users/{userId}/policy-acceptances',
    operationId: 'listUserPolicyAcceptances',
    summary: 'Which versions of the terms and policies a user accepted or declined, oldest first',
    tag: TAG,
    scope: 'users:read',
    params: userParams,
    response: z.object({ data: z.array(policyAcceptanceSchema) }).meta({ id: 'PolicyAcceptanceList' }),
    errors: [404],
    async handle({ params, deps }) {
      await getUser(deps.database.db, params.userId);
      const rows = await listPolicyAcceptances(deps.database.db, params.userId);
      return { body: { data: rows.map(({ user_id: _user, ...row }) => row) } };
    },
  }),
  operation({
    method: 'get',
    path: '/consent-records',
    operationId: 'listConsentRecords',
    summary: 'Export the consent ledger, oldest first',
    description:
      'Every decision ever recorded (granted or not, with the purpose’s version, time, IP, application and where it was made), in the order it was written, including purposes no longer declared. Rows are only ever added; a user’s are erased with the user.',
    tag: TAG,
    scope: 'users:read',
    query: z
      .object({
        ...pageQuery,
        user_id: z.string().min(1).max(200).optional().meta({ description: 'Only this user’s decisions' }),
        purpose: z.string().min(1).max(200).optional().meta({ description: 'Only decisions on this purpose' }),
      })
      .strict(),
    response: page(consentRecordSchema, 'ConsentRecordPage'),
    errors: [400],
    async handle({ query, deps }) {
      const after = query.cursor ? deps.cursors.decode<{ id: number }>(LEDGER, query.cursor) : undefined;
      const records: ConsentRecord[] = await listConsentRecords(deps.database.db, {
        userId: query.user_id,
        purpose: query.purpose,
        afterId: after?.id,
        limit: query.limit,
      });
      const last = records.at(-1);
      const nextCursor = last && records.length === query.limit ? deps.cursors.encode(LEDGER, { id: last.id }) : undefined;
      return { body: { data: records, next_cursor: nextCursor ?? null }, nextCursor };
    },
  }),
];
