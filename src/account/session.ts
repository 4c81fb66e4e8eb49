// The account session: who is signed in to the account area, since when and how. It lives in a
// cookie sealed with SECRET_KEY (no table, nothing to sweep), on /account only, and ends after
// 30 minutes without a request or 8 hours after the sign-in, whichever comes first. Every request
// reads the user again, and checks that the provider's session it came from still stands: a
// suspended or deleted user, or a sign-out anywhere (which ends that session), ends this one.
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Db } from '../db/index.ts';
import { SealedSecretError, type SecretBox } from '../secrets/secretBox.ts';
import { findActiveUserById, type User } from '../accounts/index.ts';
import type { SignedIn } from './codeRedemption.ts';

export const ACCOUNT_SESSION_COOKIE = 'gatehouse.account';
export const IDLE_TIMEOUT_SECONDS = 30 * 60;
export const ABSOLUTE_LIFETIME_SECONDS = 8 * 3600;
const SEAL_CONTEXT = { table: 'cookies', rowId: 'account', purpose: 'account_session' };

export interface AccountSession {
  /** Names this session: what it enrols is bound to `account:<id>` (src/verifications). */
  id: string;
  userId: string;
  /** When the person last authenticated at the provider (seconds since the epoch). */
  authTime: number;
  amr: string[];
  acr?: string;
  /** The provider's (SSO) session the sign-in came from. */
  providerSessionUid?: string;
  /** When this session began and when it was last used (seconds since the epoch). */
  startedAt: number;
  lastSeenAt: number;
}

/** What a signed-in request of the account area carries (ctx.state.account). */
export interface SignedInAccount {
  session: AccountSession;
  user: User;
}

const now = () => Math.floor(Date.now() / 1000);

function writeSession(ctx: Context, box: SecretBox, session: AccountSession): void {
  const endsAt = Math.min(session.lastSeenAt + IDLE_TIMEOUT_SECONDS, session.startedAt + ABSOLUTE_LIFETIME_SECONDS);
  ctx.cookies.set(ACCOUNT_SESSION_COOKIE, box.seal(JSON.stringify(session), SEAL_CONTEXT), {
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    overwrite: true,
    path: '/account',
    maxAge: Math.max(0, endsAt - now()) * 1000,
  });
}

/** Begins an account session from a redeemed sign-in, replacing any other in this browser. */
export function startAccountSession(ctx: Context, box: SecretBox, signedIn: SignedIn): AccountSession {
  const at = now();
  const session: AccountSession = {
    id: randomUUID(),
    userId: signedIn.accountId,
    authTime: signedIn.authTime,
    amr: signedIn.amr,
    ...(signedIn.acr ? { acr: signedIn.acr } : {}),
    ...(signedIn.sessionUid ? { providerSessionUid: signedIn.sessionUid } : {}),
    startedAt: at,
    lastSeenAt: at,
  };
  writeSession(ctx, box, session);
  return session;
}

export function endAccountSession(ctx: Context): void {
  ctx.cookies.set(ACCOUNT_SESSION_COOKIE, null, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, overwrite: true, path: '/account' });
}

/** The session the cookie holds while neither idle nor too old; undefined otherwise. */
function readSession(ctx: Context, box: SecretBox): AccountSession | undefined {
  const sealed = ctx.cookies.get(ACCOUNT_SESSION_COOKIE);
  if (!sealed) return undefined;
  let session: AccountSession;
  try {
    session = JSON.parse(box.open(sealed, SEAL_CONTEXT)) as AccountSession;
  } catch (error) {
    if (error instanceof SealedSecretError || error instanceof SyntaxError) return undefined;
    throw error;
  }
  const at = now();
  if (at - session.lastSeenAt > IDLE_TIMEOUT_SECONDS || at - session.startedAt > ABSOLUTE_LIFETIME_SECONDS) return undefined;
  return session;
}

async function providerSessionStands(provider: Provider, session: AccountSession): Promise<boolean> {
  if (!session.providerSessionUid) return false;
  const sso = await provider.Session.findByUid(session.providerSessionUid);
  return sso?.accountId === session.userId;
}

export interface SessionDeps {
  db: Db;
  box: SecretBox;
  provider: () => Provider;
}

/**
 * The signed-in account of this request, with the session's idle time restarted; undefined (and
 * the cookie cleared) when there is none or it no longer stands.
 */
export async function currentAccount(ctx: Context, deps: SessionDeps): Promise<SignedInAccount | undefined> {
  const session = readSession(ctx, deps.box);
  const user = session && (await findActiveUserById(deps.db, session.userId));
  if (!session || !user || !(await providerSessionStands(deps.provider(), session))) {
    if (ctx.cookies.get(ACCOUNT_SESSION_COOKIE)) endAccountSession(ctx);
    return undefined;
  }
  const touched = { ...session, lastSeenAt: now() };
  writeSession(ctx, deps.box, touched);
  return { session: touched, user };
}
