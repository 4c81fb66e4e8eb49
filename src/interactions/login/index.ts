// The login prompt: who is signing in. Its checks are oidc-provider's (no session, max_age,
// prompt=login, id_token_hint, acr); the screen offers the sign-in strategies.
import type { Context } from 'koa';
import { interactionPolicy } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep, LoginStrategy } from '../types.ts';
import { passwordStrategy } from './passwordStrategy.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { finishInteraction } from '../finish.ts';
import { loadInteraction, requirePrompt, formBody } from '../interactionRequest.ts';
import { audit, type AuditEvent, type AuditType } from '../../audit/index.ts';

/** Sign-in strategies offered on the login screen, by form `method` value. */
export const LOGIN_STRATEGIES: LoginStrategy[] = [passwordStrategy];

interface LoginScreen {
  email?: string;
  error?: string;
  status?: number;
}

async function renderLogin(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen: LoginScreen = {}) {
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
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

export const loginStep: InteractionStep = {
  name: 'login',
  prompt: interactionPolicy.base().get('login') as interactionPolicy.Prompt,
  render: (ctx, interaction, deps) => renderLogin(ctx, interaction, deps),
  routes(router, deps) {
    router.post('/interaction/:uid/login', formBody, async (ctx) => {
      const interaction = await loadInteraction(ctx, deps);
      requirePrompt(interaction, 'login');
      const form = ctx.request.body as Record<string, unknown>;
      verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
      const strategy = LOGIN_STRATEGIES.find((s) => s.id === (form.method ?? 'password'));
      const email = typeof form.email === 'string' ? form.email.slice(0, 254) : '';
      if (!strategy) return renderLogin(ctx, interaction, deps, { email, error: 'Choose a way to sign in.', status: 400 });
      const event = (type: AuditType, extra: Partial<AuditEvent> = {}) =>
        audit(deps.db, {
          type,
          clientId: String(interaction.params.client_id),
          ip: ctx.ip,
          requestId: ctx.state.requestId,
          details: { method: strategy.id },
          ...extra,
        });

      const decision = await deps.loginThrottle.attempt(email, ctx.ip);
      if (!decision.allowed) {
        await event('login.throttled');
        ctx.set('Retry-After', String(decision.retryAfterSeconds));
        const minutes = Math.ceil(decision.retryAfterSeconds / 60);
        const error = `Too many sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
        return renderLogin(ctx, interaction, deps, { email, error, status: 429 });
      }
      const outcome = await strategy.authenticate(ctx, form, deps);
      if (!outcome.ok) {
        if (outcome.status === 401) await event('login.failed');
        if (outcome.status === 403)
          await event('login.failed', { userId: outcome.accountId, details: { method: strategy.id, reason: 'suspended' } });
        return renderLogin(ctx, interaction, deps, { email, error: outcome.message, status: outcome.status });
      }
      await deps.loginThrottle.succeeded(email, ctx.ip);
      const { accountId, amr } = outcome.account;
      await event('login.succeeded', { userId: accountId, details: { method: strategy.id, amr } });
      await finishInteraction(ctx, deps, { login: { accountId, amr, remember: true } });
    });
  },
};
