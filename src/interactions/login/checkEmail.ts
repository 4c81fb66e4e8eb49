// The "check your email" screen of a sign-in: after a sign-up, or when someone whose address is
// not verified signs in to a client that requires it. The person types the 6-digit code from the
// email (or follows its link, on any device, then presses Continue here), and the sign-in goes on.
//
// What the screen may finish is kept in a cookie sealed with SECRET_KEY and bound to the
// interaction (a pending sign-in): the address, the account this sign-in proved (it created it,
// or checked its password) and a fingerprint of that password. A code or a followed link then
// finishes the sign-in only for that account, only while its password is unchanged (an owner's
// reset voids what someone else started), and a link only for the sign-in it was sent for.
// After a sign-up for an address that already had an account the pending sign-in is a decoy of
// the same shape; nothing on the screen, in its answers or in the cookie tells the two apart.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { countSignIn } from '../../profile/service.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { UserFacingError } from '../../http/errors.ts';
import { loadInteraction, requirePrompt, formBody } from '../interactionRequest.ts';
import { finishInteraction } from '../finish.ts';
import { rememberBrowser } from '../mfa/deviceMemory.ts';
import type { InteractionDeps, InteractionDetails } from '../types.ts';
import {
  continueAfterLink,
  findUserById,
  normalizedEmail,
  signInFingerprint,
  sendVerificationEmail,
  verificationCoolDown,
  verifyEmailWithCode,
  RESEND_COOL_DOWN_SECONDS,
  type User,
} from '../../accounts/index.ts';
import { SealedSecretError } from '../../secrets/secretBox.ts';
import { interactionContext } from './serviceContext.ts';
import { mayFinishSignIn } from './signInRules.ts';
import { acrOfAmr } from '../../mfa/levels.ts';

export const PENDING_SIGN_IN_COOKIE = 'gatehouse.pending_sign_in';

export interface PendingSignIn {
  email: string;
  userId: string;
  /** Of the password the sign-in proved, or of the account having none (selfServiceDeps.ts). */
  passwordFingerprint: string;
  /** What the sign-in proved before the email (RFC 8176): the code then finishes it with these. */
  amr: string[];
  /** The sign-in made a passkey on the way (a passkey sign-up): this browser is then its owner's. */
  factorAdded?: boolean;
  /** When the last email for this sign-in went out (ms): the re-send cool-down counts from here. */
  sentAt: number;
}

export const pendingSignInSealContext = (uid: string) => ({ table: 'cookies', rowId: uid, purpose: 'pending_sign_in' });

function rememberPending(ctx: Context, deps: InteractionDeps, uid: string, pending: PendingSignIn): void {
  ctx.cookies.set(PENDING_SIGN_IN_COOKIE, deps.accounts.box.seal(JSON.stringify(pending), pendingSignInSealContext(uid)), {
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    overwrite: true,
    path: `/interaction/${uid}`,
  });
}

function readPending(ctx: Context, deps: InteractionDeps, uid: string): PendingSignIn | undefined {
  const sealed = ctx.cookies.get(PENDING_SIGN_IN_COOKIE);
  if (!sealed) return undefined;
  try {
    return JSON.parse(deps.accounts.box.open(sealed, pendingSignInSealContext(uid))) as PendingSignIn;
  } catch (error) {
    if (error instanceof SealedSecretError || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * The account a pending sign-in proved, while it still stands: same password, same address (as
 * stored: the pending sign-in took it from the account, so any change to it voids the sign-in).
 */
async function provenAccount(deps: InteractionDeps, pending: PendingSignIn): Promise<User | undefined> {
  const user = await findUserById(deps.db, pending.userId);
  if (!user || signInFingerprint(user) !== pending.passwordFingerprint) return undefined;
  return user.email === pending.email ? user : undefined;
}

interface CheckEmailScreen {
  error?: string;
  notice?: string;
  status?: number;
}

async function renderCheckEmail(ctx: Context, interaction: InteractionDetails, email: string, screen: CheckEmailScreen = {}) {
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

/** Keeps the pending sign-in and sends the browser to the screen. */
export function showCheckEmail(ctx: Context, deps: InteractionDeps, uid: string, pending: Omit<PendingSignIn, 'sentAt'>): void {
  rememberPending(ctx, deps, uid, { ...pending, sentAt: Date.now() });
  ctx.status = 303;
  ctx.redirect(checkEmailUrl(uid));
}

const verificationData = (interaction: InteractionDetails) => ({
  interaction: interaction.uid,
  client_id: String(interaction.params.client_id),
});

/**
 * The password of an unverified user was right, for a client that requires a verified address:
 * a code and link go out (unless one did within the cool-down), and the screen asks for them.
 */
export async function askToVerify(
  ctx: Context,
  interaction: InteractionDetails,
  deps: InteractionDeps,
  user: User,
  amr: string[],
): Promise<void> {
  const address = await normalizedEmail(deps.db, user.email);
  if ((await verificationCoolDown(deps.db, user.id)) === 0 && (await deps.abuse.mailToAddress.attempt(address)).allowed) {
    await sendVerificationEmail(interactionContext(ctx, deps), deps.accounts, user, verificationData(interaction));
  }
  showCheckEmail(ctx, deps, interaction.uid, {
    email: user.email,
    userId: user.id,
    passwordFingerprint: signInFingerprint(user),
    amr,
  });
}

// The screen's cookie is gone (another browser, or cleared): nothing to go on with.
const SIGN_IN_EXPIRED = new UserFacingError(400, 'This sign-in has expired', 'Return to the application and start again.');

async function pendingScreen(ctx: Context, deps: InteractionDeps, form = true) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'login');
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  if (form) verifyCsrf(ctx, `interaction:${interaction.uid}`, body._csrf);
  const pending = readPending(ctx, deps, interaction.uid);
  if (!pending) throw SIGN_IN_EXPIRED;
  return { interaction, form: body, pending };
}

// Pending sign-ins sealed before they carried an amr were all password sign-ins.
const signInWith = (user: User, pending: PendingSignIn) => {
  const amr = pending.amr ?? ['pwd'];
  return { login: { accountId: user.id, amr, acr: acrOfAmr(amr), remember: true } };
};

const WRONG_CODE = 'That code is not right, or it has expired. Check the latest email we sent, or send a new code.';
const NOT_YET = 'Your email is not verified yet. Enter the code from the email, or follow its link, then continue.';

export function checkEmailRoutes(router: Router, deps: InteractionDeps): void {
  router.get('/interaction/:uid/verify-email', async (ctx) => {
    const { interaction, pending } = await pendingScreen(ctx, deps, false);
    await renderCheckEmail(ctx, interaction, pending.email, {
      notice: `We sent a code and a link to ${pending.email}. It can take a minute to arrive.`,
    });
  });

  router.post('/interaction/:uid/verify-email', formBody, async (ctx) => {
    const { interaction, form, pending } = await pendingScreen(ctx, deps);
    const limit = await deps.abuse.codeEntry.attempt(ctx.ip);
    if (!limit.allowed) {
      ctx.set('Retry-After', String(limit.retryAfterSeconds));
      return renderCheckEmail(ctx, interaction, pending.email, {
        error: 'Too many codes tried. Wait a while, or use the link in the email.',
        status: 429,
      });
    }
    const user = await provenAccount(deps, pending);
    const verified = user
      ? await verifyEmailWithCode(interactionContext(ctx, deps), deps.accounts, user.id, form.code, interaction.uid)
      : undefined;
    if (!verified || !mayFinishSignIn(verified))
      return renderCheckEmail(ctx, interaction, pending.email, { error: WRONG_CODE, status: 400 });
    // The browser that made the account (and its passkey) is its owner's: not asked for it at once.
    if (pending.factorAdded) await rememberBrowser(ctx, deps, verified.id);
    await countSignIn(deps.db, verified.id);
    await finishInteraction(ctx, deps, signInWith(verified, pending));
  });

  // The cool-down counts from this sign-in's last email, never from the account's, so its answer
  // is the same whether or not the address had an account.
  router.post('/interaction/:uid/verify-email/resend', formBody, async (ctx) => {
    const { interaction, pending } = await pendingScreen(ctx, deps);
    const wait = Math.ceil((pending.sentAt + RESEND_COOL_DOWN_SECONDS * 1000 - Date.now()) / 1000);
    if (wait > 0) {
      ctx.set('Retry-After', String(wait));
      return renderCheckEmail(ctx, interaction, pending.email, {
        error: `Wait ${wait} second${wait === 1 ? '' : 's'} before asking for another email.`,
        status: 429,
      });
    }
    const allowed = (await deps.abuse.mailToAddress.attempt(await normalizedEmail(deps.db, pending.email))).allowed;
    const user = await provenAccount(deps, pending);
    if (allowed && user && !user.email_verified) {
      await sendVerificationEmail(interactionContext(ctx, deps), deps.accounts, user, verificationData(interaction));
    }
    rememberPending(ctx, deps, interaction.uid, { ...pending, sentAt: Date.now() });
    return renderCheckEmail(ctx, interaction, pending.email, {
      notice: 'If you can continue with this address, a new email is on its way.',
    });
  });

  // After following the link (perhaps on another device): the link sent for this very sign-in
  // was followed, and it finishes the sign-in once.
  router.post('/interaction/:uid/verify-email/continue', formBody, async (ctx) => {
    const { interaction, pending } = await pendingScreen(ctx, deps);
    const user = await provenAccount(deps, pending);
    const followed = user?.email_verified && mayFinishSignIn(user) && (await continueAfterLink(deps.db, user.id, interaction.uid));
    if (!user || !followed) return renderCheckEmail(ctx, interaction, pending.email, { error: NOT_YET, status: 400 });
    if (pending.factorAdded) await rememberBrowser(ctx, deps, user.id);
    await countSignIn(deps.db, user.id);
    await finishInteraction(ctx, deps, signInWith(user, pending));
  });
}
