// SAML single logout (SLO) for SAML connections with an slo_url and our signing key, by the
// HTTP-Redirect binding in both directions (the protocol is in saml.ts).
//
// A SAML sign-in leaves this browser a sealed cookie naming the connection, the account, the
// NameID and the IdP's SessionIndex (rememberSamlSession, set by the upstream sign-in method):
// what a logout must name, and what an IdP's LogoutRequest is matched against. It holds no
// secret, but the browser can neither read nor alter it.
//
//   POST /session/end/confirm                  oidc-provider ends the Gatehouse session (RP-initiated
//                                              logout) and redirects; when this browser signed in
//                                              through a connection with SLO, the redirect goes to
//                                              the IdP instead, with our signed LogoutRequest
//                                              (the provider's destination kept, one-time, for …)
//   GET  /federation/saml/<connection>/slo     … the IdP's LogoutResponse: checked, then on to that
//                                              destination (or to the signed-out page when it does
//                                              not hold: the Gatehouse session is over either way).
//                                              Or the IdP's own LogoutRequest: checked, this
//                                              browser's Gatehouse session ended when that SAML
//                                              session signed it in, and our signed LogoutResponse
//                                              back to the IdP.
//
// GET /slo is a SAML binding, not a form: what it acts on is signed by the IdP (no CSRF token).
// Audited as logout.saml / logout.saml_refused with the connection, never the NameID.
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { FeatureDeps } from '../feature.ts';
import type { SamlSessionRef } from './saml.ts';
import { audit, type AuditType } from '../audit/index.ts';
import { UserFacingError } from '../http/errors.ts';
import { logger } from '../http/logger.ts';
import { TTL } from '../oidc/features/core.ts';
import { SealedSecretError, type SecretBox } from '../secrets/secretBox.ts';
import { startVerification, takeChallenge } from '../verifications/index.ts';
import { connectionForSignIn, type SamlConnection } from './connections.ts';
import { UpstreamError } from './oidcUpstream.ts';
import { finishSamlLogout, readSamlLogoutRequest, samlLogoutResponseUrl, sloEnabled, startSamlLogout } from './saml.ts';

export const SAML_SESSION_COOKIE = 'gatehouse.saml_session';
const SEAL_CONTEXT = { table: 'cookies', rowId: 'saml', purpose: 'saml_session' };
const END_SESSION_CONFIRM = '/session/end/confirm';
const SIGNED_OUT = '/session/end/success';
/** The signed-out page, saying the IdP may not have signed the person out (see oidc/features/logout.ts). */
const SIGNED_OUT_IDP_UNCONFIRMED = `${SIGNED_OUT}?saml_logout=unconfirmed`;
const LOGOUT_METHOD = 'saml_logout';
/** How long the IdP has to answer our LogoutRequest. */
const LOGOUT_LIFETIME_SECONDS = 600;

/** The SAML session a browser signed in with. */
export interface RememberedSamlSession extends SamlSessionRef {
  connection: string;
  /** The account it signed in: a logout acts only on a Gatehouse session of that account. */
  userId: string;
}

const cookieOptions = (ctx: Context) => ({ httpOnly: true, sameSite: 'lax' as const, secure: ctx.secure, overwrite: true, path: '/' });

/** Remembers, for single logout, the SAML session this browser has just signed in with. */
export function rememberSamlSession(ctx: Context, box: SecretBox, session: RememberedSamlSession): void {
  ctx.cookies.set(SAML_SESSION_COOKIE, box.seal(JSON.stringify(session), SEAL_CONTEXT), {
    ...cookieOptions(ctx),
    maxAge: TTL.Session * 1000,
  });
}

function rememberedSamlSession(ctx: Context, box: SecretBox): RememberedSamlSession | undefined {
  const sealed = ctx.cookies.get(SAML_SESSION_COOKIE);
  if (!sealed) return undefined;
  try {
    const session = JSON.parse(box.open(sealed, SEAL_CONTEXT)) as RememberedSamlSession;
    return typeof session?.nameID === 'string' && typeof session.connection === 'string' ? session : undefined;
  } catch (error) {
    if (error instanceof SealedSecretError || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

const forgetSamlSession = (ctx: Context) => ctx.cookies.set(SAML_SESSION_COOKIE, null, cookieOptions(ctx));

const samlDeps = (deps: FeatureDeps) => ({ issuer: deps.config.issuer, allowHttp: deps.config.env !== 'production' });
const logoutFlow = (relayState: string) => `saml-logout:${relayState}`;

function auditLogout(ctx: Context, deps: FeatureDeps, type: AuditType, userId: string | undefined, details: Record<string, unknown>) {
  return audit(deps.database.db, { type, userId: userId ?? null, ip: ctx.ip, requestId: ctx.state.requestId, details });
}

async function samlConnection(deps: FeatureDeps, id: string): Promise<(SamlConnection & { clientSecret?: string }) | undefined> {
  const connection = await connectionForSignIn(deps.database.db, deps.box, id);
  return connection?.type === 'saml' && sloEnabled(connection) ? (connection as SamlConnection & { clientSecret?: string }) : undefined;
}

/**
 * Wraps oidc-provider's answer to the logout confirmation: once it has ended the Gatehouse
 * session (the person chose "Sign out") and redirected, a browser that signed in through a
 * connection with single logout goes to the IdP first, with the provider's destination kept for
 * the way back. Anything that prevents it leaves the provider's answer as it was.
 */
export function endSessionWithIdp(deps: FeatureDeps): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== END_SESSION_CONFIRM) return next();
    await next();
    const remembered = rememberedSamlSession(ctx, deps.box);
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    const destination = ctx.response.get('Location');
    // "Stay signed in", or no answer to redirect: the Gatehouse session goes on, and so does the SAML one.
    if (!remembered || ctx.status !== 303 || !destination || !oidc?.params?.logout) return;
    forgetSamlSession(ctx);
    if (oidc.session?.accountId !== remembered.userId) return;
    const connection = await samlConnection(deps, remembered.connection);
    if (!connection) return;
    const relayState = randomBytes(24).toString('base64url');
    try {
      const { url, requestId } = await startSamlLogout(samlDeps(deps), connection, remembered, relayState);
      await startVerification(deps.database.db, {
        flow: logoutFlow(relayState),
        method: LOGOUT_METHOD,
        challenge: relayState,
        userId: remembered.userId,
        state: { connection: connection.id, requestId, destination },
        lifetimeSeconds: LOGOUT_LIFETIME_SECONDS,
      });
      ctx.status = 303;
      ctx.redirect(url.href);
    } catch (error) {
      // The Gatehouse session is over already: whatever fails here, the provider's redirect stands.
      if (!(error instanceof UpstreamError)) {
        logger.warn('SAML single logout not started', { connection: connection.id, error: (error as Error).message });
        return;
      }
      await auditLogout(ctx, deps, 'logout.saml_refused', remembered.userId, {
        connection: connection.id,
        initiated_by: 'gatehouse',
        problem: error.kind,
        reason: error.message,
      });
    }
  };
}

/** The IdP's LogoutResponse to ours: on to where the provider was sending the browser. */
async function logoutAnswered(ctx: Context, deps: FeatureDeps) {
  const relayState = typeof ctx.query.RelayState === 'string' ? ctx.query.RelayState : '';
  const record =
    relayState.length && relayState.length <= 100
      ? await takeChallenge(deps.database.db, logoutFlow(relayState), LOGOUT_METHOD, relayState)
      : undefined;
  const kept = record?.state as { connection?: string; requestId?: string; destination?: string } | undefined;
  const userId = record?.userId ?? undefined;
  const refuse = async (problem: string, reason?: string) => {
    await auditLogout(ctx, deps, 'logout.saml_refused', userId, {
      connection: ctx.params.connection,
      initiated_by: 'gatehouse',
      problem,
      ...(reason && { reason }),
    });
    // Signed out here all the same; whether the IdP did is not known.
    ctx.status = 303;
    ctx.redirect(SIGNED_OUT_IDP_UNCONFIRMED);
  };
  if (!kept?.requestId || !kept.destination || kept.connection !== ctx.params.connection) return refuse('stale');
  const connection = await samlConnection(deps, ctx.params.connection);
  if (!connection) return refuse('gone');
  try {
    await finishSamlLogout(samlDeps(deps), connection, ctx.querystring, kept.requestId);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    return refuse(error.kind, error.message);
  }
  await auditLogout(ctx, deps, 'logout.saml', userId, { connection: connection.id, initiated_by: 'gatehouse' });
  ctx.status = 303;
  ctx.redirect(kept.destination);
}

/**
 * Ends this browser's Gatehouse session, as the provider's logout does when the person signs out
 * of everything: the session, and the grants of its authorizations that do not outlast it
 * (offline access), with their tokens. Only a session of `userId`'s.
 */
async function endGatehouseSession(ctx: Context, deps: FeatureDeps, userId: string): Promise<boolean> {
  const provider = deps.provider();
  const session = await provider.Session.get(ctx as unknown as KoaContextWithOIDC);
  if (!session.accountId || session.accountId !== userId) return false;
  for (const [clientId, authorization] of Object.entries(session.authorizations ?? {})) {
    const { grantId } = authorization as { grantId?: string };
    if (!grantId || session.authorizationFor(clientId)?.persistsLogout) continue;
    await Promise.all([
      provider.AccessToken.revokeByGrantId(grantId),
      provider.RefreshToken.revokeByGrantId(grantId),
      provider.AuthorizationCode.revokeByGrantId(grantId),
      provider.DeviceCode.revokeByGrantId(grantId),
      provider.Grant.adapter.destroy(grantId),
    ]);
  }
  await session.destroy();
  ctx.cookies.set(provider.cookieName('session'), null, { signed: true, httpOnly: true, sameSite: 'lax', overwrite: true });
  return true;
}

/** The IdP signs the person out: this browser's Gatehouse session ends when it is the one that SAML session signed in. */
async function idpLogoutRequest(ctx: Context, deps: FeatureDeps, connection: SamlConnection & { clientSecret?: string }) {
  let request: Awaited<ReturnType<typeof readSamlLogoutRequest>>;
  try {
    request = await readSamlLogoutRequest(samlDeps(deps), connection, ctx.querystring);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    await auditLogout(ctx, deps, 'logout.saml_refused', undefined, {
      connection: connection.id,
      initiated_by: 'idp',
      problem: error.kind,
      reason: error.message,
    });
    throw new UserFacingError(
      400,
      'This sign-out request is not valid',
      'The sign-out request could not be checked. You are still signed in.',
    );
  }
  const remembered = rememberedSamlSession(ctx, deps.box);
  const sameSession =
    remembered?.connection === connection.id &&
    remembered.nameID === request.profile.nameID &&
    // Without a SessionIndex the request signs out every session of that NameID.
    (!request.sessionIndexes.length || (remembered.sessionIndex !== undefined && request.sessionIndexes.includes(remembered.sessionIndex)));
  let ended = false;
  if (sameSession && remembered) {
    ended = await endGatehouseSession(ctx, deps, remembered.userId);
    forgetSamlSession(ctx);
  }
  // Success when this browser's SAML session is over: ended now, or none here at all (already
  // signed out). A session of someone else's, or signed in otherwise, is not the IdP's to end.
  const success = sameSession || (!remembered && !(await hasGatehouseSession(ctx, deps)));
  await auditLogout(ctx, deps, 'logout.saml', remembered?.userId, {
    connection: connection.id,
    initiated_by: 'idp',
    session_ended: ended,
    status: success ? 'success' : 'unknown_principal',
  });
  let url: URL;
  try {
    url = await samlLogoutResponseUrl(samlDeps(deps), connection, request, success);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    logger.warn('SAML logout response not sent', { connection: connection.id, reason: error.message });
    ctx.status = 303;
    ctx.redirect(SIGNED_OUT);
    return;
  }
  ctx.status = 303;
  ctx.redirect(url.href);
}

async function hasGatehouseSession(ctx: Context, deps: FeatureDeps): Promise<boolean> {
  const session = await deps.provider().Session.get(ctx as unknown as KoaContextWithOIDC);
  return Boolean(session.accountId);
}

async function singleLogout(ctx: Context, deps: FeatureDeps) {
  ctx.set('Cache-Control', 'no-store');
  // The answer to our LogoutRequest finds its way by its RelayState, also when the connection has changed since.
  if (typeof ctx.query.SAMLResponse === 'string') return logoutAnswered(ctx, deps);
  const connection = await samlConnection(deps, ctx.params.connection);
  if (!connection) throw new UserFacingError(404, 'Not found', 'There is no SAML single logout service here.');
  if (typeof ctx.query.SAMLRequest === 'string') return idpLogoutRequest(ctx, deps, connection);
  throw new UserFacingError(400, 'Bad request', 'No SAML logout message was sent.');
}

export function samlLogoutRoutes(deps: FeatureDeps): Router {
  const router = new Router();
  router.get('/federation/saml/:connection/slo', (ctx) => singleLogout(ctx, deps));
  return router;
}
