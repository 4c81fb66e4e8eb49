// Composes the HTTP application: security middleware first, then the routes of the features
// (features.ts) for the paths they own, then oidc-provider for every protocol endpoint.
import Koa from 'koa';
import compose from 'koa-compose';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from './config.ts';
import type { Database, Db } from './db/index.ts';
import { auditDuringRequest, awaitRequestAudits, type AuditType } from './audit/index.ts';
import { ConcurrentReplayError } from './oidc/singleUse.ts';
import { withReadAhead } from './oidc/readAhead.ts';
import { requestId } from './http/requestId.ts';
import { errorHandler } from './http/errors.ts';
import { securityHeaders } from './http/securityHeaders.ts';
import { requireIssuerOrigin } from './http/hostCheck.ts';
import { answerUnservedMethods, servedEndpoints } from './http/methods.ts';
import { registrationEnabled } from './oidc/features/registration.ts';
import { FEATURES } from './features.ts';
import { pathMatcher, type FeatureDeps } from './feature.ts';
import type { AbuseDefence } from './abuse/index.ts';
import type { Mailer } from './mail/mailer.ts';
import type { SecretBox } from './secrets/secretBox.ts';
import type { ClientStore } from './oidc/clients.ts';
import { logger } from './http/logger.ts';
import { isDatabaseUnavailable } from './http/databaseErrors.ts';

/** Holds the provider in service; swapped for a new one when signing keys rotate. */
export interface ProviderSlot {
  current: Provider;
}

export interface AppDeps {
  config: Config;
  database: Database;
  box: SecretBox;
  clients: ClientStore;
  slot: ProviderSlot;
  cookieKeys: string[];
  reloadKeys: () => Promise<boolean>;
  abuse: AbuseDefence;
  mailer: Mailer;
}

/** What the features' routes and start hooks are given. */
export function featureDeps({ config, database, box, clients, slot, reloadKeys, abuse, mailer }: Omit<AppDeps, 'cookieKeys'>): FeatureDeps {
  return { config, database, box, clients, provider: () => slot.current, reloadKeys, abuse, mailer };
}

export function createApp(appDeps: AppDeps): Koa {
  const { config, slot, cookieKeys } = appDeps;
  // Only the entries our own proxies appended to X-Forwarded-For are trusted; whatever a client
  // wrote in front of them is not (it would otherwise pick its own IP for throttling and audit).
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: config.trustProxyHops, keys: cookieKeys });
  // What reaches Koa here has no answer left to give: the client went away, or Node's request
  // deadline cut off a slow body (errorHandler answers everything else). One JSON line, not
  // Koa's stack trace on stderr.
  app.on('error', (error: Error & { code?: string }, ctx?: Koa.Context) => {
    logger.info('request ended without an answer', {
      error: error.message,
      reason: error.code, // ECONNRESET, ERR_HTTP_REQUEST_TIMEOUT…
      path: ctx?.path,
      requestId: ctx?.state.requestId,
    });
  });
  app.use(requestId);
  app.use(errorHandler);
  app.use(securityHeaders({ hsts: config.env === 'production' }));
  if (config.env === 'production') app.use(requireIssuerOrigin(config.issuer));
  app.use(answerUnservedMethods(servedEndpoints({ registration: registrationEnabled(config) })));
  // Protocol requests go straight to oidc-provider; a path a feature owns passes through that
  // feature's routes first (what they do not answer still reaches the provider, for its 404s).
  const provider = providerMiddleware(slot);
  const deps = featureDeps(appDeps);
  const mounted = FEATURES.flatMap((feature) =>
    feature.routes && feature.paths ? [{ owns: pathMatcher(feature.paths), routes: feature.routes(deps) }] : [],
  );
  app.use((ctx, next) => {
    const feature = mounted.find((m) => m.owns(ctx.path));
    return feature ? feature.routes(ctx, () => provider(ctx, next)) : provider(ctx, next);
  });
  return app;
}

// The provider is a Koa application of its own; mounted at the root, running its middleware
// against our context is all koa-mount would do. One composition per provider instance.
function providerMiddleware(slot: ProviderSlot): Koa.Middleware {
  const composed = new WeakMap<Provider, Koa.Middleware>();
  return async (ctx, next) => {
    const provider = slot.current;
    let middleware = composed.get(provider);
    if (!middleware) {
      middleware = compose((provider as unknown as Koa).middleware) as Koa.Middleware;
      composed.set(provider, middleware);
    }
    try {
      await withReadAhead(() => (middleware as Koa.Middleware)(ctx, next));
    } finally {
      await awaitRequestAudits(ctx);
    }
  };
}

/** Wires provider events to our logs and error mapping. */
export function observeProvider(provider: Provider, db: Db): void {
  provider.on('server_error', (ctx, error) => {
    ctx.state.providerError = error;
    if (isDatabaseUnavailable(error)) logger.warn('database unavailable', { error: error.message, path: ctx.path });
    else logger.error('provider server_error', { error: error.message, stack: error.stack, path: ctx.path });
  });
  // At the token endpoint a grant is revoked only when a used code or refresh token comes back:
  // a sign that it was stolen, worth its own audit event. Sequential replays go through
  // oidc-provider's revocation (grant.revoked); a request that loses a race to consume reports
  // a ConcurrentReplayError (grant.error), its grant already revoked (see oidc/singleUse.ts).
  provider.on('grant.revoked', (ctx, grantId) => {
    auditDuringRequest(db, ctx, {
      type: replayAuditType(ctx),
      clientId: ctx.oidc?.client?.clientId,
      ip: ctx.ip,
      requestId: ctx.state.requestId,
      details: { grantId, route: ctx.oidc?.route },
    });
  });
  provider.on('grant.error', (ctx, error) => {
    if (!(error instanceof ConcurrentReplayError)) return;
    auditDuringRequest(db, ctx, {
      type: replayAuditType(ctx),
      clientId: ctx.oidc?.client?.clientId,
      ip: ctx.ip,
      requestId: ctx.state.requestId,
      details: { grantId: error.grantId ?? null, route: ctx.oidc?.route, concurrent: true },
    });
  });
}

// What a grant revoked at the token endpoint says about the artefact that came back.
const REPLAY_AUDIT_TYPES: Record<string, AuditType> = {
  authorization_code: 'authorization_code.replayed',
  refresh_token: 'refresh_token.reused',
  'urn:ietf:params:oauth:grant-type:device_code': 'device_code.replayed',
};

function replayAuditType(ctx: KoaContextWithOIDC): AuditType {
  const grantType = ctx.oidc?.route === 'token' ? ctx.oidc.params?.grant_type : undefined;
  return (typeof grantType === 'string' && REPLAY_AUDIT_TYPES[grantType]) || 'grant.revoked';
}
