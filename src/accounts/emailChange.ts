// Changing a user's email address: the new address must be proven (a link sent to it, good for
// an hour) before it replaces the old one, and the old address is told once it has. Until then
// the user keeps signing in with the old one.
import { afterCommit, commitChange, type ServiceContext } from '../changes/index.ts';
import { isUniqueViolation } from '../db/constraints.ts';
import { ConflictError, parseInput } from '../errors/index.ts';
import { z } from 'zod';
import { emailSchema, findUserByEmail, type User } from './users.ts';
import { getUser } from './service.ts';
import { consumeToken, issueToken, revokeTokens, type TokenRefusal } from './oneTimeTokens.ts';
import { type AccountDeps, TOKEN_LIFETIME_SECONDS, linkTo, queueMail } from './selfServiceDeps.ts';

const EMAIL_TAKEN = 'An account with this email already exists';

export async function requestEmailChange(
  ctx: ServiceContext,
  deps: AccountDeps,
  userId: string,
  newEmail: unknown,
): Promise<{ expires_at: Date }> {
  const { email } = parseInput(z.object({ email: emailSchema }).strict(), { email: newEmail });
  const user = await getUser(ctx.db, userId);
  if (user.email.toLowerCase() === email.toLowerCase()) throw new ConflictError('This is already the user’s email address');
  if (await findUserByEmail(ctx.db, email)) throw new ConflictError(EMAIL_TAKEN);
  const result = await commitChange(ctx, async (trx) => {
    const issued = await issueToken(trx, deps.box, {
      purpose: 'email_change',
      userId,
      ttlSeconds: TOKEN_LIFETIME_SECONDS.email_change,
      data: { new_email: email },
    });
    await queueMail(trx, deps, {
      to: email,
      template: 'email_change_confirm',
      data: { link: linkTo(deps, 'email_change', issued.token), expiresMinutes: TOKEN_LIFETIME_SECONDS.email_change / 60, newEmail: email },
    });
    return { value: { expires_at: issued.expiresAt }, record: { type: 'user.email_change_requested', subject: userId, userId, data: {} } };
  });
  afterCommit(ctx.db, deps.mailQueued);
  return result;
}

export type EmailChangeOutcome = { ok: true; user: User } | { ok: false; reason: TokenRefusal | 'taken' };

/** Follows the link sent to the new address: it replaces the old one, verified, and the old one is told. */
export async function confirmEmailChange(ctx: ServiceContext, deps: AccountDeps, token: unknown): Promise<EmailChangeOutcome> {
  const outcome = await commitChange<EmailChangeOutcome>(ctx, async (trx) => {
    const used = await consumeToken(trx, 'email_change', token);
    if (!used.ok) return { value: used, record: null };
    const before = (await trx<User>('users').where('id', used.token.user_id).forUpdate().first()) as User;
    const newEmail = String(used.token.data.new_email);
    // Taken meanwhile by a sign-up: a savepoint keeps the transaction usable to say so.
    const updated = await trx
      .transaction(async (savepoint) =>
        savepoint('users')
          .where('id', before.id)
          .update({ email: newEmail, email_verified: true, updated_at: trx.fn.now() })
          .returning('*'),
      )
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) return undefined;
        throw error;
      });
    if (!updated) return { value: { ok: false, reason: 'taken' }, record: null };
    const user = updated[0] as User;
    // Links sent to the old address (a reset, an invitation) must not work for the new one.
    await revokeTokens(trx, user.id);
    await queueMail(trx, deps, { to: before.email, template: 'email_change_notice', data: { newEmail } });
    return { value: { ok: true, user }, record: { type: 'user.email_changed', subject: user.id, userId: user.id, data: {} } };
  });
  if (outcome.ok) afterCommit(ctx.db, deps.mailQueued);
  return outcome;
}
