// Forgotten passwords. A request answers the same whether or not the address has an account; an
// account gets a link good for an hour (a newer request replaces it). Setting a new password
// through it signs the user out everywhere (every session, grant, refresh and access token),
// lifts a sign-in lock, marks the address verified (the link proved it) and emails the owner.
//
// A locked account is told the same way (accountLock below): the lock email carries a reset
// link, so an attacker who keeps failing sign-ins can slow an owner down, never keep them out.
import { afterCommit, commitChange, type ServiceContext } from '../changes/index.ts';
import type { Db } from '../db/index.ts';
import { findUserByEmail, type User } from './users.ts';
import { consumeToken, issueToken, revokeTokens, type TokenRefusal } from './oneTimeTokens.ts';
import { type AccountDeps, TOKEN_LIFETIME_SECONDS, hashPasswordForLink, linkTo, queueMail } from './selfServiceDeps.ts';
import { revokeEverything } from './service.ts';

async function queueResetLink(trx: Db, deps: AccountDeps, user: User, template: 'password_reset' | 'account_locked', extra = {}) {
  const issued = await issueToken(trx, deps.box, {
    purpose: 'password_reset',
    userId: user.id,
    ttlSeconds: TOKEN_LIFETIME_SECONDS.password_reset,
  });
  const link = linkTo(deps, 'password_reset', issued.token);
  await queueMail(trx, deps, {
    to: user.email,
    template,
    data:
      template === 'password_reset' ? { link, expiresMinutes: TOKEN_LIFETIME_SECONDS.password_reset / 60 } : { resetLink: link, ...extra },
  });
}

/** Emails a reset link when the address has an account (suspended ones get nothing); says nothing either way. */
export async function requestPasswordReset(ctx: ServiceContext, deps: AccountDeps, email: string): Promise<void> {
  const user = await findUserByEmail(ctx.db, email);
  if (!user || user.suspended_at) return;
  await commitChange(ctx, async (trx) => {
    await queueResetLink(trx, deps, user, 'password_reset');
    return { value: undefined, record: { type: 'user.password_reset_requested', subject: user.id, userId: user.id, data: {} } };
  });
  afterCommit(ctx.db, deps.mailQueued);
}

export type ResetOutcome = { ok: true; user: User } | { ok: false; reason: TokenRefusal };

/**
 * Sets a new password through a reset link. The password is checked first, so a refused one
 * leaves the link usable; the link is then used up by one conditional update.
 */
export async function resetPassword(ctx: ServiceContext, deps: AccountDeps, token: unknown, password: unknown): Promise<ResetOutcome> {
  const prepared = await hashPasswordForLink(ctx.db, deps, 'password_reset', token, password);
  if (!prepared.ok) return prepared;
  const { passwordHash } = prepared;
  const outcome = await commitChange<ResetOutcome>(ctx, async (trx) => {
    const used = await consumeToken(trx, 'password_reset', token);
    if (!used.ok) return { value: used, record: null };
    const before = (await trx('users').where('id', used.token.user_id).forUpdate().first('email_verified')) as Pick<User, 'email_verified'>;
    // Whoever made an account on an address they never proved may have added their own passkey
    // or authenticator to it, to be let in once the real owner takes it over by this reset: the
    // factors of an unproved account go with its old password.
    const dropped = await dropUnprovenWaysIn(trx, used.token.user_id, before.email_verified);
    const [user] = (await trx('users')
      .where('id', used.token.user_id)
      .update({ password_hash: passwordHash, email_verified: true, locked_until: null, updated_at: trx.fn.now() })
      .returning('*')) as User[];
    const revoked = await revokeEverything(trx, user.id);
    // Every link, code and pending sign-in made before is void: they proved nothing about the new password.
    await revokeTokens(trx, user.id);
    await queueMail(trx, deps, { to: user.email, template: 'password_changed', data: {} });
    return {
      value: { ok: true, user },
      record: {
        type: 'user.password_reset',
        subject: user.id,
        userId: user.id,
        data: { revoked_artefacts: revoked, ...dropped },
      },
    };
  });
  if (outcome.ok) afterCommit(ctx.db, deps.mailQueued);
  return outcome;
}

/**
 * What proving the mailbox (a reset, an accepted invitation) takes away. An account whose email
 * was never proven may have been made or fitted out by someone who typed the address first:
 * every passkey, authenticator app, recovery code, remembered browser and linked identity goes.
 * On any account, an identity linked at a JIT creation on an email its provider did not verify
 * goes too: its holder never proved the mailbox this proves.
 */
export async function dropUnprovenWaysIn(
  trx: Db,
  userId: string,
  emailWasVerified: boolean,
): Promise<{ factors_removed?: number; identities_unlinked?: number }> {
  let factors = 0;
  if (!emailWasVerified)
    for (const table of ['passkeys', 'totp_factors', 'recovery_codes', 'known_devices'])
      factors += await trx(table).where('user_id', userId).delete();
  const linked = trx('federated_identities').where('user_id', userId);
  const identities = await (emailWasVerified ? linked.where('proven', false) : linked).delete();
  // For the audit record: only what was there to remove.
  return { ...(factors && { factors_removed: factors }), ...(identities && { identities_unlinked: identities }) };
}

/**
 * Locks an account after too many failed sign-ins until `minutes` from now, and emails the
 * owner a reset link. Only the first of several concurrent calls locks and emails.
 */
export async function lockAccount(ctx: ServiceContext, deps: AccountDeps, userId: string, minutes: number): Promise<boolean> {
  const locked = await commitChange(ctx, async (trx) => {
    const [user] = (await trx('users')
      .where('id', userId)
      .whereNull('suspended_at') // a suspended account is not told anything, nor sent a way in
      .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<', trx.fn.now()))
      .update({ locked_until: trx.raw(`now() + make_interval(mins => ?)`, [minutes]) })
      .returning('*')) as User[];
    if (!user) return { value: false, record: null };
    await queueResetLink(trx, deps, user, 'account_locked', { unlockMinutes: minutes });
    return { value: true, record: { type: 'user.locked', subject: userId, userId, data: { minutes } } };
  });
  if (locked) afterCommit(ctx.db, deps.mailQueued);
  return locked;
}
