// Email + password, as a sign-in method: its form (views/methods/password.ejs), its route
// (POST /interaction/:uid/password) and its limits (the sign-in gate of src/abuse: per source,
// per address and source, per address, with a lock emailed to the owner).
//
// Every failure says the same thing, whether or not the email exists, and takes as long: an
// unknown email is compared with a decoy hash at the current cost. A hash made at another cost or
// in the older format is replaced once the password is known to be right, so known and unknown
// emails cost the same again after BCRYPT_COST changes.
import type { Context } from 'koa';
import type { InteractionDeps, SignInMethod } from '../types.ts';
import { findUserByEmail, lockAccount, normalizedEmail, type User } from '../../accounts/index.ts';
import { decoyCompare, hashPassword, needsRehash, verifyPasswordHash } from '../../accounts/passwords/index.ts';
import type { Db } from '../../db/index.ts';
import { audit } from '../../audit/index.ts';
import type { SignInDecision } from '../../abuse/index.ts';
import { verifyCsrf } from '../../http/csrf.ts';
import { formBody, loadInteraction, requirePrompt } from '../interactionRequest.ts';
import { interactionContext } from '../login/serviceContext.ts';
import { isLocked } from '../login/signInRules.ts';
import { proved, showScreen, signInAudit } from '../progress.ts';
import { homeRealmDeparture } from './upstream.ts';

export const INVALID_CREDENTIALS = 'Incorrect email or password.';
export const ACCOUNT_SUSPENDED = 'This account is suspended. Contact the support of the application you are signing in to.';

const METHOD = 'password';

/** The user with the hash renewed (unless somebody changed the password meanwhile: then as it was). */
async function upgradeHash(db: Db, user: User, password: string, cost: number, requestId?: string): Promise<User> {
  const current = user.password_hash as string;
  const upgraded = await hashPassword(password, cost);
  const changed = await db('users').where({ id: user.id, password_hash: current }).update({ password_hash: upgraded });
  if (!changed) return user;
  await audit(db, { type: 'user.password_rehashed', userId: user.id, requestId, details: { cost } });
  return { ...user, password_hash: upgraded };
}

type Check =
  | { ok: true; user: User }
  /** `user`: whose account the attempt was on, when there is one (for the audit record only). */
  | { ok: false; status: number; message: string; user?: User; reason?: string };

async function checkPassword(ctx: Context, email: string, password: string, { db, config }: InteractionDeps): Promise<Check> {
  if (!email || !password) return { ok: false, status: 400, message: 'Enter your email and password.' };
  const user = email.length <= 254 ? await findUserByEmail(db, email) : undefined;
  if (!user?.password_hash) {
    await decoyCompare(password, config.bcryptCost);
    return { ok: false, status: 401, message: INVALID_CREDENTIALS, user, reason: user ? 'no_password' : 'unknown_email' };
  }
  if (!(await verifyPasswordHash(password, user.password_hash))) {
    return { ok: false, status: 401, message: INVALID_CREDENTIALS, user, reason: 'wrong_password' };
  }
  // Said only to whoever knows the password, so it tells nobody else the account exists.
  if (user.suspended_at) return { ok: false, status: 403, message: ACCOUNT_SUSPENDED, user, reason: 'suspended' };
  const current = needsRehash(user.password_hash, config.bcryptCost)
    ? await upgradeHash(db, user, password, config.bcryptCost, ctx.state.requestId)
    : user;
  return { ok: true, user: current };
}

/** The message for a refused attempt: the same whether or not the address has an account. */
export function refusalMessage(decision: Exclude<SignInDecision, { allowed: true }>): string {
  const minutes = Math.ceil(decision.retryAfterSeconds / 60);
  const inMinutes = `${minutes} minute${minutes === 1 ? '' : 's'}`;
  if (decision.reason === 'locked')
    return `Too many failed sign-ins for this account. Try again in ${inMinutes}, or reset your password with “Forgot password?”.`;
  const seconds = decision.retryAfterSeconds;
  if (decision.reason === 'slow_down') return `Too many failed sign-ins. Wait ${seconds} second${seconds === 1 ? '' : 's'} and try again.`;
  return `Too many sign-in attempts. Try again in ${inMinutes}.`;
}

async function signInWithPassword(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'login');
  const form = ctx.request.body as Record<string, unknown>;
  verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
  const email = typeof form.email === 'string' ? form.email.slice(0, 254) : '';
  const password = typeof form.password === 'string' ? form.password : '';
  const event = signInAudit(ctx, deps, interaction);
  const refuse = (message: string, status: number) =>
    showScreen(ctx, deps, interaction, { identifier: email, error: { method: METHOD, message }, status });
  // An address of an enterprise connection's domain signs in there, not with a password here.
  if (email && (await homeRealmDeparture(ctx, deps, interaction, email))) return;

  const address = await normalizedEmail(deps.db, email);
  const decision = await deps.abuse.signIn.attempt(address, ctx.ip);
  if (!decision.allowed) {
    // Audited with the account it concerns, when there is one (the screen says the same either way).
    const user = email ? await findUserByEmail(deps.db, email) : undefined;
    await event('login.throttled', { userId: user?.id, details: { method: METHOD, reason: decision.reason } });
    if (decision.lockedNow && user) await lockAccount(interactionContext(ctx, deps), deps.accounts, user.id, deps.config.signInLockMinutes);
    ctx.set('Retry-After', String(decision.retryAfterSeconds));
    return refuse(refusalMessage(decision), 429);
  }
  const outcome = await checkPassword(ctx, email.trim(), password, deps);
  if (!outcome.ok) {
    if (outcome.status === 401 || outcome.status === 403)
      await event('login.failed', { userId: outcome.user?.id, details: { method: METHOD, reason: outcome.reason } });
    return refuse(outcome.message, outcome.status);
  }
  const { user } = outcome;
  // A lock holds even against the right password until it ends or the password is reset.
  if (user.locked_until && isLocked(user)) {
    await event('login.throttled', { userId: user.id, details: { method: METHOD, reason: 'locked' } });
    const retryAfterSeconds = Math.ceil((new Date(user.locked_until).getTime() - Date.now()) / 1000);
    ctx.set('Retry-After', String(retryAfterSeconds));
    return refuse(refusalMessage({ allowed: false, reason: 'locked', retryAfterSeconds, lockedNow: false }), 429);
  }
  await deps.abuse.signIn.succeeded(address, ctx.ip);
  await proved(ctx, deps, interaction, { method: METHOD, userId: user.id, amr: ['pwd'], user });
}

export const passwordMethod: SignInMethod = {
  id: METHOD,
  offeredBy: ['login'],
  amr: ['pwd'],
  async fragment(_ctx, screen) {
    return { template: 'password', locals: { email: screen.identifier } };
  },
  routes(router, deps) {
    router.post('/interaction/:uid/password', formBody, (ctx) => signInWithPassword(ctx, deps));
  },
};
