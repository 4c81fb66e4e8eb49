// Asking for a password reset, from the sign-in screen or from /account/forgot-password (the
// "reset your password" link of a registration notice). The same answer whatever the address;
// limits per source and per address keep it from being used to flood a mailbox.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { InteractionDeps } from '../interactions/types.ts';
import { csrfToken, verifyCsrf } from '../http/csrf.ts';
import { renderPage } from '../http/views.ts';
import { formBody } from '../http/requestBodies.ts';
import { FORGOT_PASSWORD_PATH, emailSchema, normalizedEmail, requestPasswordReset } from '../accounts/index.ts';
import { interactionContext } from '../interactions/login/serviceContext.ts';
import { logger } from '../http/logger.ts';

export interface ForgotAnswer {
  email: string;
  error?: string;
  sent?: boolean;
  status?: number;
}

export async function askForPasswordReset(ctx: Context, deps: InteractionDeps, typed: unknown): Promise<ForgotAnswer> {
  const parsed = emailSchema.safeParse(typeof typed === 'string' ? typed : '');
  const kept = typeof typed === 'string' ? typed.slice(0, 254) : '';
  if (!parsed.success) return { email: kept, error: 'Enter a valid email address.', status: 400 };
  const source = await deps.abuse.resetRequest.attempt(ctx.ip);
  if (!source.allowed) {
    ctx.set('Retry-After', String(source.retryAfterSeconds));
    return { email: kept, error: 'Too many reset requests from here. Try again later.', status: 429 };
  }
  // Over the per-address limit the answer is the same; the mailbox just gets nothing more.
  if ((await deps.abuse.mailToAddress.attempt(await normalizedEmail(deps.db, parsed.data))).allowed) {
    // Not awaited: for a known address the work (a token, a sealed mail, their records) takes a
    // few milliseconds an unknown one does not, and the answer must not show which it was.
    requestPasswordReset(interactionContext(ctx, deps), deps.accounts, parsed.data).catch((error: Error) =>
      logger.warn('password reset request failed', { error: error.message, requestId: ctx.state.requestId }),
    );
  }
  return { email: parsed.data, sent: true };
}

const PURPOSE = 'account:forgot-password';

async function render(ctx: Context, answer: Partial<ForgotAnswer>) {
  ctx.status = answer.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('forgot-password', {
    title: 'Reset your password',
    action: FORGOT_PASSWORD_PATH,
    back: undefined,
    email: answer.email ?? '',
    error: answer.error,
    sent: answer.sent ?? false,
    csrf: csrfToken(ctx, PURPOSE),
  });
}

export function forgotPasswordPage(router: Router, deps: InteractionDeps): void {
  router.get(FORGOT_PASSWORD_PATH, (ctx) => render(ctx, {}));
  router.post(FORGOT_PASSWORD_PATH, formBody, async (ctx) => {
    const form = ctx.request.body as Record<string, unknown>;
    verifyCsrf(ctx, PURPOSE, form._csrf);
    await render(ctx, await askForPasswordReset(ctx, deps, form.email));
  });
}
