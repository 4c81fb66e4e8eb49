// /connections: the upstream identity providers users may sign in through (create, read, list,
// change, delete; the upstream client secret goes in and never comes out), and
// /users/{userId}/identities: the upstream identities linked to a user, which an operator may
// unlink unless it is the user's last way to sign in.
import { z } from 'zod';
import {
  CLAIMS_UPDATES,
  connectionUpdateSchema,
  createConnection,
  getConnection,
  LINKING_POLICIES,
  listConnections,
  newConnectionSchema,
  unlinkIdentity,
} from '../../federation/index.ts';
import { deleteConnectionAtVersion, linkedIdentities, updateConnectionAtVersion } from '../../federation/index.ts';
import { getUser } from '../../accounts/index.ts';
import { operation, type Operation } from '../operation.ts';
import { identifierParam, timestamp } from '../schemas.ts';

// The answer's shape lists every field: an object schema refuses any other, so a secret could
// not slip into an answer that still fits the document.
const connectionSchema = z
  .object({
    id: z.string(),
    type: z.string().meta({ description: 'The protocol spoken with the provider, such as oidc (OpenID Connect)' }),
    display_name: z.string(),
    enabled: z.boolean(),
    clients: z.array(z.string()).nullable().meta({ description: 'The clients whose sign-in screens offer it; null: every client' }),
    domains: z.array(z.string()).meta({ description: 'Email domains sent to this provider from the sign-in screen' }),
    jit: z.boolean().meta({ description: 'Create the user at their first sign-in through this provider' }),
    linking: z.enum(LINKING_POLICIES),
    claims_update: z.enum(CLAIMS_UPDATES),
    mapping: z.record(z.string(), z.string()).meta({ description: 'Upstream claim for each profile attribute it fills' }),
    settings: z.record(z.string(), z.unknown()).meta({
      description:
        'How to reach the provider, as NewConnection describes for its type (oidc: issuer, client_id, scopes, token_endpoint_auth_method); never a secret',
    }),
    has_client_secret: z.boolean().meta({ description: 'Whether an upstream client secret is stored (it is never shown)' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Connection' });

const identitySchema = z
  .object({
    connection_id: z.string(),
    display_name: z.string().meta({ description: 'The name of the connection it came through' }),
    subject: z.string().meta({ description: 'The upstream provider’s id for the person' }),
    email: z.string().nullable().meta({ description: 'As the provider last gave it' }),
    created_at: timestamp,
    last_used_at: timestamp.nullable(),
  })
  .meta({ id: 'LinkedIdentity' });

const connectionParams = z.object({ connectionId: identifierParam('connection id') }).strict();
const TAG = 'Connections';
/** An IdP's metadata XML may be up to about a megabyte (idp_metadata_xml). */
const CONNECTION_BODY_KB = 1536;

export const CONNECTION_OPERATIONS: Operation[] = [
  operation({
    method: 'post',
    path: '/connections',
    operationId: 'createConnection',
    summary: 'Connect an upstream identity provider',
    description: 'The client_secret is sealed at rest and never returned; answers say only has_client_secret.',
    tag: TAG,
    scope: 'connections:write',
    body: newConnectionSchema,
    // A SAML IdP's metadata XML (many certificates, many endpoints) can pass the usual 64 KB.
    maxBodyKb: CONNECTION_BODY_KB,
    response: connectionSchema,
    status: 201,
    versioned: true,
    idempotent: true,
    errors: [400, 409, 415, 422],
    async handle({ body, service, deps }) {
      const created = await createConnection(service, deps.box, body);
      return { body: created, location: `/connections/${encodeURIComponent(created.id)}` };
    },
  }),
  operation({
    method: 'get',
    path: '/connections',
    operationId: 'listConnections',
    summary: 'List connections',
    tag: TAG,
    scope: 'connections:read',
    response: z.object({ data: z.array(connectionSchema) }).meta({ id: 'ConnectionList' }),
    errors: [],
    handle: async ({ deps }) => ({ body: { data: await listConnections(deps.database.db) } }),
  }),
  operation({
    method: 'get',
    path: '/connections/{connectionId}',
    operationId: 'getConnection',
    summary: 'Read a connection (never its secret)',
    tag: TAG,
    scope: 'connections:read',
    params: connectionParams,
    response: connectionSchema,
    versioned: true,
    errors: [404],
    handle: async ({ params, deps }) => ({ body: await getConnection(deps.database.db, params.connectionId) }),
  }),
  operation({
    method: 'patch',
    path: '/connections/{connectionId}',
    operationId: 'updateConnection',
    summary: 'Change some of a connection’s settings',
    description: 'Fields left out stay as they are. client_secret: a new upstream client secret, or null to remove it.',
    tag: TAG,
    scope: 'connections:write',
    params: connectionParams,
    body: connectionUpdateSchema,
    maxBodyKb: CONNECTION_BODY_KB,
    response: connectionSchema,
    versioned: true,
    errors: [400, 404, 412, 415],
    handle: async ({ params, body, service, deps, ifMatch }) => ({
      body: await updateConnectionAtVersion(service, deps.box, params.connectionId, body, { ifMatch }),
    }),
  }),
  operation({
    method: 'delete',
    path: '/connections/{connectionId}',
    operationId: 'deleteConnection',
    summary: 'Delete a connection; users linked through it keep their accounts, without the link',
    tag: TAG,
    scope: 'connections:write',
    params: connectionParams,
    versioned: true,
    errors: [404, 412],
    async handle({ params, service, ifMatch }) {
      await deleteConnectionAtVersion(service, params.connectionId, { ifMatch });
      return {};
    },
  }),
];

export const IDENTITY_OPERATIONS: Operation[] = [
  operation({
    method: 'get',
    path: '/users/{userId}/identities',
    operationId: 'listUserIdentities',
    summary: 'List the upstream identities linked to a user',
    tag: 'Users',
    scope: 'users:read',
    params: z.object({ userId: identifierParam('user id') }).strict(),
    response: z.object({ data: z.array(identitySchema) }).meta({ id: 'LinkedIdentityList' }),
    errors: [404],
    async handle({ params, service }) {
      await getUser(service.db, params.userId);
      return { body: { data: await linkedIdentities(service.db, params.userId) } };
    },
  }),
  operation({
    method: 'delete',
    path: '/users/{userId}/identities/{connectionId}/{subject}',
    operationId: 'unlinkUserIdentity',
    summary: 'Unlink an upstream identity from a user',
    description: 'Refused (409) when it is the user’s last way to sign in: they have no password, passkey or other linked identity.',
    tag: 'Users',
    scope: 'users:write',
    params: z
      .object({
        userId: identifierParam('user id'),
        connectionId: identifierParam('connection id'),
        subject: identifierParam('upstream subject, percent-encoded'),
      })
      .strict(),
    errors: [404, 409],
    async handle({ params, service }) {
      await unlinkIdentity(service, params.userId, params.connectionId, params.subject);
      return {};
    },
  }),
];
