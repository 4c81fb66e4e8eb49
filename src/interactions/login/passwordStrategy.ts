// Email + password. Every failure says the same thing, whether or not the email exists, and
// takes as long: an unknown email is compared with a decoy hash at the current cost. A hash made
// at another cost or in the older format is replaced once the password is known to be right, so
// known and unknown emails cost the same again after BCRYPT_COST changes.
import type { LoginStrategy } from '../types.ts';
import { findUserByEmail, type User } from '../../accounts/index.ts';
import { decoyCompare, hashPassword, needsRehash, verifyPasswordHash } from '../../accounts/passwords/index.ts';
import type { Db } from '../../db/index.ts';
import { audit } from '../../audit/index.ts';

export const INVALID_CREDENTIALS = 'Incorrect email or password.';
export const ACCOUNT_SUSPENDED = 'This account is suspended. Contact the support of the application you are signing in to.';

/** The user with the hash renewed (unless somebody changed the password meanwhile: then as it was). */
async function upgradeHash(db: Db, user: User, password: string, cost: number, requestId?: string): Promise<User> {
  const current = user.password_hash as string;
  const upgraded = await hashPassword(password, cost);
  const changed = await db('users').where({ id: user.id, password_hash: current }).update({ password_hash: upgraded });
  if (!changed) return user;
  await audit(db, { type: 'user.password_rehashed', userId: user.id, requestId, details: { cost } });
  return { ...user, password_hash: upgraded };
}

export const passwordStrategy: LoginStrategy = {
  id: 'password',
  async authenticate(ctx, form, { db, config }) {
    const email = typeof form.email === 'string' ? form.email.trim() : '';
    const password = typeof form.password === 'string' ? form.password : '';
    if (!email || !password) return { ok: false, status: 400, message: 'Enter your email and password.' };
    const user = email.length <= 254 ? await findUserByEmail(db, email) : undefined;
    if (!user?.password_hash) {
      await decoyCompare(password, config.bcryptCost);
      return { ok: false, status: 401, message: INVALID_CREDENTIALS, accountId: user?.id, reason: user ? 'no_password' : 'unknown_email' };
    }
    if (!(await verifyPasswordHash(password, user.password_hash))) {
      return { ok: false, status: 401, message: INVALID_CREDENTIALS, accountId: user.id, reason: 'wrong_password' };
    }
    // Said only to whoever knows the password, so it tells nobody else the account exists.
    if (user.suspended_at) return { ok: false, status: 403, message: ACCOUNT_SUSPENDED, accountId: user.id, reason: 'suspended' };
    const current = needsRehash(user.password_hash, config.bcryptCost)
      ? await upgradeHash(db, user, password, config.bcryptCost, ctx.state.requestId)
      : user;
    return { ok: true, account: { accountId: user.id, amr: ['pwd'], user: current } };
  },
};
