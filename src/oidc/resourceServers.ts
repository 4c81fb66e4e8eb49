// APIs (resource servers, RFC 8707) that clients may ask tokens for. Each says its scopes and
// whether its access tokens are opaque (looked up by introspection) or JWTs signed with one of
// our keys (verified by the API against JWKS). An API may name the confidential client it runs
// as (its resource server client): besides a token's own client, only that client may
// introspect the tokens issued for the API.
import { z } from 'zod';
import type { Db } from '../db/index.ts';
import { SIGNING_ALGS } from './keys.ts';
import { readCache } from '../db/readCache.ts';

export interface ResourceServerRow {
  identifier: string;
  name: string;
  scopes: string[];
  access_token_format: 'opaque' | 'jwt';
  signing_alg: string | null;
  access_token_ttl: number;
  /** The client the API authenticates as to introspect its tokens; null: none. */
  resource_server_client_id: string | null;
  created_at: Date;
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 scope-token

export const newResourceServerSchema = z
  .object({
    identifier: z
      .url('identifier must be an absolute URI such as https://api.example.com')
      .refine((v) => !v.includes('#'), 'identifier must not contain a fragment'),
    name: z.string().trim().min(1, 'name is required').max(200),
    scopes: z.array(z.string().regex(SCOPE_TOKEN, 'scopes must be RFC 6749 scope tokens (no spaces or quotes)')).default([]),
    accessTokenFormat: z.enum(['opaque', 'jwt']).default('jwt'),
    signingAlg: z.enum(SIGNING_ALGS).default('ES256'),
    accessTokenTtl: z.number().int().min(60).max(86400).default(3600),
    resourceServerClient: z.string().min(1).optional(),
  })
  .strict();
export type NewResourceServer = z.input<typeof newResourceServerSchema>;

export class ResourceServerExistsError extends Error {
  constructor(identifier: string) {
    super(`An API with identifier ${identifier} already exists`);
    this.name = 'ResourceServerExistsError';
  }
}

export async function createResourceServer(db: Db, input: NewResourceServer): Promise<ResourceServerRow> {
  const data = newResourceServerSchema.parse(input);
  if (data.resourceServerClient) await assertResourceServerClient(db, data.resourceServerClient);
  try {
    const [row] = await db('resource_servers')
      .insert({
        identifier: data.identifier,
        name: data.name,
        scopes: JSON.stringify(data.scopes),
        access_token_format: data.accessTokenFormat,
        signing_alg: data.accessTokenFormat === 'jwt' ? data.signingAlg : null,
        access_token_ttl: data.accessTokenTtl,
        resource_server_client_id: data.resourceServerClient ?? null,
      })
      .returning('*');
    return row as ResourceServerRow;
  } catch (error) {
    if ((error as { code?: string }).code === '23505') throw new ResourceServerExistsError(data.identifier);
    if ((error as { code?: string }).code === '23503') throw new ResourceServerClientError(`No client ${data.resourceServerClient}`);
    throw error;
  }
}

// Both are read on every token request for an API; see readCache.ts for how fresh they stay.
const apiCache = (db: Db) => readCache<ResourceServerRow>(db, 'apis');
const accessCache = (db: Db) => readCache<ClientApiAccess>(db, 'api-access');

export const findResourceServer = (db: Db, identifier: string) =>
  apiCache(db).get(identifier, () => db<ResourceServerRow>('resource_servers').where('identifier', identifier).first());
export const listResourceServers = (db: Db) => db<ResourceServerRow>('resource_servers').orderBy('created_at');
export async function deleteResourceServer(db: Db, identifier: string): Promise<boolean> {
  const deleted = await db('resource_servers').where('identifier', identifier).delete();
  apiCache(db).forget(identifier);
  accessCache(db).clear(); // its access rows went with it (on delete cascade)
  readCache(db, 'clients').clear(); // clients that had it as their default API lost it (set null)
  return deleted > 0;
}

export class ResourceServerClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceServerClientError';
  }
}

// A public client cannot authenticate, so it could never introspect on the API's behalf.
async function assertResourceServerClient(db: Db, clientId: string): Promise<void> {
  const client = await db('clients').where('client_id', clientId).first('token_endpoint_auth_method');
  if (!client) throw new ResourceServerClientError(`No client ${clientId}`);
  if (client.token_endpoint_auth_method === 'none')
    throw new ResourceServerClientError(`Client ${clientId} is public (it has no credentials), so it cannot be an API's resource server`);
}

/** Names the client an API runs as (null: none), the one other client that may introspect its tokens. */
export async function setResourceServerClient(db: Db, identifier: string, clientId: string | null): Promise<ResourceServerRow> {
  if (clientId !== null) await assertResourceServerClient(db, clientId);
  const [row] = await db('resource_servers').where('identifier', identifier).update({ resource_server_client_id: clientId }).returning('*');
  apiCache(db).forget(identifier);
  if (!row) throw new ResourceServerClientError(`No API ${identifier}`);
  return row as ResourceServerRow;
}

/** The scopes among `scopes` that no registered API defines. */
export async function undefinedApiScopes(db: Db, scopes: string[]): Promise<string[]> {
  if (!scopes.length) return [];
  const rows = await db<ResourceServerRow>('resource_servers').select('scopes');
  const defined = new Set(rows.flatMap((r) => r.scopes));
  return scopes.filter((s) => !defined.has(s));
}

/** The longest lifetime of a JWT we sign, which is how long a retired key must stay published. */
export async function longestJwtLifetime(db: Db, idTokenTtl: number): Promise<number> {
  const row = await db('resource_servers').where('access_token_format', 'jwt').max('access_token_ttl as ttl').first();
  return Math.max(idTokenTtl, Number(row?.ttl ?? 0));
}

export interface ClientApiAccess {
  client_id: string;
  resource: string;
  /** null: every scope the API defines. */
  scopes: string[] | null;
  created_at: Date;
}

export class UnknownClientOrApiError extends Error {
  constructor(clientId: string, resource: string) {
    super(`No client ${clientId} or no API ${resource}`);
    this.name = 'UnknownClientOrApiError';
  }
}

/** Allows a client to get client-credentials tokens for an API (all its scopes, or only some). */
export async function grantApiAccess(db: Db, clientId: string, resource: string, scopes: string[] | null): Promise<ClientApiAccess> {
  const api = await findResourceServer(db, resource);
  const unknown = scopes?.filter((s) => !api?.scopes.includes(s)) ?? [];
  if (api && unknown.length) throw new UnknownScopeError(resource, unknown);
  try {
    const [row] = await db('client_api_access')
      .insert({ client_id: clientId, resource, scopes: scopes ? JSON.stringify(scopes) : null })
      .onConflict(['client_id', 'resource'])
      .merge(['scopes'])
      .returning('*');
    accessCache(db).forget(accessKey(clientId, resource));
    return row as ClientApiAccess;
  } catch (error) {
    if ((error as { code?: string }).code === '23503') throw new UnknownClientOrApiError(clientId, resource);
    throw error;
  }
}

export class UnknownScopeError extends Error {
  constructor(resource: string, scopes: string[]) {
    super(`The API ${resource} does not define the scope${scopes.length > 1 ? 's' : ''} ${scopes.join(', ')}`);
    this.name = 'UnknownScopeError';
  }
}

const accessKey = (clientId: string, resource: string) => JSON.stringify([clientId, resource]);

export async function revokeApiAccess(db: Db, clientId: string, resource: string): Promise<boolean> {
  const deleted = await db('client_api_access').where({ client_id: clientId, resource }).delete();
  accessCache(db).forget(accessKey(clientId, resource));
  return deleted > 0;
}

export const findApiAccess = (db: Db, clientId: string, resource: string) =>
  accessCache(db).get(accessKey(clientId, resource), () =>
    db<ClientApiAccess>('client_api_access').where({ client_id: clientId, resource }).first(),
  );

export const listApiAccess = (db: Db, resource: string) =>
  db<ClientApiAccess>('client_api_access').where({ resource }).orderBy('created_at');
