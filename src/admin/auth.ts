// Who is calling the admin API, and may they do this? Only an access token Gatehouse issued for
// the management API (client credentials, opaque) opens it; each operation names the scope it
// needs. Answers follow RFC 6750 §3: 401 with `WWW-Authenticate: Bearer` when the token is
// missing or not valid here, 403 `insufficient_scope` when it lacks the operation's scope.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { PROBLEM_TYPES, respondProblem } from '../http/problem.ts';
import { grantedManagementScopes, managementApiIdentifier, type ManagementScope } from '../apis/managementApi.ts';
import type { Db } from '../db/index.ts';

export interface AdminCaller {
  clientId: string;
  scopes: Set<string>;
}

const REALM = 'gatehouse-admin';

function challenge(ctx: Context, params: Record<string, string>): void {
  const rendered = Object.entries({ realm: REALM, ...params })
    .map(([k, v]) => `${k}="${v.replace(/["\\]/g, '')}"`)
    .join(', ');
  ctx.set('WWW-Authenticate', `Bearer ${rendered}`);
}

function refuse(ctx: Context, detail: string, tokenWasSent: boolean): void {
  // No error code when no credentials were sent at all (RFC 6750 §3.1).
  challenge(ctx, tokenWasSent ? { error: 'invalid_token', error_description: detail } : {});
  respondProblem(ctx, { type: PROBLEM_TYPES.unauthorized, title: 'Authentication required', status: 401, detail });
}

const BEARER = /^Bearer ([\x21-\x7E]+)$/i;

/** The caller behind the request's bearer token, or undefined after answering 401. */
export async function authenticate(ctx: Context, provider: Provider, db: Db, issuer: string): Promise<AdminCaller | undefined> {
  const header = ctx.get('authorization');
  if (!header) {
    refuse(ctx, 'Send an access token for the management API in the Authorization header (Bearer)', false);
    return undefined;
  }
  const value = BEARER.exec(header)?.[1];
  // Tokens in query strings or bodies are refused: they end up in logs (RFC 6750 §2.3, §5.3).
  const token = value ? await provider.ClientCredentials.find(value) : undefined;
  if (!token || token.isExpired) {
    refuse(ctx, 'The access token is not valid (unknown, expired or revoked)', true);
    return undefined;
  }
  if (token.aud !== managementApiIdentifier(issuer)) {
    refuse(ctx, 'The access token was not issued for the management API', true);
    return undefined;
  }
  if (token.isSenderConstrained()) {
    refuse(ctx, 'Sender-constrained (DPoP or mTLS) tokens are not accepted by the admin API', true);
    return undefined;
  }
  // What the client holds now, read past every cache: access withdrawn or narrowed on another
  // instance a moment ago (while a cached grant there still minted this token) already counts.
  const clientId = token.clientId as string;
  const granted = await grantedManagementScopes(db, issuer, clientId);
  if (granted.size === 0) {
    refuse(ctx, 'The client no longer has access to the management API', true);
    return undefined;
  }
  const scopes = String(token.scope ?? '')
    .split(' ')
    .filter((s) => granted.has(s as ManagementScope));
  return { clientId, scopes: new Set(scopes) };
}

/** False after answering 403 when the caller's token lacks `scope`. */
export function requireScope(ctx: Context, caller: AdminCaller, scope: ManagementScope): boolean {
  if (caller.scopes.has(scope)) return true;
  challenge(ctx, { error: 'insufficient_scope', scope, error_description: `This operation needs the scope ${scope}` });
  respondProblem(ctx, {
    type: PROBLEM_TYPES.insufficientScope,
    title: 'Insufficient scope',
    status: 403,
    detail: `This operation needs the scope ${scope}; the token has ${[...caller.scopes].join(' ') || 'none'}`,
  });
  return false;
}
