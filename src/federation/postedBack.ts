// What providers post back: a SAML Response to a connection's assertion consumer service, and
// an OpenID provider's code with response_mode=form_post to the shared callback (with a SAML
// connection's metadata beside them). A cross-site POST carries none of the sign-in's cookies
// (SameSite): the state (RelayState) finds the sign-in, the answer is checked against the trip
// (once: the trip is taken), and the browser goes on to the sign-in by GET with a one-time token
// for what was found (upstreamFlow.ts: keepArrival).
import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import type { Context } from 'koa';
import type { FeatureDeps } from '../feature.ts';
import { UserFacingError } from '../http/errors.ts';
import { containsNul } from '../db/text.ts';
import { interactionFlow } from '../verifications/index.ts';
import { connectionForSignIn } from './connections.ts';
import { finishSamlSignIn, samlMetadata } from './saml.ts';
import { UpstreamError } from './oidcUpstream.ts';
import { FEDERATION_CALLBACK_PATH, interactionOfState } from './paths.ts';
import { arriveFrom, keepArrival, takeTrip, type Arrival, type UpstreamFlowDeps, upstreamFlowDeps } from './upstreamFlow.ts';
import { formBody } from '../http/requestBodies.ts';

// A signed (and perhaps encrypted) Response with a few attributes is tens of kilobytes.
const parseSamlPost = bodyParser({ enableTypes: ['form'], formLimit: '512kb', strict: true });

const NOT_SAML = new UserFacingError(404, 'Not found', 'There is no SAML connection here.');

const flowDeps = (deps: FeatureDeps): UpstreamFlowDeps => upstreamFlowDeps(deps.config, deps.database.db, deps.box);

async function metadata(ctx: Context, deps: FeatureDeps) {
  const connection = await connectionForSignIn(deps.database.db, deps.box, ctx.params.connection);
  if (connection?.type !== 'saml') throw NOT_SAML;
  ctx.type = 'application/samlmetadata+xml';
  ctx.body = samlMetadata({ issuer: deps.config.issuer }, connection);
}

async function assertionConsumer(ctx: Context, deps: FeatureDeps) {
  const form = (ctx.request.body ?? {}) as Record<string, unknown>;
  if (containsNul(form)) throw new UserFacingError(400, 'Bad request', 'The SAML response contains characters we do not accept.');
  const relayState = typeof form.RelayState === 'string' ? form.RelayState : '';
  const uid = interactionOfState(relayState);
  // Without our RelayState the response answers nothing we asked: IdP-initiated sign-in is off.
  if (!uid) throw new UserFacingError(400, 'This sign-in is not valid', 'Start signing in from the application.');
  // An ACS of no SAML connection answers nothing, and takes no trip.
  const connection = await connectionForSignIn(deps.database.db, deps.box, ctx.params.connection);
  if (connection?.type !== 'saml') throw NOT_SAML;
  const taken = await takeTrip(flowDeps(deps), { flow: interactionFlow(uid), method: 'upstream' }, relayState);
  let arrival: Arrival;
  if (!taken.ok) arrival = taken;
  else if (taken.connection.type !== 'saml' || taken.connection.id !== ctx.params.connection) arrival = { ok: false, problem: 'stale' };
  else {
    try {
      const identity = await finishSamlSignIn({ issuer: deps.config.issuer }, taken.connection, taken.checks, form);
      arrival = { ok: true, connection: taken.connection, identity };
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      arrival = { ok: false, problem: error.kind, connection: taken.connection, reason: error.message };
    }
  }
  await onToSignIn(ctx, deps, uid, arrival);
}

/**
 * Keeps what was found for the sign-in and sends the browser on to it, by GET. A post that found
 * no trip waiting keeps nothing (anyone can post): the sign-in, given no token, says the sign-in
 * was already used or has expired.
 */
async function onToSignIn(ctx: Context, deps: FeatureDeps, uid: string, arrival: Arrival) {
  const stale = !arrival.ok && arrival.problem === 'stale';
  const token = stale ? '' : await keepArrival(flowDeps(deps), interactionFlow(uid), arrival);
  ctx.set('Cache-Control', 'no-store');
  ctx.status = 303;
  ctx.redirect(`/interaction/${uid}/upstream/arrived${token ? `?t=${token}` : ''}`);
}

/** An OpenID provider posted the code back (response_mode=form_post). */
async function formPostCallback(ctx: Context, deps: FeatureDeps) {
  const posted = Object.entries(ctx.request.body as Record<string, unknown>).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  const params = new URLSearchParams(posted);
  const uid = interactionOfState(params.get('state') ?? '');
  if (!uid) throw new UserFacingError(400, 'This sign-in link is not valid', 'Return to the application and start again.');
  await onToSignIn(ctx, deps, uid, await arriveFrom(flowDeps(deps), { flow: interactionFlow(uid), method: 'upstream' }, params, 'POST'));
}

export function postedBackRoutes(deps: FeatureDeps): Router {
  const router = new Router();
  router.get('/federation/saml/:connection/metadata', (ctx) => metadata(ctx, deps));
  router.post('/federation/saml/:connection/acs', parseSamlPost, (ctx) => assertionConsumer(ctx, deps));
  router.post(FEDERATION_CALLBACK_PATH, formBody, (ctx) => formPostCallback(ctx, deps));
  return router;
}
