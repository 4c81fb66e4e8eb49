// Sensitive changes (adding or removing a sign-in factor) need a recent sign-in, not just a live
// session: someone who finds a signed-in browser must not be able to add their own factor. When
// the session's sign-in is older than allowed, the change is not made; the person signs in again
// through the authorization endpoint with max_age, and comes back to the page they were on to do
// it again.
import type { Context } from 'koa';
import { ACCOUNT_HOME } from './paths.ts';
import type { SignedInAccount } from './session.ts';

/** How recent a sign-in must be for a sensitive change, in seconds. */
export const RECENT_SIGN_IN_SECONDS = 300;

/** Thrown by requireRecentSignIn; the account area's router sends the person to sign in again. */
export class RecentSignInRequired extends Error {
  readonly maxAgeSeconds: number;
  readonly returnTo: string;
  constructor(maxAgeSeconds: number, returnTo: string) {
    super('A recent sign-in is required for this change');
    this.name = 'RecentSignInRequired';
    this.maxAgeSeconds = maxAgeSeconds;
    this.returnTo = returnTo;
  }
}

/** The account this request of the account area is signed in as (its router makes sure of one). */
export function signedInAccount(ctx: Context): SignedInAccount {
  const account = ctx.state.account as SignedInAccount | undefined;
  if (!account) throw new Error('signedInAccount used outside the signed-in account area');
  return account;
}

/**
 * The page to come back to after signing in again: the page itself for a GET, else the page of
 * the section whose form was posted.
 */
function currentPage(ctx: Context): string {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return ctx.url;
  return (ctx.state.accountSectionPath as string | undefined) ?? ACCOUNT_HOME;
}

/**
 * Refuses (by throwing RecentSignInRequired) unless the account session's sign-in is at most
 * `maxAgeSeconds` old. Call it before making the change.
 */
export function requireRecentSignIn(ctx: Context, maxAgeSeconds = RECENT_SIGN_IN_SECONDS, returnTo?: string): void {
  const { session } = signedInAccount(ctx);
  if (Math.floor(Date.now() / 1000) - session.authTime <= maxAgeSeconds) return;
  throw new RecentSignInRequired(maxAgeSeconds, returnTo ?? currentPage(ctx));
}
