// APIs (resource servers, RFC 8707) that clients may ask tokens for. Each says its scopes and
// whether its access tokens are opaque (looked up by introspection) or JWTs signed with one of
// our keys (verified by the API against JWKS). An API may name the confidential client it runs
// as (its resource server client): besides a token's own client, only that client may
// introspect the tokens issued for the API.
import type { Db } from '../db/index.ts';
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

// Both are read on every token request for an API; see readCache.ts for how fresh they stay.
const apiCache = (db: Db) => readCache<ResourceServerRow>(db, 'apis');
const accessCache = (db: Db) => readCache<ClientApiAccess>(db, 'api-access');

export const findResourceServer = (db: Db, identifier: string) =>
  apiCache(db).get(identifier, () => db<ResourceServerRow>('resource_servers').where('identifier', identifier).first());
export const listResourceServers = (db: Db) => db<ResourceServerRow>('resource_servers').orderBy('created_at');

/** Drops what this process cached about APIs and API access (after a change has committed). */
export function forgetApis(db: Db): void {
  apiCache(db).clear();
  accessCache(db).clear();
  readCache(db, 'clients').clear(); // a client's default API may have gone (set null)
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

const accessKey = (clientId: string, resource: string) => JSON.stringify([clientId, resource]);

export const findApiAccess = (db: Db, clientId: string, resource: string) =>
  accessCache(db).get(accessKey(clientId, resource), () =>
    db<ClientApiAccess>('client_api_access').where({ client_id: clientId, resource }).first(),
  );

export const listApiAccess = (db: Db, resource: string) =>
  db<ClientApiAccess>('client_api_access').where({ resource }).orderBy('created_at');
