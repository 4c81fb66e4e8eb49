// The management API: the built-in API (resource server) whose access tokens open the admin REST
// API. Its identifier is derived from the issuer; its scopes say what a token may read or change,
// one pair per noun. Its tokens are opaque, so deleting the admin client or revoking its access
// ends them at once (a JWT would live on until it expired).
import type { Db } from '../db/index.ts';
import { recordChange, type ServiceContext } from '../changes/index.ts';
import { ForbiddenError } from '../errors/index.ts';

export const ADMIN_BASE_PATH = '/api/admin/v1';

export const MANAGEMENT_SCOPES = {
  'users:read': 'Read users, their sessions and grants',
  'users:write': 'Create, change, suspend and delete users; revoke their sessions and grants',
  'clients:read': 'Read clients (never their secrets)',
  'clients:write': 'Register, change, delete clients and rotate their secrets',
  'apis:read': 'Read APIs and which clients may use them',
  'apis:write': 'Register and delete APIs; grant and revoke client access to them',
  'connections:read': 'Read connections to upstream identity providers (never their secrets)',
  'connections:write': 'Create, change and delete connections to upstream identity providers',
  'keys:read': 'List signing and cookie keys (never their secret parts)',
  'keys:write': 'Rotate signing and cookie keys',
  'events:read': 'Read domain events and audit records',
} as const;
export type ManagementScope = keyof typeof MANAGEMENT_SCOPES;

/** How long a management token lives: short, since it opens everything its scopes name. */
const TOKEN_TTL_SECONDS = 600;

export const managementApiIdentifier = (issuer: string) => `${issuer}${ADMIN_BASE_PATH}`;

/**
 * Registers the management API, or brings its scopes up to date, at start. Created once per
 * database by whichever instance gets there first; a change is recorded as the system's.
 */
export async function ensureManagementApi(db: Db, issuer: string): Promise<void> {
  const identifier = managementApiIdentifier(issuer);
  const scopes = Object.keys(MANAGEMENT_SCOPES);
  const ctx: ServiceContext = { db, actor: { type: 'system' }, source: issuer };
  await db.transaction(async (trx) => {
    // Instances starting together take turns here (a row lock cannot, before the row exists),
    // so one creates the API and records it, and the others find it made.
    await trx.raw("select pg_advisory_xact_lock(hashtext('gatehouse:management-api'))");
    const existing = await trx('resource_servers').where('identifier', identifier).first('scopes');
    if (existing && JSON.stringify(existing.scopes) === JSON.stringify(scopes)) return;
    await trx('resource_servers')
      .insert({
        identifier,
        name: 'Gatehouse management API',
        scopes: JSON.stringify(scopes),
        access_token_format: 'opaque',
        signing_alg: null,
        access_token_ttl: TOKEN_TTL_SECONDS,
      })
      .onConflict('identifier')
      .merge(['scopes']);
    await recordChange(trx, ctx, {
      type: existing ? 'api.updated' : 'api.created',
      subject: identifier,
      data: { identifier, scopes },
    });
  });
}

/** The management scopes a client holds now (none: no access), read from the database itself. */
export async function grantedManagementScopes(db: Db, issuer: string, clientId: string): Promise<Set<ManagementScope>> {
  const access = await db('client_api_access')
    .where({ client_id: clientId, resource: managementApiIdentifier(issuer) })
    .first('scopes');
  if (!access) return new Set();
  return new Set((access.scopes as ManagementScope[] | null) ?? (Object.keys(MANAGEMENT_SCOPES) as ManagementScope[]));
}

/**
 * An admin API caller may not give (or take over) more power than it has: changing a client's
 * access to the management API, or the credentials of a client that has such access, needs every
 * scope involved. Otherwise `apis:write` could grant itself everything, and `clients:write` could
 * rotate the secret of a full administrator and sign in as it. An operator at the CLI may do all.
 */
export function assertCallerCovers(ctx: ServiceContext, scopes: Iterable<ManagementScope>): void {
  if (ctx.callerScopes === undefined) return;
  const missing = [...scopes].filter((s) => !ctx.callerScopes?.has(s));
  if (missing.length) throw new ForbiddenError(`This needs management scopes your token does not have: ${[...new Set(missing)].join(' ')}`);
}

/** Refuses a change to a client's credentials or access unless the caller covers its management scopes. */
export async function assertMayChangeClient(trx: Db, ctx: ServiceContext, clientId: string): Promise<void> {
  if (ctx.callerScopes === undefined) return;
  assertCallerCovers(ctx, await grantedManagementScopes(trx, ctx.source, clientId));
}
