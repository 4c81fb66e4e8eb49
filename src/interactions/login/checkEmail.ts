// The "check your email" screen of a sign-in: after a sign-up, or when someone whose address is
// not verified signs in to a client that requires it. The person types the 6-digit code from the
// email (or follows its link, on any device, then presses Continue here), and the sign-in goes on.
//
// Which address the screen is about travels in a signed cookie bound to the interaction, never
// in the form. After a sign-up for an address that already has an account, the screen is the
// same (the owner got a notice instead of a code): a code then never works, and nothing on the
// screen tells the two apart.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { UserFacingError } from '../../http/errors.ts';
import { loadInteraction, requirePrompt, formBody } from '../interactionRequest.ts';
import { finishInteraction } from '../finish.ts';
import type { InteractionDeps, InteractionDetails } from '../types.ts';
import {
  findUserByEmail,
  normalizedEmail,
  sendVerificationEmail,
  verificationCoolDown,
  verifyEmailWithCode,
  verifiedDuring,
  type User,
} from '../../accounts/index.ts';
import { audit } from '../../audit/index.ts';
import { interactionContext } from './serviceContext.ts';

const COOKIE = 'gatehouse.pending_email';

/** Remembers, for this browser and this sign-in, which address the screen is about. */
export function rememberPendingEmail(ctx: Context, uid: string, email: string): void {
  ctx.cookies.set(COOKIE, JSON.stringify([uid, email]), {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    overwrite: true,
    path: `/interaction/${uid}`,
  });
}

function pendingEmail(ctx: Context, uid: string): string | undefined {
  const raw = ctx.cookies.get(COOKIE, { signed: true });
  if (!raw) return undefined;
  try {
    const [boundTo, email] = JSON.parse(raw) as [string, string];
    return boundTo === uid && typeof email === 'string' ? email : undefined;
  } catch {
    return undefined;
  }
}

interface CheckEmailScreen {
  error?: string;
  notice?: string;
  status?: number;
}

export async function renderCheckEmail(ctx: Context, interaction: InteractionDetails, email: string, screen: CheckEmailScreen = {}) {
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('check-email', {
    title: 'Check your email',
    uid: interaction.uid,
    email,
    error: screen.error,
    notice: screen.notice,
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

/** Where the screen is: a POST that leads to it answers 303 here, so reloading it sends nothing again. */
export const checkEmailUrl = (uid: string) => `/interaction/${uid}/verify-email`;

export function showCheckEmail(ctx: Context, uid: string, email: string): void {
  rememberPendingEmail(ctx, uid, email);
  ctx.status = 303;
  ctx.redirect(checkEmailUrl(uid));
}

/**
 * Sends a verification email for this sign-in unless one went out within the cool-down, then
 * shows the screen. Used when an unverified user signs in to a client that requires it.
 */
export async function askToVerify(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, user: User): Promise<void> {
  if (
    (await verificationCoolDown(deps.db, user.id)) === 0 &&
    (await deps.abuse.mailToAddress.attempt(await normalizedEmail(deps.db, user.email))).allowed
  ) {
    await sendVerificationEmail(interactionContext(ctx, deps), deps.accounts, user, {
      interaction: interaction.uid,
      client_id: String(interaction.params.client_id),
    });
  }
  showCheckEmail(ctx, interaction.uid, user.email);
}

async function pendingScreen(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'login');
  const form = ctx.request.body as Record<string, unknown>;
  verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
  const email = pendingEmail(ctx, interaction.uid);
  return { interaction, form, email };
}

// The screen's cookie is gone (another browser, or cleared): nothing to go on with.
const SIGN_IN_EXPIRED = new UserFacingError(400, 'This sign-in has expired', 'Return to the application and start again.');

const signInWith = (user: User) => ({ login: { accountId: user.id, amr: ['pwd'], remember: true } });

export function checkEmailRoutes(router: Router, deps: InteractionDeps): void {
  router.get('/interaction/:uid/verify-email', async (ctx) => {
    const interaction = await loadInteraction(ctx, deps);
    requirePrompt(interaction, 'login');
    const email = pendingEmail(ctx, interaction.uid);
    if (!email) {
      ctx.status = 303;
      return ctx.redirect(`/interaction/${interaction.uid}`);
    }
    await renderCheckEmail(ctx, interaction, email, { notice: `We sent a code and a link to ${email}. It can take a minute to arrive.` });
  });

  router.post('/interaction/:uid/verify-email', formBody, async (ctx) => {
    const { interaction, form, email } = await pendingScreen(ctx, deps);
    if (!email) throw SIGN_IN_EXPIRED;
    const limit = await deps.abuse.codeEntry.attempt(ctx.ip);
    if (!limit.allowed) {
      ctx.set('Retry-After', String(limit.retryAfterSeconds));
      return renderCheckEmail(ctx, interaction, email, {
        error: 'Too many codes tried. Wait a while, or use the link in the email.',
        status: 429,
      });
    }
    const user = await findUserByEmail(deps.db, email);
    const verified = user
      ? await verifyEmailWithCode(interactionContext(ctx, deps), deps.accounts, user.id, form.code, interaction.uid)
      : undefined;
    if (!verified) {
      return renderCheckEmail(ctx, interaction, email, {
        error: 'That code is not right, or it has expired. Check the latest email we sent, or send a new code.',
        status: 400,
      });
    }
    await finishInteraction(ctx, deps, signInWith(verified));
  });

  router.post('/interaction/:uid/verify-email/resend', formBody, async (ctx) => {
    const { interaction, email } = await pendingScreen(ctx, deps);
    if (!email) throw SIGN_IN_EXPIRED;
    const notice = 'If you can continue with this address, a new email is on its way.';
    const user = await findUserByEmail(deps.db, email);
    const wait = user ? await verificationCoolDown(deps.db, user.id) : 0;
    if (wait > 0) {
      ctx.set('Retry-After', String(wait));
      return renderCheckEmail(ctx, interaction, email, { error: `Wait ${wait} seconds before asking for another email.`, status: 429 });
    }
    if ((await deps.abuse.mailToAddress.attempt(await normalizedEmail(deps.db, email))).allowed && user && !user.email_verified) {
      await sendVerificationEmail(interactionContext(ctx, deps), deps.accounts, user, {
        interaction: interaction.uid,
        client_id: String(interaction.params.client_id),
      });
    } else if (user) {
      await audit(deps.db, { type: 'user.verification_sent', userId: user.id, requestId: ctx.state.requestId, details: { sent: false } });
    }
    return renderCheckEmail(ctx, interaction, email, { notice });
  });

  // After following the link (perhaps on another device): go on if this sign-in's address is
  // now verified by a token issued for this very sign-in.
  router.post('/interaction/:uid/verify-email/continue', formBody, async (ctx) => {
    const { interaction, email } = await pendingScreen(ctx, deps);
    if (!email) throw SIGN_IN_EXPIRED;
    const user = await findUserByEmail(deps.db, email);
    const provenHere = user?.email_verified && (await verifiedDuring(deps.db, user.id, interaction.uid));
    if (!user || !provenHere || user.suspended_at) {
      return renderCheckEmail(ctx, interaction, email, {
        error: 'Your email is not verified yet. Enter the code from the email, or follow its link, then continue.',
        status: 400,
      });
    }
    await finishInteraction(ctx, deps, signInWith(user));
  });
}
