// /keys: list signing and cookie keys (never a secret part) and rotate them.
import { z } from 'zod';
import { listKeys, rotateSigningKeys } from '../../keys/index.ts';
import { SIGNING_ALGS } from '../../oidc/keys.ts';
import { operation, type Operation } from '../operation.ts';
import { timestamp } from '../schemas.ts';

const keySchema = z
  .object({
    kid: z.string(),
    kind: z.enum(['signing', 'cookie']),
    alg: z.string().nullable(),
    state: z.enum(['current', 'retired']),
    created_at: timestamp,
    activates_at: timestamp.nullable(),
    retired_at: timestamp.nullable(),
    expires_at: timestamp.nullable(),
  })
  .meta({ id: 'Key' });

const rotationSchema = z
  .object({
    activatesAt: timestamp,
    created: z.array(z.object({ kid: z.string(), kind: z.string(), alg: z.string().nullable() })),
    retired: z.array(z.object({ kid: z.string(), kind: z.string(), alg: z.string().nullable(), expiresAt: timestamp })),
  })
  .meta({ id: 'KeyRotation' });

const TAG = 'Keys';

export const KEY_OPERATIONS: Operation[] = [
  operation({
    method: 'get',
    path: '/keys',
    operationId: 'listKeys',
    summary: 'List signing and cookie keys',
    tag: TAG,
    scope: 'keys:read',
    response: z.object({ data: z.array(keySchema) }).meta({ id: 'KeyList' }),
    errors: [],
    handle: async ({ deps }) => ({ body: { data: await listKeys(deps.database.db) } }),
  }),
  operation({
    method: 'post',
    path: '/keys/rotate',
    operationId: 'rotateKeys',
    summary: 'Rotate the signing and cookie keys',
    description:
      'On a PostgreSQL server new keys are published 60 s before they sign (now: true signs at once); retired keys stay published until what they signed has expired.',
    tag: TAG,
    scope: 'keys:write',
    body: z
      .object({ algs: z.array(z.enum(SIGNING_ALGS)).optional(), now: z.boolean().optional() })
      .strict()
      .meta({ id: 'KeyRotationRequest' }),
    response: rotationSchema,
    errors: [400, 415],
    async handle({ body, service, deps }) {
      const rotation = await rotateSigningKeys(service, deps.box, deps.database.kind, body);
      await deps.reloadKeys();
      return { body: rotation };
    },
  }),
];
