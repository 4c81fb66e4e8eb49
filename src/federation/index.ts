// Federation: connections to upstream identity providers (connections.ts), the identities they
// vouch for (identities.ts, accounts.ts), and the protocols (oidcUpstream.ts). The sign-in itself
// is a method of the login prompt (src/interactions/methods/upstream.ts); this feature serves the
// one redirect URI every provider is given, and sends the browser on to its sign-in; and SAML
// single logout (samlLogout.ts).
import Router from '@koa/router';
import type Koa from 'koa';
import type { Feature } from '../feature.ts';
import { UserFacingError } from '../http/errors.ts';
import { FEDERATION_CALLBACK_PATH, returnPathOf } from './paths.ts';
import { postedBackRoutes } from './postedBack.ts';
import { endSessionWithIdp, samlLogoutRoutes } from './samlLogout.ts';
import compose from 'koa-compose';

export * from './connections.ts';
export * from './identities.ts';
export * from './connectionImport.ts';
export * from './paths.ts';

function callbackRoutes(): Router {
  const router = new Router();
  // The browser comes back here from the provider and goes on to whoever started the trip (see
  // paths.ts), where the state is checked against the one kept for it and the code redeemed.
  router.get(FEDERATION_CALLBACK_PATH, (ctx) => {
    const path = returnPathOf(typeof ctx.query.state === 'string' ? ctx.query.state : '');
    if (!path) throw new UserFacingError(400, 'This sign-in link is not valid', 'Return to the application and start again.');
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(`${path}?${ctx.querystring}`);
  });
  return router;
}

export const federationFeature: Feature = {
  name: 'federation',
  // The logout confirmation is oidc-provider's: SAML single logout wraps its answer (samlLogout.ts).
  paths: ['/federation/*', '/session/end/confirm'],
  routes: (deps) =>
    compose([
      endSessionWithIdp(deps),
      callbackRoutes().routes(),
      postedBackRoutes(deps).routes(),
      samlLogoutRoutes(deps).routes(),
    ]) as Koa.Middleware,
};
