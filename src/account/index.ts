// The self-service account area at /account: a built-in first-party client of Gatehouse itself
// (oidc/builtInClients.ts), signed in through our own authorization endpoint (signIn.ts,
// codeRedemption.ts), with its own short session (session.ts) and a recent sign-in for sensitive
// changes (recentSignIn.ts). Its pages are sections (sections.ts) in one layout.
import Router from '@koa/router';
import compose from 'koa-compose';
import type { Context, Next } from 'koa';
import type Koa from 'koa';
import type { Feature } from '../feature.ts';
import { ACCOUNT_HOME } from './paths.ts';
import { ensureAccountClient } from './client.ts';
import { signInRoutes } from './signInRoutes.ts';
import { signInUrl, startSignIn } from './signIn.ts';
import { currentAccount } from './session.ts';
import { RecentSignInRequired } from './recentSignIn.ts';
import { SECTIONS, sectionOf } from './sections.ts';
import type { AccountAreaDeps } from './types.ts';

export { requireRecentSignIn, signedInAccount, RECENT_SIGN_IN_SECONDS } from './recentSignIn.ts';
export type { AccountAreaDeps, AccountSection } from './types.ts';

export const accountAreaFeature: Feature = {
  name: 'account area',
  // The emailed-link pages under /account (src/accountLinks) claim their exact paths first.
  paths: [ACCOUNT_HOME, `${ACCOUNT_HOME}/*`],
  routes: ({ config, database, box, provider }) => accountRoutes({ config, db: database.db, box, provider }),
  start: ensureAccountClient,
};

const signInDeps = (deps: AccountAreaDeps) => ({ issuer: deps.config.issuer, box: deps.box, provider: deps.provider });

// The passkey script talks JSON; it cannot follow a redirect to the sign-in pages itself.
const wantsJson = (ctx: Context) => ctx.is('application/json') === 'application/json' || ctx.accepts('html', 'json') === 'json';

/** Where a request that needs a (recent) sign-in is sent: the page itself, or its section's page. */
function sendToSignIn(ctx: Context, deps: AccountAreaDeps, returnTo: string, maxAge?: number): void {
  if (!wantsJson(ctx)) {
    startSignIn(ctx, signInDeps(deps), { returnTo, maxAge });
    return;
  }
  ctx.status = 401;
  ctx.type = 'application/problem+json';
  ctx.body = {
    type: 'about:blank',
    title: 'Sign in again',
    status: 401,
    detail: 'For your security, sign in again to make this change.',
    sign_in: signInUrl(ctx, signInDeps(deps), { returnTo, maxAge }),
    request_id: ctx.state.requestId,
  };
}

/**
 * Every section's request is signed in: without an account session, a GET signs in and comes
 * back to the same page; a form or script request signs in and comes back to its section.
 */
function requireAccount(deps: AccountAreaDeps) {
  return async (ctx: Context, next: Next) => {
    const section = sectionOf(ctx.path);
    const sectionPage = section?.path ?? ACCOUNT_HOME;
    const account = await currentAccount(ctx, deps);
    if (!account) {
      sendToSignIn(ctx, deps, ctx.method === 'GET' ? ctx.url : sectionPage);
      return;
    }
    ctx.state.account = account;
    ctx.state.accountSectionPath = sectionPage;
    ctx.state.accountNav = SECTIONS.map(({ label, path }) => ({ label, path, current: path === sectionPage }));
    try {
      await next();
    } catch (error) {
      if (!(error instanceof RecentSignInRequired)) throw error;
      sendToSignIn(ctx, deps, error.returnTo, error.maxAgeSeconds);
    }
  };
}

// Personal pages and one-time codes: never cached, by the browser or anyone between.
const noStore: Koa.Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  await next();
};

export function accountRoutes(deps: AccountAreaDeps): Koa.Middleware {
  const open = new Router();
  signInRoutes(open, deps);
  const signedIn = new Router();
  signedIn.use(requireAccount(deps));
  for (const section of SECTIONS) section.routes(signedIn, deps);
  return compose([noStore, open.routes() as Koa.Middleware, signedIn.routes() as Koa.Middleware]);
}
