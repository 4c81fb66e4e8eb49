// In production every absolute URL oidc-provider writes (discovery, JWKS location, redirects) is
// built from the request's scheme and host, and cookies are marked Secure only when the request's
// scheme is https. Both come from what the proxy forwarded (X-Forwarded-Proto, X-Forwarded-Host,
// else Host), and koa trusts the first entry of a list, which the client wrote itself: with
// `X-Forwarded-Proto: http, https` discovery advertised http URLs and cookies lost Secure. So a
// request is served only if every forwarded entry names the issuer's scheme and host; anything
// else is answered 421 rather than let it shape those URLs (or poison a shared cache).
// Health checks may use any host and plain http: the container's HEALTHCHECK calls
// http://127.0.0.1:PORT/readyz directly, past the proxy.
import type { Context, Next } from 'koa';
import { respondWithError } from './errors.ts';

const ANY_ORIGIN = new Set(['/healthz', '/readyz']);
const ABSOLUTE_FORM = /^[a-z][a-z\d+.-]*:\/\//i;

const entries = (header: string) => header.split(',').map((entry) => entry.trim().toLowerCase());

// "id.example.com:443" names the same host as "id.example.com" for https; garbage names none.
function sameHost(entry: string, scheme: string, host: string): boolean {
  try {
    return new URL(`${scheme}://${entry}`).host === host && !/[/?#@]/.test(entry);
  } catch {
    return false;
  }
}

export function requireIssuerOrigin(issuer: string) {
  const url = new URL(issuer);
  const scheme = url.protocol.slice(0, -1);
  const host = url.host.toLowerCase();
  const refuse = (ctx: Context, detail: string) => respondWithError(ctx, { status: 421, title: 'Misdirected request', detail });
  return async (ctx: Context, next: Next) => {
    if (ANY_ORIGIN.has(ctx.path)) return next();
    // Without the header the request did not come through the TLS-terminating proxy.
    const proto = ctx.get('X-Forwarded-Proto');
    if (!entries(proto).every((entry) => entry === scheme)) {
      return refuse(ctx, `This server answers ${scheme} requests only.`);
    }
    // Behind a proxy the Host header may name the upstream; what counts is what the client asked for.
    const forwardedHost = ctx.get('X-Forwarded-Host');
    if (!entries(forwardedHost || ctx.get('Host')).every((entry) => sameHost(entry, scheme, host))) {
      return refuse(ctx, `This server answers for ${host} only.`);
    }
    // A target in absolute form (GET https://other.example/jwks) is what koa and oidc-provider
    // build URLs from, whatever the headers say.
    if (ABSOLUTE_FORM.test(ctx.originalUrl) && !ctx.originalUrl.toLowerCase().startsWith(`${url.origin}/`)) {
      return refuse(ctx, `This server answers for ${host} only.`);
    }
    await next();
  };
}
