// Email + password. Every failure says the same thing, whether or not the email exists.
import type { LoginStrategy } from '../types.ts';
import { verifyPassword } from '../../accounts/index.ts';

export const INVALID_CREDENTIALS = 'Incorrect email or password.';

export const passwordStrategy: LoginStrategy = {
  id: 'password',
  async authenticate(_ctx, form, { db, config }) {
    const email = typeof form.email === 'string' ? form.email.trim() : '';
    const password = typeof form.password === 'string' ? form.password : '';
    if (!email || !password) return { ok: false, status: 400, message: 'Enter your email and password.' };
    if (email.length > 254) return { ok: false, status: 401, message: INVALID_CREDENTIALS };
    const user = await verifyPassword(db, email, password, config.bcryptCost);
    if (!user) return { ok: false, status: 401, message: INVALID_CREDENTIALS };
    return { ok: true, account: { accountId: user.id, amr: ['pwd'] } };
  },
};
