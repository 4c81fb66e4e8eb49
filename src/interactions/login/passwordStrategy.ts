// Email + password. Every failure says the same thing, whether or not the email exists.
import type { LoginStrategy } from '../types.ts';
import { verifyPassword } from '../../accounts/index.ts';

export const INVALID_CREDENTIALS = 'Incorrect email or password.';
export const ACCOUNT_SUSPENDED = 'This account is suspended. Contact the support of the application you are signing in to.';

export const passwordStrategy: LoginStrategy = {
  id: 'password',
  async authenticate(_ctx, form, { db, config }) {
    const email = typeof form.email === 'string' ? form.email.trim() : '';
    const password = typeof form.password === 'string' ? form.password : '';
    if (!email || !password) return { ok: false, status: 400, message: 'Enter your email and password.' };
    if (email.length > 254) return { ok: false, status: 401, message: INVALID_CREDENTIALS };
    const user = await verifyPassword(db, email, password, config.bcryptCost);
    if (!user) return { ok: false, status: 401, message: INVALID_CREDENTIALS };
    // Said only to whoever knows the password, so it tells nobody else the account exists.
    if (user.suspended_at) return { ok: false, status: 403, message: ACCOUNT_SUSPENDED, accountId: user.id };
    return { ok: true, account: { accountId: user.id, amr: ['pwd'] } };
  },
};
