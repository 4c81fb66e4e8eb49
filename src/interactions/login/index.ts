// The login prompt: who is signing in. Its checks are oidc-provider's (no session, max_age,
// prompt=login, id_token_hint, acr) plus one of ours: a client that requires a verified email
// does not take a session whose account has none. The screen offers the sign-in strategies, a
// way to create an account and one to recover a password.
import type { Context } from 'koa';
import { interactionPolicy } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep, LoginStrategy } from '../types.ts';
import { passwordStrategy } from './passwordStrategy.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { finishInteraction } from '../finish.ts';
import { loadInteraction, requirePrompt, formBody } from '../interactionRequest.ts';
import { audit, type AuditEvent, type AuditType } from '../../audit/index.ts';
import { findUserByEmail, findUserById, lockAccount, normalizedEmail, useSignInTicket } from '../../accounts/index.ts';
import type { SignInDecision } from '../../abuse/index.ts';
import { askToVerify, checkEmailRoutes } from './checkEmail.ts';
import { signupAllowed, signupRoutes } from './signup.ts';
import { forgotPasswordRoutes } from './forgotPassword.ts';
import { interactionContext } from './serviceContext.ts';
import { takeSignInTicket } from './signInTicket.ts';
import { isLocked, mayFinishSignIn } from './signInRules.ts';

/** Sign-in strategies offered on the login screen, by form `method` value. */
export const LOGIN_STRATEGIES: LoginStrategy[] = [passwordStrategy];

interface LoginScreen {
  email?: string;
  error?: string;
  status?: number;
}

export async function renderLogin(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen: LoginScreen = {}) {
  const client = await deps.provider().Client.find(String(interaction.params.client_id));
  const loginHint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('login', {
    title: 'Sign in',
    uid: interaction.uid,
    clientName: client?.clientName ?? client?.clientId,
    email: screen.email ?? loginHint,
    error: screen.error,
    signup: signupAllowed(deps, client),
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

/** The message for a refused attempt: the same whether or not the address has an account. */
function refusalMessage(decision: Exclude<SignInDecision, { allowed: true }>): string {
  const minutes = Math.ceil(decision.retryAfterSeconds / 60);
  const inMinutes = `${minutes} minute${minutes === 1 ? '' : 's'}`;
  if (decision.reason === 'locked')
    return `Too many failed sign-ins for this account. Try again in ${inMinutes}, or reset your password with “Forgot password?”.`;
  const seconds = decision.retryAfterSeconds;
  if (decision.reason === 'slow_down') return `Too many failed sign-ins. Wait ${seconds} second${seconds === 1 ? '' : 's'} and try again.`;
  return `Too many sign-in attempts. Try again in ${inMinutes}.`;
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
  prompt.checks.add(unverifiedEmail);
  return prompt;
}

async function signIn(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'login');
  const form = ctx.request.body as Record<string, unknown>;
  verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
  const strategy = LOGIN_STRATEGIES.find((s) => s.id === (form.method ?? 'password'));
  const email = typeof form.email === 'string' ? form.email.slice(0, 254) : '';
  if (!strategy) return renderLogin(ctx, interaction, deps, { email, error: 'Choose a way to sign in.', status: 400 });
  const clientId = String(interaction.params.client_id);
  const event = (type: AuditType, extra: Partial<AuditEvent> = {}) =>
    audit(deps.db, { type, clientId, ip: ctx.ip, requestId: ctx.state.requestId, details: { method: strategy.id }, ...extra });

  const address = await normalizedEmail(deps.db, email);
  const decision = await deps.abuse.signIn.attempt(address, ctx.ip);
  if (!decision.allowed) {
    // Audited with the account it concerns, when there is one (the screen says the same either way).
    const user = email ? await findUserByEmail(deps.db, email) : undefined;
    await event('login.throttled', { userId: user?.id, details: { method: strategy.id, reason: decision.reason } });
    if (decision.lockedNow && user) await lockAccount(interactionContext(ctx, deps), deps.accounts, user.id, deps.config.signInLockMinutes);
    ctx.set('Retry-After', String(decision.retryAfterSeconds));
    return renderLogin(ctx, interaction, deps, { email, error: refusalMessage(decision), status: 429 });
  }
  const outcome = await strategy.authenticate(ctx, form, deps);
  if (!outcome.ok) {
    if (outcome.status === 401 || outcome.status === 403)
      await event('login.failed', { userId: outcome.accountId, details: { method: strategy.id, reason: outcome.reason } });
    return renderLogin(ctx, interaction, deps, { email, error: outcome.message, status: outcome.status });
  }
  const user = outcome.account.user ?? (await findUserById(deps.db, outcome.account.accountId));
  if (!user) return renderLogin(ctx, interaction, deps, { email, error: 'Incorrect email or password.', status: 401 });
  // A lock holds even against the right password until it ends or the password is reset.
  if (user.locked_until && isLocked(user)) {
    await event('login.throttled', { userId: user.id, details: { method: strategy.id, reason: 'locked' } });
    const retryAfterSeconds = Math.ceil((new Date(user.locked_until).getTime() - Date.now()) / 1000);
    ctx.set('Retry-After', String(retryAfterSeconds));
    const error = refusalMessage({ allowed: false, reason: 'locked', retryAfterSeconds, lockedNow: false });
    return renderLogin(ctx, interaction, deps, { email, error, status: 429 });
  }
  await deps.abuse.signIn.succeeded(address, ctx.ip);
  const { accountId, amr } = outcome.account;
  const client = (await deps.provider().Client.find(clientId)) as unknown as { require_verified_email?: boolean } | undefined;
  if (!user.email_verified && client?.require_verified_email !== false) {
    await event('login.unverified', { userId: accountId, details: { method: strategy.id } });
    return askToVerify(ctx, interaction, deps, user);
  }
  await event('login.succeeded', { userId: accountId, details: { method: strategy.id, amr } });
  await finishInteraction(ctx, deps, { login: { accountId, amr, remember: true } });
}

export const loginStep: InteractionStep = {
  name: 'login',
  prompt: loginPrompt(),
  async render(ctx, interaction, deps) {
    // Just accepted an invitation in this browser: signed in without typing the new password again.
    const ticketHolder = await takeSignInTicket(ctx, (ticket) => useSignInTicket(interactionContext(ctx, deps), ticket));
    if (ticketHolder && mayFinishSignIn(ticketHolder)) {
      await audit(deps.db, {
        type: 'login.succeeded',
        userId: ticketHolder.id,
        clientId: String(interaction.params.client_id),
        ip: ctx.ip,
        requestId: ctx.state.requestId,
        details: { method: 'invitation', amr: ['pwd'] },
      });
      return finishInteraction(ctx, deps, { login: { accountId: ticketHolder.id, amr: ['pwd'], remember: true } });
    }
    return renderLogin(ctx, interaction, deps);
  },
  routes(router, deps) {
    router.post('/interaction/:uid/login', formBody, (ctx) => signIn(ctx, deps));
    checkEmailRoutes(router, deps);
    signupRoutes(router, deps);
    forgotPasswordRoutes(router, deps);
  },
};
