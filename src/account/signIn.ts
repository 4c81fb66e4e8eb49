// Signing in to the account area: the browser goes through Gatehouse's own authorization
// endpoint as the built-in client (oidc/builtInClients.ts), with state, nonce and PKCE (S256),
// exactly as any relying party's sign-in does, so every sign-in method, prompt and policy applies
// here too. What the callback needs to finish the request (state, nonce, code verifier, where to
// go back to) is kept in a short-lived cookie sealed with SECRET_KEY: the browser carries it but
// can neither read nor alter it. It holds the last few requests, so two tabs signing in at once
// both finish.
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { SecretBox } from '../secrets/secretBox.ts';
import { SealedSecretError } from '../secrets/secretBox.ts';
import { ACCOUNT_CLIENT, redirectUriOf } from '../oidc/builtInClients.ts';
import { ACCOUNT_HOME, isAccountPath } from './paths.ts';
import { pkceChallenge } from './codeRedemption.ts';

export const SIGN_IN_COOKIE = 'gatehouse.account_sign_in';
/** Long enough to sign in, reset a forgotten password or verify an address on the way. */
const SIGN_IN_LIFETIME_MS = 30 * 60 * 1000;
const KEPT_REQUESTS = 3;
const SEAL_CONTEXT = { table: 'cookies', rowId: 'account', purpose: 'account_sign_in' };

export interface SignInDeps {
  issuer: string;
  box: SecretBox;
  provider: () => Provider;
}

/** An authorization request on its way: what its callback checks and uses. */
export interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** An account-area path to land on once signed in. */
  returnTo: string;
  /** The max_age the request asked for (a re-authentication), in seconds. */
  maxAge?: number;
  expiresAt: number;
}

const random = () => randomBytes(32).toString('base64url');

/** Where to come back to: an account-area path of our own origin, or the account home. */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2000) return ACCOUNT_HOME;
  // Only a path: "//evil.example" and "/\evil.example" are other hosts to a browser.
  if (!value.startsWith('/') || value.startsWith('//') || /[\\\s]/.test(value)) return ACCOUNT_HOME;
  const url = URL.parse(value, 'http://gatehouse.invalid');
  if (url?.host !== 'gatehouse.invalid' || !isAccountPath(url.pathname)) return ACCOUNT_HOME;
  return `${url.pathname}${url.search}`;
}

function readPending(ctx: Context, box: SecretBox): PendingSignIn[] {
  const sealed = ctx.cookies.get(SIGN_IN_COOKIE);
  if (!sealed) return [];
  try {
    const list = JSON.parse(box.open(sealed, SEAL_CONTEXT)) as PendingSignIn[];
    return Array.isArray(list) ? list.filter((p) => p.expiresAt > Date.now()) : [];
  } catch (error) {
    if (error instanceof SealedSecretError || error instanceof SyntaxError) return [];
    throw error;
  }
}

function writePending(ctx: Context, box: SecretBox, list: PendingSignIn[]): void {
  const options = { httpOnly: true, sameSite: 'lax' as const, secure: ctx.secure, overwrite: true, path: '/account' };
  if (!list.length) {
    ctx.cookies.set(SIGN_IN_COOKIE, null, options);
    return;
  }
  ctx.cookies.set(SIGN_IN_COOKIE, box.seal(JSON.stringify(list), SEAL_CONTEXT), { ...options, maxAge: SIGN_IN_LIFETIME_MS });
}

export interface SignInRequest {
  returnTo?: string;
  /** Asks for a sign-in no older than this (OpenID Connect's max_age), in seconds. */
  maxAge?: number;
}

/**
 * The authorization request that signs in to the account area, as a URL to send the browser to;
 * what its callback needs is kept in the cookie.
 */
export function signInUrl(ctx: Context, deps: SignInDeps, request: SignInRequest = {}): string {
  const pending: PendingSignIn = {
    state: random(),
    nonce: random(),
    codeVerifier: random(),
    returnTo: safeReturnTo(request.returnTo),
    ...(request.maxAge !== undefined ? { maxAge: request.maxAge } : {}),
    expiresAt: Date.now() + SIGN_IN_LIFETIME_MS,
  };
  writePending(ctx, deps.box, [...readPending(ctx, deps.box).slice(-(KEPT_REQUESTS - 1)), pending]);
  const params = new URLSearchParams({
    client_id: ACCOUNT_CLIENT.clientId,
    response_type: 'code',
    scope: ACCOUNT_CLIENT.scope,
    redirect_uri: redirectUriOf(deps.issuer, ACCOUNT_CLIENT),
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: pkceChallenge(pending.codeVerifier),
    code_challenge_method: 'S256',
  });
  if (pending.maxAge !== undefined) params.set('max_age', String(pending.maxAge));
  return `${deps.provider().pathFor('authorization')}?${params}`;
}

/** Sends the browser to sign in to the account area. */
export function startSignIn(ctx: Context, deps: SignInDeps, request: SignInRequest = {}): void {
  const url = signInUrl(ctx, deps, request);
  ctx.status = 303;
  ctx.redirect(url);
}

/** The request the callback's `state` names, taken out of the cookie: it serves once. */
export function takePendingSignIn(ctx: Context, box: SecretBox, state: unknown): PendingSignIn | undefined {
  const list = readPending(ctx, box);
  const found = typeof state === 'string' ? list.find((p) => p.state === state) : undefined;
  if (found)
    writePending(
      ctx,
      box,
      list.filter((p) => p !== found),
    );
  return found;
}
