// In production every absolute URL oidc-provider writes (discovery, JWKS location, redirects) is
// built from the request's host. A request for another host is answered 421 instead of letting
// it shape those URLs (and poison a shared cache). Health checks may use any host.
import type { Context, Next } from 'koa';
import { respondWithError } from './errors.ts';

const ANY_HOST = new Set(['/healthz', '/readyz']);

export function requireIssuerHost(issuer: string) {
  const expected = new URL(issuer).host.toLowerCase();
  return async (ctx: Context, next: Next) => {
    if (ANY_HOST.has(ctx.path) || ctx.host.toLowerCase() === expected) return next();
    await respondWithError(ctx, { status: 421, title: 'Misdirected request', detail: `This server answers for ${expected} only.` });
  };
}
