// /apis: register, read, list and delete APIs; which clients may get tokens for them.
import { z } from 'zod';
import {
  apiAccessSchema,
  createApi,
  deleteApi,
  getApi,
  grantApiAccess,
  listApis,
  newApiSchema,
  revokeApiAccess,
} from '../../apis/index.ts';
import { operation, type Operation } from '../operation.ts';
import { identifierParam, timestamp } from '../schemas.ts';

const apiFields = {
  identifier: z.string().meta({ description: 'The resource indicator (RFC 8707) clients ask tokens for' }),
  name: z.string(),
  scopes: z.array(z.string()),
  access_token_format: z.enum(['opaque', 'jwt']),
  signing_alg: z.string().nullable(),
  access_token_ttl: z.number().int(),
  resource_server_client_id: z.string().nullable(),
  created_at: timestamp,
};
const apiSchema = z.object(apiFields).meta({ id: 'Api' });
const apiWithClients = z
  .object({ ...apiFields, clients: z.array(z.object({ client_id: z.string(), scopes: z.union([z.array(z.string()), z.literal('all')]) })) })
  .meta({ id: 'ApiWithClients' });
const accessSchema = z
  .object({ client_id: z.string(), resource: z.string(), scopes: z.union([z.array(z.string()), z.literal('all')]), created_at: timestamp })
  .meta({ id: 'ApiAccess' });

// An API's identifier is a URI: it travels percent-encoded in one path segment.
const apiParams = z.object({ identifier: identifierParam('API identifier, percent-encoded') }).strict();
const TAG = 'APIs';

export const API_OPERATIONS: Operation[] = [
  operation({
    method: 'post',
    path: '/apis',
    operationId: 'createApi',
    summary: 'Register an API (resource server)',
    tag: TAG,
    scope: 'apis:write',
    body: newApiSchema.meta({ id: 'NewApi' }),
    response: apiSchema,
    status: 201,
    idempotent: true,
    errors: [400, 409, 415, 422],
    async handle({ body, service }) {
      const api = await createApi(service, body);
      return { body: api, location: `/apis/${encodeURIComponent(api.identifier)}` };
    },
  }),
  operation({
    method: 'get',
    path: '/apis',
    operationId: 'listApis',
    summary: 'List APIs',
    tag: TAG,
    scope: 'apis:read',
    response: z.object({ data: z.array(apiSchema) }).meta({ id: 'ApiList' }),
    errors: [],
    handle: async ({ deps }) => ({ body: { data: await listApis(deps.database.db) } }),
  }),
  operation({
    method: 'get',
    path: '/apis/{identifier}',
    operationId: 'getApi',
    summary: 'Read an API and the clients allowed to get tokens for it',
    tag: TAG,
    scope: 'apis:read',
    params: apiParams,
    response: apiWithClients,
    versioned: true,
    errors: [404],
    handle: async ({ params, deps }) => ({ body: await getApi(deps.database.db, params.identifier) }),
  }),
  operation({
    method: 'delete',
    path: '/apis/{identifier}',
    operationId: 'deleteApi',
    summary: 'Delete an API',
    tag: TAG,
    scope: 'apis:write',
    params: apiParams,
    versioned: true,
    errors: [404, 409, 412],
    async handle({ params, service, ifMatch }) {
      await deleteApi(service, params.identifier, { ifMatch });
      return {};
    },
  }),
  operation({
    method: 'put',
    path: '/apis/{identifier}/clients/{clientId}',
    operationId: 'grantApiAccess',
    summary: 'Allow a client to get client-credentials tokens for the API (all its scopes, or those listed)',
    tag: TAG,
    scope: 'apis:write',
    params: z.object({ identifier: identifierParam('API identifier, percent-encoded'), clientId: identifierParam('client id') }).strict(),
    body: apiAccessSchema.omit({ client_id: true }).meta({ id: 'ApiAccessGrant' }),
    response: accessSchema,
    errors: [400, 404, 415],
    async handle({ params, body, service }) {
      const access = await grantApiAccess(service, params.identifier, { ...body, client_id: params.clientId });
      return { body: { ...access, scopes: access.scopes ?? 'all' } };
    },
  }),
  operation({
    method: 'delete',
    path: '/apis/{identifier}/clients/{clientId}',
    operationId: 'revokeApiAccess',
    summary: 'Withdraw a client’s access to the API',
    tag: TAG,
    scope: 'apis:write',
    params: z.object({ identifier: identifierParam('API identifier, percent-encoded'), clientId: identifierParam('client id') }).strict(),
    errors: [404],
    async handle({ params, service }) {
      await revokeApiAccess(service, params.identifier, params.clientId);
      return {};
    },
  }),
];
