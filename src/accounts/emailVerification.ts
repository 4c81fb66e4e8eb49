// Email verification: a link (good for a day) and a 6-digit code beside it (typed on the screen
// that says "check your email"). Either proves the address; `email_verified` becomes true only
// then. Re-sending has a cool-down; a new email makes the previous link and code worthless.
import { afterCommit, commitChange, type ServiceContext } from '../changes/index.ts';
import type { Db } from '../db/index.ts';
import { consumeCode, consumeToken, issueToken, lastIssuedAt, type OneTimeToken, type TokenRefusal } from './oneTimeTokens.ts';
import type { User } from './users.ts';
import { type AccountDeps, TOKEN_LIFETIME_SECONDS, linkTo, queueMail } from './selfServiceDeps.ts';

export const RESEND_COOL_DOWN_SECONDS = 60;

/** Seconds until another verification email may be sent to this user (0: now). */
export async function verificationCoolDown(db: Db, userId: string): Promise<number> {
  const last = await lastIssuedAt(db, userId, 'verify_email');
  if (!last) return 0;
  return Math.max(0, Math.ceil((last.getTime() + RESEND_COOL_DOWN_SECONDS * 1000 - Date.now()) / 1000));
}

/** Issues a verification link and code and queues the email with them, in the caller's transaction. */
export async function queueVerification(trx: Db, deps: AccountDeps, user: User, data: Record<string, unknown>): Promise<void> {
  const issued = await issueToken(trx, deps.box, {
    purpose: 'verify_email',
    userId: user.id,
    ttlSeconds: TOKEN_LIFETIME_SECONDS.verify_email,
    withCode: true,
    data,
  });
  await queueMail(trx, deps, {
    to: user.email,
    template: 'verify_email',
    data: { link: linkTo(deps, 'verify_email', issued.token), code: issued.code, expiresMinutes: TOKEN_LIFETIME_SECONDS.verify_email / 60 },
  });
}

/** Sends a new verification link and code; `data` travels with the token (e.g. the sign-in it finishes). */
export async function sendVerificationEmail(
  ctx: ServiceContext,
  deps: AccountDeps,
  user: User,
  data: Record<string, unknown> = {},
): Promise<void> {
  await commitChange(ctx, async (trx) => {
    await queueVerification(trx, deps, user, data);
    return { value: undefined, record: { type: 'user.verification_sent', subject: user.id, userId: user.id, data: {} } };
  });
  afterCommit(ctx.db, deps.mailQueued);
}

async function markVerified(trx: Db, token: OneTimeToken): Promise<User | undefined> {
  const [user] = (await trx('users')
    .where('id', token.user_id)
    .update({ email_verified: true, updated_at: trx.fn.now() })
    .returning('*')) as User[];
  return user;
}

export type VerificationOutcome = { ok: true; user: User; token: OneTimeToken } | { ok: false; reason: TokenRefusal };

/** Follows a verification link. */
export async function verifyEmailWithLink(ctx: ServiceContext, token: unknown): Promise<VerificationOutcome> {
  return commitChange<VerificationOutcome>(ctx, async (trx) => {
    const used = await consumeToken(trx, 'verify_email', token);
    const user = used.ok ? await markVerified(trx, used.token) : undefined;
    if (!used.ok || !user) return { value: { ok: false, reason: used.ok ? 'invalid' : used.reason }, record: null };
    return {
      value: { ok: true, user, token: used.token },
      record: { type: 'user.email_verified', subject: user.id, userId: user.id, data: { method: 'link' } },
    };
  });
}

/** Checks a code typed during sign-in `interactionUid`; undefined when it is wrong, used up or expired (the screen does not tell which). */
export async function verifyEmailWithCode(
  ctx: ServiceContext,
  deps: AccountDeps,
  userId: string,
  code: unknown,
  interactionUid: string,
): Promise<User | undefined> {
  return commitChange(ctx, async (trx) => {
    const used = await consumeCode(trx, deps.box, 'verify_email', userId, code, interactionUid);
    const user = used ? await markVerified(trx, used) : undefined;
    if (!user) return { value: undefined, record: null };
    return { value: user, record: { type: 'user.email_verified', subject: user.id, userId: user.id, data: { method: 'code' } } };
  });
}
