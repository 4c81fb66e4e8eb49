// "Forgot password?" from the sign-in screen. The answer is the same whether or not the address
// has an account; the link in the email leads to /account/reset-password (src/accountLinks).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { InteractionDeps } from '../types.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { loadInteraction, requirePrompt, formBody } from '../interactionRequest.ts';
import { askForPasswordReset } from '../../accountLinks/forgotPassword.ts';
import { anotherWayPath } from './anotherWay.ts';

async function renderForgot(ctx: Context, uid: string, screen: { email?: string; error?: string; sent?: boolean; status?: number }) {
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('forgot-password', {
    title: 'Reset your password',
    action: `/interaction/${uid}/forgot-password`,
    // Back to the screen this came from, which a relying party's connection= would skip.
    back: anotherWayPath(uid),
    email: screen.email ?? '',
    error: screen.error,
    sent: screen.sent ?? false,
    csrf: csrfToken(ctx, `interaction:${uid}`),
  });
}

export function forgotPasswordRoutes(router: Router, deps: InteractionDeps): void {
  router.get('/interaction/:uid/forgot-password', async (ctx) => {
    const interaction = await loadInteraction(ctx, deps);
    requirePrompt(interaction, 'login');
    await renderForgot(ctx, interaction.uid, { email: typeof ctx.query.email === 'string' ? ctx.query.email.slice(0, 254) : '' });
  });

  router.post('/interaction/:uid/forgot-password', formBody, async (ctx) => {
    const interaction = await loadInteraction(ctx, deps);
    requirePrompt(interaction, 'login');
    const form = ctx.request.body as Record<string, unknown>;
    verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
    const answer = await askForPasswordReset(ctx, deps, form.email);
    await renderForgot(ctx, interaction.uid, answer);
  });
}
