// Which methods each endpoint serves, and the answer to any other: 405 with `Allow`, in the
// endpoint's dialect (RFC 6749 JSON for protocol clients, the error page or problem+json for the
// rest). Without it a method oidc-provider does not route falls through to a bare 404, and on
// GET /device/auth it even reached the device-flow page route (/device/:uid) and answered 500.
import type { Context, Next } from 'koa';
import { respondWithError } from './errors.ts';

type Dialect = 'protocol' | 'ours';

interface Endpoint {
  path: string;
  /** What the endpoint serves; GET implies HEAD (as in every router here), OPTIONS is always answered. */
  methods: string;
  dialect: Dialect;
  /** oidc-provider answers CORS preflights (OPTIONS with Access-Control-Request-Method) here. */
  cors?: boolean;
}

/**
 * Our fixed paths and oidc-provider's routes (lib/helpers/initialize_app.js) for the features
 * src/oidc/features turns on. Routes of our own feature routers (interactions, health) are not
 * listed: their routers know them, and the middleware below asks what they matched.
 */
export function servedEndpoints({ registration }: { registration: boolean }): Endpoint[] {
  const protocol = (path: string, methods: string, cors = false): Endpoint => ({ path, methods, dialect: 'protocol', cors });
  return [
    { path: '/', methods: 'GET', dialect: 'ours' },
    { path: '/static/:file', methods: 'GET', dialect: 'ours' },
    protocol('/.well-known/openid-configuration', 'GET', true),
    protocol('/.well-known/oauth-authorization-server', 'GET', true),
    protocol('/jwks', 'GET', true),
    protocol('/auth', 'GET'),
    protocol('/auth/:uid', 'GET'),
    protocol('/token', 'POST', true),
    protocol('/me', 'GET POST', true),
    protocol('/token/introspection', 'POST', true),
    protocol('/token/revocation', 'POST', true),
    protocol('/request', 'POST', true),
    protocol('/device/auth', 'POST', true),
    protocol('/device', 'GET POST'),
    protocol('/device/:uid', 'GET'),
    protocol('/session/end', 'GET'),
    protocol('/session/end/confirm', 'POST'),
    protocol('/session/end/success', 'GET'),
    ...(registration ? [protocol('/reg', 'POST'), protocol('/reg/:clientId', 'GET PUT DELETE')] : []),
  ];
}

const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function allowList(methods: Iterable<string>): string[] {
  const set = new Set(methods);
  if (set.has('GET')) set.add('HEAD');
  set.add('OPTIONS');
  return ORDER.filter((m) => set.has(m));
}

interface Served {
  allow: string[];
  dialect: Dialect;
  cors: boolean;
}

// Paths compare as oidc-provider's router compares them: case-insensitively, one trailing slash
// ignored; a fixed path wins over a pattern (/device/auth is not /device/:uid).
function endpointFinder(endpoints: Endpoint[]) {
  const fold = (path: string) => (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
  const fixed = new Map<string, Served>();
  const patterns: { segments: (string | null)[]; served: Served }[] = [];
  for (const endpoint of endpoints) {
    const served = { allow: allowList(endpoint.methods.split(' ')), dialect: endpoint.dialect, cors: endpoint.cors ?? false };
    if (endpoint.path.includes('/:')) {
      patterns.push({ segments: endpoint.path.split('/').map((s) => (s.startsWith(':') ? null : s.toLowerCase())), served });
    } else fixed.set(fold(endpoint.path), served);
  }
  return (path: string): Served | undefined => {
    const folded = fold(path);
    const exact = fixed.get(folded);
    if (exact) return exact;
    const parts = folded.split('/');
    return patterns.find(
      ({ segments }) => segments.length === parts.length && segments.every((s, i) => (s === null ? parts[i] !== '' : s === parts[i])),
    )?.served;
  };
}

const isPreflight = (ctx: Context) => ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method') !== '';

function answerOptions(ctx: Context, allow: string[]) {
  ctx.set('Allow', allow.join(', '));
  ctx.status = 204;
}

async function refuseMethod(ctx: Context, allow: string[], dialect: Dialect) {
  ctx.set('Allow', allow.join(', '));
  // Like oidc-provider's own errors: JSON unless a browser asks for a page.
  if (dialect === 'protocol' && ctx.accepts('json', 'html') !== 'html') {
    ctx.status = 405;
    const use = allow.filter((m) => m !== 'HEAD' && m !== 'OPTIONS').join(' or ');
    ctx.body = { error: 'invalid_request', error_description: `${ctx.method} is not allowed here; use ${use}` };
    return;
  }
  await respondWithError(ctx, { status: 405, title: 'Method not allowed', detail: `This address does not accept ${ctx.method} requests.` });
}

/** The methods our koa-router routers matched this path for (ctx.matched holds their layers). */
function routedMethods(ctx: Context): string[] {
  const layers = (ctx as { matched?: { methods: string[] }[] }).matched ?? [];
  return layers.flatMap((layer) => layer.methods);
}

export function answerUnservedMethods(endpoints: Endpoint[]) {
  const find = endpointFinder(endpoints);
  return async (ctx: Context, next: Next) => {
    const served = find(ctx.path);
    if (served) {
      if (served.allow.includes(ctx.method) && ctx.method !== 'OPTIONS') return next();
      if (ctx.method !== 'OPTIONS') return refuseMethod(ctx, served.allow, served.dialect);
      if (served.cors && isPreflight(ctx)) return next();
      return answerOptions(ctx, served.allow);
    }
    await next();
    // Nothing answered (oidc-provider and our routers left the 404 unset): if one of our
    // routers knows the path, the method is what is wrong.
    if (ctx.status !== 404 || ctx.body != null) return;
    const routed = routedMethods(ctx);
    if (routed.length === 0) return;
    if (ctx.method === 'OPTIONS') return answerOptions(ctx, allowList(routed));
    await refuseMethod(ctx, allowList(routed), 'ours');
  };
}
