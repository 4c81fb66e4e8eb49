// /clients: register, read, list, change and delete clients; rotate their secrets.
import { z } from 'zod';
import {
  clientUpdateSchema,
  createPreparedClient,
  prepareClient,
  type PreparedClient,
  deleteClient,
  getClient,
  listClients,
  newClientSchema,
  rotateClientSecret,
  updateClient,
} from '../../clients/index.ts';
import { operation, type Operation } from '../operation.ts';
import { identifierParam, timestamp } from '../schemas.ts';

const clientSchema = z
  .object({
    client_id: z.string(),
    client_name: z.string().nullable(),
    redirect_uris: z.array(z.string()),
    post_logout_redirect_uris: z.array(z.string()),
    grant_types: z.array(z.string()),
    response_types: z.array(z.string()),
    token_endpoint_auth_method: z.string(),
    application_type: z.string(),
    scope: z.string().nullable(),
    default_resource: z.string().nullable(),
    allow_code_without_pkce: z.boolean(),
    allow_signup: z.boolean(),
    require_verified_email: z.boolean(),
    require_mfa: z.boolean(),
    confidential: z.boolean().meta({ description: 'Whether the client has a secret (never shown after it is made)' }),
    registered_by: z.enum(['cli', 'admin_api', 'dynamic_registration']),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Client' });

const clientWithSecret = clientSchema
  .extend({ client_secret: z.string().optional().meta({ description: 'Shown once, in this answer only' }) })
  .meta({ id: 'ClientWithSecret' });

const clientParams = z.object({ clientId: identifierParam('client id') }).strict();
const TAG = 'Clients';

export const CLIENT_OPERATIONS: Operation[] = [
  operation({
    method: 'post',
    path: '/clients',
    operationId: 'createClient',
    summary: 'Register a client',
    description:
      'Without grant_types, a client with redirect URIs gets the code flow and refresh tokens, one without them client credentials.',
    tag: TAG,
    scope: 'clients:write',
    body: newClientSchema.meta({ id: 'NewClient' }),
    response: clientWithSecret,
    status: 201,
    versioned: true,
    idempotent: true,
    errors: [400, 409, 415, 422],
    prepare: ({ body, service, deps }) => prepareClient(service, deps, body),
    async handle({ service, deps, prepared }) {
      const created = await createPreparedClient(service, deps, prepared as PreparedClient);
      return {
        body: { ...created.client, client_secret: created.client_secret },
        version: created.client,
        location: `/clients/${encodeURIComponent(created.client.client_id)}`,
      };
    },
  }),
  operation({
    method: 'get',
    path: '/clients',
    operationId: 'listClients',
    summary: 'List clients',
    tag: TAG,
    scope: 'clients:read',
    response: z.object({ data: z.array(clientSchema) }).meta({ id: 'ClientList' }),
    errors: [],
    handle: async ({ deps }) => ({ body: { data: await listClients(deps.database.db) } }),
  }),
  operation({
    method: 'get',
    path: '/clients/{clientId}',
    operationId: 'getClient',
    summary: 'Read a client (never its secret)',
    tag: TAG,
    scope: 'clients:read',
    params: clientParams,
    response: clientSchema,
    versioned: true,
    errors: [404],
    handle: async ({ params, deps }) => ({ body: await getClient(deps.database.db, params.clientId) }),
  }),
  operation({
    method: 'patch',
    path: '/clients/{clientId}',
    operationId: 'updateClient',
    summary: 'Change some of a client’s settings',
    tag: TAG,
    scope: 'clients:write',
    params: clientParams,
    description:
      'Switching to an authentication method that needs no secret drops it; switching to one that needs a secret the client does not have (or a client_secret_jwt that needs it back, where only its digest is kept) makes a new one, shown once in client_secret.',
    body: clientUpdateSchema.meta({ id: 'ClientUpdate' }),
    response: clientWithSecret,
    versioned: true,
    errors: [400, 404, 412, 415],
    async handle({ params, body, service, deps, ifMatch }) {
      const updated = await updateClient(service, deps, params.clientId, body, { ifMatch });
      return { body: { ...updated.client, client_secret: updated.client_secret }, version: updated.client };
    },
  }),
  operation({
    method: 'post',
    path: '/clients/{clientId}/secret',
    operationId: 'rotateClientSecret',
    summary: 'Give a confidential client a new secret; the old one stops working at once',
    tag: TAG,
    scope: 'clients:write',
    params: clientParams,
    response: clientWithSecret,
    versioned: true,
    errors: [404, 409, 412],
    async handle({ params, service, deps, ifMatch }) {
      const rotated = await rotateClientSecret(service, deps, params.clientId, { ifMatch });
      return { body: { ...rotated.client, client_secret: rotated.client_secret }, version: rotated.client };
    },
  }),
  operation({
    method: 'delete',
    path: '/clients/{clientId}',
    operationId: 'deleteClient',
    summary: 'Delete a client and every token issued to it',
    tag: TAG,
    scope: 'clients:write',
    params: clientParams,
    versioned: true,
    errors: [404, 412],
    async handle({ params, service, deps, ifMatch }) {
      await deleteClient(service, deps, params.clientId, { ifMatch });
      return {};
    },
  }),
];
