// APIs (resource servers, RFC 8707) as operators manage them, and which clients may get
// machine-to-machine tokens for them. Each change writes its audit record and domain event;
// the provider reads APIs through oidc/resourceServers.ts.
import { z } from 'zod';
import type { Db } from '../db/index.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { assertVersion } from '../changes/versionTag.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../db/constraints.ts';
import { ConflictError, InvalidInputError, NotFoundError, parseInput } from '../errors/index.ts';
import { SIGNING_ALGS } from '../oidc/keys.ts';
import {
  assertCallerCovers,
  assertMayChangeClient,
  MANAGEMENT_SCOPES,
  managementApiIdentifier,
  type ManagementScope,
} from './managementApi.ts';
import {
  findResourceServer,
  forgetApis,
  listApiAccess,
  listResourceServers,
  type ClientApiAccess,
  type ResourceServerRow,
} from '../oidc/resourceServers.ts';

export type { ClientApiAccess, ResourceServerRow } from '../oidc/resourceServers.ts';
import { isClaimScope } from '../oidc/features/clientMetadata.ts';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 scope-token
const scopeSchema = z
  .string()
  .regex(SCOPE_TOKEN, 'scopes must be RFC 6749 scope tokens (no spaces or quotes)')
  // A client's `scope` tells the two kinds apart by name (oidc/features/clientMetadata.ts).
  .refine(
    (scope) => !isClaimScope(scope),
    'scopes that release claims about the user (openid, profile, email, phone, address, consents, offline_access, profile:<name>) cannot be an API’s',
  );

export const newApiSchema = z
  .object({
    identifier: z
      .url('identifier must be an absolute URI such as https://api.example.com')
      .refine((v) => !v.includes('#'), 'identifier must not contain a fragment'),
    name: z.string().trim().min(1, 'name is required').max(200),
    scopes: z.array(scopeSchema).max(200).default([]),
    access_token_format: z.enum(['opaque', 'jwt']).default('jwt'),
    signing_alg: z.enum(SIGNING_ALGS).default('ES256'),
    access_token_ttl: z.number().int().min(60).max(86400).default(3600),
    /** The client the API runs as: besides a token's own client, the only one that may introspect it. */
    resource_server_client_id: z.string().min(1).nullable().optional(),
  })
  .strict();
export type NewApi = z.input<typeof newApiSchema>;

export const apiAccessSchema = z
  .object({
    client_id: z.string().min(1),
    /** Omitted or null: every scope the API defines, now and later. */
    scopes: z.array(scopeSchema).nullable().optional(),
  })
  .strict();

export interface ApiView extends ResourceServerRow {
  clients: { client_id: string; scopes: string[] | 'all' }[];
}

// A public client cannot authenticate, so it could never introspect on the API's behalf.
async function assertResourceServerClient(trx: Db, clientId: string): Promise<void> {
  const client = await trx('clients').where('client_id', clientId).first('token_endpoint_auth_method');
  if (!client) throw new InvalidInputError(`No client ${clientId}`);
  if (client.token_endpoint_auth_method === 'none')
    throw new InvalidInputError(`Client ${clientId} is public (it has no credentials), so it cannot be an API's resource server`);
}

async function rowOf(db: Db, identifier: string, lock = false): Promise<ResourceServerRow> {
  const q = db<ResourceServerRow>('resource_servers').where('identifier', identifier);
  const row = (await (lock ? q.forUpdate() : q).first()) as ResourceServerRow | undefined;
  if (!row) throw new NotFoundError(`No API ${identifier}`);
  return row;
}

export async function getApi(db: Db, identifier: string): Promise<ApiView> {
  const api = await rowOf(db, identifier);
  const access = await listApiAccess(db, identifier);
  return { ...api, clients: access.map((a) => ({ client_id: a.client_id, scopes: a.scopes ?? 'all' })) };
}

export const listApis = (db: Db): Promise<ResourceServerRow[]> => listResourceServers(db);

/**
 * Ends the live client-credentials tokens issued for an API (to one client, or to all): when
 * access is withdrawn or narrowed, opaque tokens already out must stop working too, not linger
 * until they expire. (A JWT access token cannot be recalled; it lives out its lifetime.)
 */
function endMachineTokens(trx: Db, identifier: string, clientId?: string): Promise<number> {
  const q = trx('oidc_payloads').where('model', 'ClientCredentials').whereRaw("payload->>'aud' = ?", [identifier]);
  if (clientId !== undefined) q.whereRaw("payload->>'clientId' = ?", [clientId]);
  return q.delete();
}

/** Every change to APIs ends by dropping the cached copies, once it has committed. */
async function changeApis<T>(ctx: ServiceContext, work: Parameters<typeof commitChange<T>>[1]): Promise<T> {
  try {
    return await commitChange(ctx, work);
  } finally {
    forgetApis(ctx.db);
  }
}

export async function createApi(ctx: ServiceContext, input: unknown): Promise<ResourceServerRow> {
  const data = parseInput(newApiSchema, input);
  return changeApis(ctx, async (trx) => {
    if (data.resource_server_client_id) await assertResourceServerClient(trx, data.resource_server_client_id);
    const [row] = (await trx('resource_servers')
      .insert({
        identifier: data.identifier,
        name: data.name,
        scopes: JSON.stringify(data.scopes),
        access_token_format: data.access_token_format,
        signing_alg: data.access_token_format === 'jwt' ? data.signing_alg : null,
        access_token_ttl: data.access_token_ttl,
        resource_server_client_id: data.resource_server_client_id ?? null,
      })
      .returning('*')
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) throw new ConflictError(`An API with identifier ${data.identifier} already exists`);
        throw error;
      })) as ResourceServerRow[];
    return {
      value: row,
      record: {
        type: 'api.created',
        subject: row.identifier,
        data: { identifier: row.identifier, resource_server_client_id: row.resource_server_client_id },
      },
    };
  });
}

/** Names the client an API runs as (null: none), the one other client that may introspect its tokens. */
export async function setResourceServerClient(
  ctx: ServiceContext,
  identifier: string,
  clientId: string | null,
): Promise<ResourceServerRow> {
  return changeApis(ctx, async (trx) => {
    await rowOf(trx, identifier, true);
    if (clientId !== null) await assertResourceServerClient(trx, clientId);
    const [row] = (await trx('resource_servers')
      .where('identifier', identifier)
      .update({ resource_server_client_id: clientId })
      .returning('*')) as ResourceServerRow[];
    return {
      value: row,
      record: {
        type: 'api.resource_server_changed',
        subject: identifier,
        clientId,
        data: { identifier, resource_server_client_id: clientId },
      },
    };
  });
}

export async function deleteApi(ctx: ServiceContext, identifier: string, check: { ifMatch?: string } = {}): Promise<void> {
  if (identifier === managementApiIdentifier(ctx.source))
    throw new ConflictError('The management API is built in: it cannot be deleted (revoke clients’ access to it instead)');
  await changeApis(ctx, async (trx) => {
    await rowOf(trx, identifier, true);
    assertVersion(check.ifMatch, await getApi(trx, identifier));
    await trx('resource_servers').where('identifier', identifier).delete();
    const ended = await endMachineTokens(trx, identifier);
    return { value: undefined, record: { type: 'api.deleted', subject: identifier, data: { identifier, ended_tokens: ended } } };
  });
}

/** Allows a client to get client-credentials tokens for an API (all its scopes, or only some). */
export async function grantApiAccess(ctx: ServiceContext, identifier: string, input: unknown): Promise<ClientApiAccess> {
  const { client_id: clientId, scopes = null } = parseInput(apiAccessSchema, input);
  return changeApis(ctx, async (trx) => {
    const api = await rowOf(trx, identifier);
    const unknown = scopes?.filter((s) => !api.scopes.includes(s)) ?? [];
    if (unknown.length)
      throw new InvalidInputError(`The API ${identifier} does not define the scope${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
    if (identifier === managementApiIdentifier(ctx.source)) {
      await assertMayChangeClient(trx, ctx, clientId);
      assertCallerCovers(ctx, (scopes ?? Object.keys(MANAGEMENT_SCOPES)) as ManagementScope[]);
    }
    const [row] = (await trx('client_api_access')
      .insert({ client_id: clientId, resource: identifier, scopes: scopes ? JSON.stringify(scopes) : null })
      .onConflict(['client_id', 'resource'])
      .merge(['scopes'])
      .returning('*')
      .catch((error: unknown) => {
        if (isForeignKeyViolation(error)) throw new InvalidInputError(`No client ${clientId}`);
        throw error;
      })) as ClientApiAccess[];
    // Changed access (narrower scopes, say) holds for the tokens already out, too: they end.
    const ended = await endMachineTokens(trx, identifier, clientId);
    return {
      value: row,
      record: {
        type: 'api.access_granted',
        subject: identifier,
        clientId,
        data: { resource: identifier, client_id: clientId, scopes, ended_tokens: ended },
      },
    };
  });
}

export async function revokeApiAccess(ctx: ServiceContext, identifier: string, clientId: string): Promise<void> {
  await changeApis(ctx, async (trx) => {
    if (identifier === managementApiIdentifier(ctx.source)) await assertMayChangeClient(trx, ctx, clientId);
    const deleted = await trx('client_api_access').where({ client_id: clientId, resource: identifier }).delete();
    if (!deleted) throw new NotFoundError(`Client ${clientId} has no access to ${identifier}`);
    await endMachineTokens(trx, identifier, clientId);
    return {
      value: undefined,
      record: { type: 'api.access_revoked', subject: identifier, clientId, data: { resource: identifier, client_id: clientId } },
    };
  });
}

export { findResourceServer };
