// The service provider's endpoints of a SAML connection: its metadata, and the assertion consumer
// service the IdP posts the Response to. The ACS runs without the sign-in's cookies (a
// cross-site POST carries none): the trip's RelayState finds the sign-in, the response is
// checked against the trip's request (once: the trip is taken), and the browser goes on to the
// sign-in by GET with a one-time token for what was found (upstreamFlow.ts: keepArrival).
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
import { interactionOfState } from './paths.ts';
import { keepArrival, takeTrip, type Arrival, type UpstreamFlowDeps } from './upstreamFlow.ts';

// A signed (and perhaps encrypted) Response with a few attributes is tens of kilobytes.
const parseSamlPost = bodyParser({ enableTypes: ['form'], formLimit: '512kb', strict: true });

const NOT_SAML = new UserFacingError(404, 'Not found', 'There is no SAML connection here.');

function flowDeps(deps: FeatureDeps): UpstreamFlowDeps {
  return { db: deps.database.db, box: deps.box, issuer: deps.config.issuer, allowHttp: deps.config.env !== 'production' };
}

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
  const flow = interactionFlow(uid);
  const taken = await takeTrip(flowDeps(deps), { flow, method: 'upstream' }, relayState);
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
  const token = await keepArrival(flowDeps(deps), flow, arrival);
  ctx.set('Cache-Control', 'no-store');
  ctx.status = 303;
  ctx.redirect(`/interaction/${uid}/upstream/arrived?t=${token}`);
}

export function samlRoutes(deps: FeatureDeps): Router {
  const router = new Router();
  router.get('/federation/saml/:connection/metadata', (ctx) => metadata(ctx, deps));
  router.post('/federation/saml/:connection/acs', parseSamlPost, (ctx) => assertionConsumer(ctx, deps));
  return router;
}
