// The pages emailed links lead to. A GET only shows what the link will do (mail scanners and
// link previewers fetch links; they must not use them up); the person's POST does it. Each
// link works once, before it expires, for its own purpose only, and says which of these it
// failed on. Using links costs a point per source, so guessing or replaying them is slow.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { InteractionDeps } from '../interactions/types.ts';
import { csrfToken, verifyCsrf } from '../http/csrf.ts';
import { renderPage } from '../http/views.ts';
import { formBody } from '../http/requestBodies.ts';
import {
  acceptInvitation,
  confirmEmailChange,
  normalizedEmail,
  peekToken,
  resetPassword,
  verifyEmailWithLink,
  LINK_PATHS,
  type TokenPurpose,
  type TokenRefusal,
} from '../accounts/index.ts';
import { InvalidInputError } from '../errors/index.ts';
import { interactionContext } from '../interactions/login/serviceContext.ts';
import { giveSignInTicket } from '../interactions/login/signInTicket.ts';

const REFUSALS: Record<TokenRefusal | 'taken', { status: number; title: string; text: string }> = {
  invalid: {
    status: 400,
    title: 'This link is not valid',
    text: 'Check that you opened the whole link from the email, or ask for a new one.',
  },
  expired: { status: 410, title: 'This link has expired', text: 'Links in our emails work for a limited time. Ask for a new one.' },
  used: { status: 410, title: 'This link has already been used', text: 'Each link works once. If you still need to, ask for a new one.' },
  replaced: { status: 410, title: 'A newer link replaced this one', text: 'Use the link in the most recent email we sent you.' },
  revoked: { status: 410, title: 'This link was withdrawn', text: 'It no longer works. If you still need to, ask for a new one.' },
  taken: { status: 409, title: 'This address is taken', text: 'Another account uses this email address now. Nothing was changed.' },
};

async function message(ctx: Context, status: number, title: string, text: string, link?: { href: string; label: string }) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = await renderPage('message', { title, text, link });
}

const refuse = (ctx: Context, reason: keyof typeof REFUSALS) => {
  const r = REFUSALS[reason];
  return message(ctx, r.status, r.title, r.text);
};

interface LinkPage {
  purpose: TokenPurpose;
  path: string;
  heading: string;
  lead: string;
  button: string;
  /** The page asks for a new password. */
  password: boolean;
  /** Does what the link is for; returns nothing when it rendered the answer itself. */
  act(ctx: Context, deps: InteractionDeps, token: string, form: Record<string, unknown>): Promise<void>;
}

const csrfPurpose = (page: LinkPage) => `account-link:${page.purpose}`;

async function renderForm(ctx: Context, deps: InteractionDeps, page: LinkPage, token: string, error?: string, status = 200) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = await renderPage('link-form', {
    title: page.heading,
    heading: page.heading,
    lead: page.lead,
    action: page.path,
    token,
    password: page.password,
    minLength: deps.config.passwordMinLength,
    error,
    button: page.button,
    csrf: csrfToken(ctx, csrfPurpose(page)),
  });
}

/** Runs a password-setting action; a refused password shows the form again, with the link still good. */
async function withNewPassword(ctx: Context, deps: InteractionDeps, page: LinkPage, token: string, work: () => Promise<void>) {
  try {
    await work();
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    await renderForm(ctx, deps, page, token, error.fields[0]?.message ?? error.message, 400);
  }
}

const PAGES: LinkPage[] = [
  {
    purpose: 'verify_email',
    path: LINK_PATHS.verify_email,
    heading: 'Verify your email',
    lead: 'Confirm that this email address is yours.',
    button: 'Verify email',
    password: false,
    async act(ctx, deps, token) {
      const outcome = await verifyEmailWithLink(interactionContext(ctx, deps), token);
      if (!outcome.ok) return refuse(ctx, outcome.reason);
      await message(ctx, 200, 'Email verified', 'Thank you. If you were signing in, go back to that page and press Continue.');
    },
  },
  {
    purpose: 'password_reset',
    path: LINK_PATHS.password_reset,
    heading: 'Choose a new password',
    lead: 'You will be signed out everywhere else.',
    button: 'Set new password',
    password: true,
    async act(ctx, deps, token, form) {
      await withNewPassword(ctx, deps, this, token, async () => {
        const outcome = await resetPassword(interactionContext(ctx, deps), deps.accounts, token, form.password);
        if (!outcome.ok) return refuse(ctx, outcome.reason);
        // The owner is back in control: lift the sign-in lock and delays on their address.
        await deps.abuse.signIn.forgive(await normalizedEmail(deps.db, outcome.user.email));
        await message(ctx, 200, 'Password changed', 'Your password has been changed. Sign in with the new one.');
      });
    },
  },
  {
    purpose: 'invitation',
    path: LINK_PATHS.invitation,
    heading: 'Accept your invitation',
    lead: 'Choose a password to finish setting up your account.',
    button: 'Create my account',
    password: true,
    async act(ctx, deps, token, form) {
      await withNewPassword(ctx, deps, this, token, async () => {
        const outcome = await acceptInvitation(interactionContext(ctx, deps), deps.accounts, token, form.password);
        if (!outcome.ok) return refuse(ctx, outcome.reason);
        giveSignInTicket(ctx, outcome.signInTicket);
        const client = outcome.clientId ? await deps.provider().Client.find(outcome.clientId) : undefined;
        const start = client?.metadata().initiate_login_uri ?? client?.metadata().client_uri;
        if (typeof start === 'string') {
          ctx.status = 303;
          return ctx.redirect(start);
        }
        const where = client ? (client.clientName ?? client.clientId) : 'the application that invited you';
        await message(
          ctx,
          200,
          'Your account is ready',
          `You are signed in. Go back to ${where} and sign in: you will not be asked for your password again on this device for the next few minutes.`,
        );
      });
    },
  },
  {
    purpose: 'email_change',
    path: LINK_PATHS.email_change,
    heading: 'Confirm your new email',
    lead: 'Your account will use this address from now on.',
    button: 'Confirm new email',
    password: false,
    async act(ctx, deps, token) {
      const outcome = await confirmEmailChange(interactionContext(ctx, deps), deps.accounts, token);
      if (!outcome.ok) return refuse(ctx, outcome.reason);
      await message(ctx, 200, 'Email changed', `Your account now uses ${outcome.user.email}.`);
    },
  },
];

export function linkPages(router: Router, deps: InteractionDeps): void {
  for (const page of PAGES) {
    router.get(page.path, async (ctx) => {
      const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
      const link = await peekToken(deps.db, page.purpose, token);
      if (!link.ok) return refuse(ctx, link.reason);
      await renderForm(ctx, deps, page, token);
    });
    router.post(page.path, formBody, async (ctx) => {
      const form = ctx.request.body as Record<string, unknown>;
      verifyCsrf(ctx, csrfPurpose(page), form._csrf);
      const limit = await deps.abuse.linkUse.attempt(ctx.ip);
      if (!limit.allowed) {
        ctx.set('Retry-After', String(limit.retryAfterSeconds));
        return message(ctx, 429, 'Too many attempts', 'Too many links were tried from here. Wait a while and try again.');
      }
      await page.act(ctx, deps, typeof form.token === 'string' ? form.token : '', form);
    });
  }
}
