// A second factor typed as a code on the mfa screen (an authenticator app's, or a recovery
// code): one form, one route (POST /interaction/:uid/<method>), and the sign-in gate of
// src/abuse keyed by the account's address, so a wrong code counts towards the account's lock
// exactly like a wrong password.
import type { Context } from 'koa';
import type { InteractionDeps, InteractionDetails, SignInMethod } from '../types.ts';
import type { ServiceContext } from '../../changes/index.ts';
import { findUserById, lockAccount, normalizedEmail, type User } from '../../accounts/index.ts';
import { secondFactorsOf, type SecondFactors } from '../../mfa/factors.ts';
import { verifyCsrf } from '../../http/csrf.ts';
import { UserFacingError } from '../../http/errors.ts';
import { formBody, loadInteraction, requirePrompt } from '../interactionRequest.ts';
import { interactionContext } from '../login/serviceContext.ts';
import { proved, showScreen, signInAudit } from '../progress.ts';
import { refusalMessage } from './password.ts';

export interface CodeMethod {
  id: string;
  amr: string[];
  /** Whether the user holds this factor. */
  holds(factors: SecondFactors): boolean;
  /** What the fragment shows: its heading, the field's label and hint, how the code is typed. */
  screen: { heading: string; label: string; hint: string; inputmode: 'numeric' | 'text'; maxlength: number };
  wrongCode: string;
  verify(ctx: ServiceContext, deps: InteractionDeps, userId: string, code: unknown): Promise<boolean>;
}

const SIGN_IN_EXPIRED = new UserFacingError(400, 'This sign-in has expired', 'Return to the application and start again.');

/**
 * Takes a try at a second factor for `user` from the sign-in gate (keyed by the account's
 * address, like a password). Undefined when refused: the screen then says why. Otherwise a
 * function to call once the factor proved right.
 */
export async function takeFactorTry(
  ctx: Context,
  deps: InteractionDeps,
  interaction: InteractionDetails,
  user: User,
  method: string,
): Promise<(() => Promise<void>) | undefined> {
  const address = await normalizedEmail(deps.db, user.email);
  const decision = await deps.abuse.signIn.attempt(address, ctx.ip);
  if (decision.allowed) return () => deps.abuse.signIn.succeeded(address, ctx.ip);
  await signInAudit(ctx, deps, interaction)('login.throttled', { userId: user.id, details: { method, reason: decision.reason } });
  if (decision.lockedNow) await lockAccount(interactionContext(ctx, deps), deps.accounts, user.id, deps.config.signInLockMinutes);
  ctx.set('Retry-After', String(decision.retryAfterSeconds));
  await showScreen(ctx, deps, interaction, { error: { method, message: refusalMessage(decision) }, status: 429 });
  return undefined;
}

/** The account the mfa prompt is for (the session's). */
export async function mfaAccount(deps: InteractionDeps, interaction: InteractionDetails): Promise<User> {
  const user = interaction.session?.accountId ? await findUserById(deps.db, interaction.session.accountId) : undefined;
  if (!user) throw SIGN_IN_EXPIRED;
  return user;
}

async function submitCode(ctx: Context, deps: InteractionDeps, method: CodeMethod) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'mfa');
  const form = ctx.request.body as Record<string, unknown>;
  verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
  const user = await mfaAccount(deps, interaction);
  const succeeded = await takeFactorTry(ctx, deps, interaction, user, method.id);
  if (!succeeded) return;
  if (!(await method.verify(interactionContext(ctx, deps), deps, user.id, form.code))) {
    await signInAudit(ctx, deps, interaction)('login.mfa_failed', { userId: user.id, details: { method: method.id } });
    return showScreen(ctx, deps, interaction, { error: { method: method.id, message: method.wrongCode }, status: 401 });
  }
  await succeeded();
  await proved(ctx, deps, interaction, { method: method.id, userId: user.id, amr: method.amr, user });
}

export function secondFactorCode(method: CodeMethod): SignInMethod {
  return {
    id: method.id,
    offeredBy: ['mfa'],
    amr: method.amr,
    async fragment(_ctx, screen, deps) {
      if (!screen.userId || !method.holds(await secondFactorsOf(deps.db, screen.userId))) return undefined;
      return { template: 'code', locals: { method: method.id, ...method.screen } };
    },
    routes(router, deps) {
      router.post(`/interaction/:uid/${method.id}`, formBody, (ctx) => submitCode(ctx, deps, method));
    },
  };
}
