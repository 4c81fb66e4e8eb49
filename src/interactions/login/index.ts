// The login prompt: who is signing in. Its checks are oidc-provider's (no session, max_age,
// prompt=login, id_token_hint) plus one of ours: a client that requires a verified email does not
// take a session whose account has none. (The acr checks live in the mfa prompt, which can raise
// a sign-in's level.) The screen composes the parts of the sign-in methods (src/interactions/
// methods) with a way to create an account; a method that proved who someone is hands over to
// `proceed`, which signs them in.
import type { Context } from 'koa';
import { interactionPolicy } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep, MethodProof, ScreenState } from '../types.ts';
import { csrfToken } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { finishInteraction } from '../finish.ts';
import { audit } from '../../audit/index.ts';
import { findUserById, useSignInTicket, type User } from '../../accounts/index.ts';
import { askToVerify, checkEmailRoutes } from './checkEmail.ts';
import { signupAllowed, signupRoutes } from './signup.ts';
import { forgotPasswordRoutes } from './forgotPassword.ts';
import { interactionContext } from './serviceContext.ts';
import { takeSignInTicket } from './signInTicket.ts';
import { asksForAnotherWay } from './anotherWay.ts';
import { mayFinishSignIn } from './signInRules.ts';
import { SIGN_IN_METHODS, methodFragments } from '../methods/index.ts';
import { ACCOUNT_SUSPENDED, refusalMessage } from '../methods/password.ts';
import { acrOfAmr, combinedAmr, levelOfAmr } from '../../mfa/levels.ts';
import { rememberBrowser } from '../mfa/deviceMemory.ts';
import { signInAudit } from '../progress.ts';
import { countSignIn } from '../../profile/service.ts';

export async function renderLogin(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen: ScreenState = {}) {
  const client = await deps.provider().Client.find(String(interaction.params.client_id));
  const loginHint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
  const identifier = screen.identifier ?? loginHint;
  const composed = await methodFragments(ctx, { prompt: 'login', interaction, identifier, error: screen.error }, deps);
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('login', {
    title: 'Sign in',
    uid: interaction.uid,
    clientName: client?.clientName ?? client?.clientId,
    error: screen.error?.message,
    notice: screen.notice,
    fragments: composed.fragments,
    scripts: composed.scripts,
    identifierAutocomplete: composed.identifierAutocomplete,
    signup: signupAllowed(deps, client),
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

// A session whose account has no verified email does not satisfy a client that requires one:
// the login prompt is asked again, and signing in leads to the "check your email" screen.
const unverifiedEmail = new interactionPolicy.Check('email_not_verified', 'the client requires a verified email address', async (ctx) => {
  const client = ctx.oidc.client as unknown as { require_verified_email?: boolean } | undefined;
  if (!ctx.oidc.account || client?.require_verified_email === false) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
  const claims = (await ctx.oidc.account.claims('id_token', 'openid email', {}, [])) as { email_verified?: boolean };
  return claims.email_verified ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
});

function loginPrompt(): interactionPolicy.Prompt {
  const prompt = interactionPolicy.base().get('login') as interactionPolicy.Prompt;
  // An acr the session lacks is a second factor to add (the mfa prompt), not a password to type again.
  prompt.checks.remove('essential_acr');
  prompt.checks.remove('essential_acrs');
  prompt.checks.add(unverifiedEmail);
  return prompt;
}

/** Why an identified account may not finish signing in, as the screen says it. */
function refusal(user: User): { message: string; status: number; retryAfterSeconds?: number } {
  if (user.suspended_at) return { message: ACCOUNT_SUSPENDED, status: 403 };
  const retryAfterSeconds = Math.ceil((new Date(user.locked_until as Date).getTime() - Date.now()) / 1000);
  return {
    message: refusalMessage({ allowed: false, reason: 'locked', retryAfterSeconds, lockedNow: false }),
    status: 429,
    retryAfterSeconds,
  };
}

/**
 * Signs in the account a method proved, with what it used: unless it may not sign in (suspended,
 * locked), or the client needs its email verified first (then the "check your email" screen).
 * One proof names the account, so nothing waits for a second one here and nothing is stored.
 */
async function proceed(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, proof: MethodProof): Promise<void> {
  const event = signInAudit(ctx, deps, interaction);
  const user = proof.user?.id === proof.userId ? proof.user : await findUserById(deps.db, proof.userId);
  if (!user) return renderLogin(ctx, interaction, deps);
  if (!mayFinishSignIn(user)) {
    await event('login.throttled', {
      userId: user.id,
      details: { method: proof.method, reason: user.suspended_at ? 'suspended' : 'locked' },
    });
    const { message, status, retryAfterSeconds } = refusal(user);
    if (retryAfterSeconds) ctx.set('Retry-After', String(retryAfterSeconds));
    return renderLogin(ctx, interaction, deps, { error: { method: proof.method, message }, status });
  }
  const client = (await deps.provider().Client.find(String(interaction.params.client_id))) as unknown as
    | { require_verified_email?: boolean }
    | undefined;
  const amr = combinedAmr([proof.amr]);
  if (!user.email_verified && client?.require_verified_email !== false) {
    await event('login.unverified', { userId: user.id, details: { method: proof.method } });
    return askToVerify(ctx, interaction, deps, user, amr);
  }
  await event('login.succeeded', { userId: user.id, details: { method: proof.method, amr } });
  for (const method of SIGN_IN_METHODS) await method.afterSignIn?.(ctx, interaction, deps, user);
  // A passkey alone is multi-factor: the browser counts as known, as after the mfa prompt.
  if (levelOfAmr(amr) >= 2) await rememberBrowser(ctx, deps, user.id);
  await countSignIn(deps.db, user.id);
  await finishInteraction(ctx, deps, { login: { accountId: user.id, amr, acr: acrOfAmr(amr), remember: true } });
}

export const loginStep: InteractionStep = {
  name: 'login',
  prompt: loginPrompt,
  async render(ctx, interaction, deps, screen) {
    // Just accepted an invitation in this browser: signed in without typing the new password again.
    const ticketHolder = screen
      ? undefined
      : await takeSignInTicket(ctx, (ticket) => useSignInTicket(interactionContext(ctx, deps), ticket));
    if (ticketHolder && mayFinishSignIn(ticketHolder)) {
      await audit(deps.db, {
        type: 'login.succeeded',
        userId: ticketHolder.id,
        clientId: String(interaction.params.client_id),
        ip: ctx.ip,
        requestId: ctx.state.requestId,
        details: { method: 'invitation', amr: ['pwd'] },
      });
      await countSignIn(deps.db, ticketHolder.id);
      return finishInteraction(ctx, deps, { login: { accountId: ticketHolder.id, amr: ['pwd'], acr: acrOfAmr(['pwd']), remember: true } });
    }
    // The relying party picked a way to sign in (connection=): it answers instead of the screen,
    // unless the person came back from it asking for another way (anotherWay.ts).
    if (!screen && !asksForAnotherWay(ctx))
      for (const method of SIGN_IN_METHODS) if (await method.preempt?.(ctx, interaction, deps)) return;
    return renderLogin(ctx, interaction, deps, screen);
  },
  proceed,
  routes(router, deps) {
    checkEmailRoutes(router, deps);
    signupRoutes(router, deps);
    forgotPasswordRoutes(router, deps);
  },
};
