// The account area's sign-in plumbing, reachable signed in or not: the callback that the
// authorization endpoint sends the browser back to, "Sign out", and the page after it.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { renderPage } from '../http/views.ts';
import { verifyCsrf } from '../http/csrf.ts';
import { audit } from '../audit/index.ts';
import { ACCOUNT_CLIENT, redirectUriOf } from '../oidc/builtInClients.ts';
import { ACCOUNT_HOME, CALLBACK_PATH, SIGNED_OUT_PATH, SIGN_OUT_PATH } from './paths.ts';
import { takePendingSignIn, type PendingSignIn } from './signIn.ts';
import { redeemCode, type SignedIn } from './codeRedemption.ts';
import { endAccountSession, startAccountSession } from './session.ts';
import { SIGN_OUT_CSRF_PURPOSE } from './pages.ts';
import { field, formBody } from '../http/requestBodies.ts';
import type { AccountAreaDeps } from './types.ts';

interface Refusal {
  status: number;
  title: string;
  text: string;
}

const REFUSALS = {
  state: {
    status: 400,
    title: 'This sign-in is no longer valid',
    text: 'It was started in another browser, has expired, or was already finished. Sign in again.',
  },
  cancelled: { status: 403, title: 'Sign-in cancelled', text: 'You did not sign in, so your account cannot be shown.' },
  invalid: {
    status: 400,
    title: 'This sign-in could not be completed',
    text: 'The answer to the sign-in was not valid or has expired. Sign in again.',
  },
  used: { status: 400, title: 'This sign-in was already used', text: 'Each sign-in can be completed once. Sign in again.' },
  stale: {
    status: 400,
    title: 'Please sign in again',
    text: 'This change needs a recent sign-in, and the sign-in was not recent enough. Sign in again.',
  },
} satisfies Record<string, Refusal>;

async function refuse(ctx: Context, refusal: Refusal) {
  ctx.status = refusal.status;
  ctx.type = 'html';
  ctx.body = await renderPage('message', { ...refusal, link: { href: ACCOUNT_HOME, label: 'Sign in again' } });
}

/** The provider's error, named for the person (its code only when it is one of the spec's words). */
function providerError(error: string): Refusal {
  if (error === 'access_denied') return REFUSALS.cancelled;
  const code = /^[a-z_]{1,64}$/.test(error) ? ` (${error})` : '';
  return { status: 400, title: 'Sign-in failed', text: `The sign-in ended with an error${code}. Try again.` };
}

// A sign-in that asked for max_age must come back with an authentication that recent; the
// provider makes sure of it, this keeps a mistake there from passing for a fresh sign-in.
const CLOCK_LEEWAY_SECONDS = 5;
const recentEnough = (pending: PendingSignIn, signedIn: SignedIn) =>
  pending.maxAge === undefined || Math.floor(Date.now() / 1000) - signedIn.authTime <= pending.maxAge + CLOCK_LEEWAY_SECONDS;

async function callback(ctx: Context, deps: AccountAreaDeps) {
  const query = ctx.query;
  // The state proves this browser started the sign-in (no login CSRF); it serves once.
  const pending = takePendingSignIn(ctx, deps.box, query.state);
  if (!pending) return refuse(ctx, REFUSALS.state);
  // RFC 9207: the answer says who sent it.
  if (query.iss !== undefined && query.iss !== deps.config.issuer) return refuse(ctx, REFUSALS.invalid);
  if (query.error !== undefined) return refuse(ctx, providerError(String(query.error)));
  const redemption = await redeemCode(deps.provider(), query.code, {
    clientId: ACCOUNT_CLIENT.clientId,
    redirectUri: redirectUriOf(deps.config.issuer, ACCOUNT_CLIENT),
    codeVerifier: pending.codeVerifier,
    nonce: pending.nonce,
  });
  if (!redemption.ok) {
    if (redemption.reason === 'used') {
      await audit(deps.db, {
        type: 'authorization_code.replayed',
        clientId: ACCOUNT_CLIENT.clientId,
        ip: ctx.ip,
        requestId: ctx.state.requestId,
        details: { grantId: redemption.grantId ?? null, route: 'account_callback' },
      });
    }
    return refuse(ctx, REFUSALS[redemption.reason]);
  }
  if (!recentEnough(pending, redemption.signedIn)) return refuse(ctx, REFUSALS.stale);
  startAccountSession(ctx, deps.box, redemption.signedIn);
  ctx.status = 303;
  ctx.redirect(pending.returnTo);
}

/**
 * Ends the account session here, then the provider's session through RP-initiated logout (the
 * provider asks the person to confirm), which comes back to the signed-out page.
 */
function signOut(ctx: Context, deps: AccountAreaDeps) {
  verifyCsrf(ctx, SIGN_OUT_CSRF_PURPOSE, field(ctx, '_csrf'));
  endAccountSession(ctx);
  const params = new URLSearchParams({
    client_id: ACCOUNT_CLIENT.clientId,
    post_logout_redirect_uri: `${deps.config.issuer}${SIGNED_OUT_PATH}`,
  });
  ctx.status = 303;
  ctx.redirect(`${deps.provider().pathFor('end_session')}?${params}`);
}

async function signedOut(ctx: Context) {
  endAccountSession(ctx);
  ctx.type = 'html';
  ctx.body = await renderPage('message', {
    title: 'Signed out',
    text: 'You are signed out of your account.',
    link: { href: ACCOUNT_HOME, label: 'Sign in again' },
  });
}

export function signInRoutes(router: Router, deps: AccountAreaDeps): void {
  router.get(CALLBACK_PATH, (ctx) => callback(ctx, deps));
  router.post(SIGN_OUT_PATH, formBody, (ctx) => signOut(ctx, deps));
  router.get(SIGNED_OUT_PATH, signedOut);
}
