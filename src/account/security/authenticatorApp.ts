// The authenticator app (TOTP): set it up (a QR code and the key to type, confirmed with a
// code from the app) and remove it. The page showing the key needs a recent sign-in as much as
// starting the set-up does: whoever reads the key holds the factor. The first second factor
// comes with recovery codes, shown once.
import type { Context } from 'koa';
import type { AccountAreaDeps } from '../types.ts';
import { confirmTotp, pendingTotpEnrolment, removeTotp, startTotpEnrolment, totpStatus, type TotpLabels } from '../../mfa/totp.ts';
import { recoveryCodesStatus } from '../../mfa/recoveryCodes.ts';
import { relyingParty } from '../../mfa/relyingParty.ts';
import { ConflictError, NotFoundError } from '../../errors/index.ts';
import { accountChangeContext, renderAccountPage, verifyAccountCsrf } from '../pages.ts';
import { requireRecentSignIn, signedInAccount } from '../recentSignIn.ts';
import { field, formBody } from '../../http/requestBodies.ts';
import { SECURITY_PATH, backToSecurity, shownDate, type SecurityPart } from './part.ts';
import { showNewRecoveryCodes } from './recoveryCodes.ts';

const APP_PATH = `${SECURITY_PATH}/authenticator-app`;
const CONFIRM_PATH = `${APP_PATH}/confirm`;
const REMOVE_PATH = `${APP_PATH}/remove`;

const labelsFor = (ctx: Context, deps: AccountAreaDeps): TotpLabels => ({
  accountName: signedInAccount(ctx).user.email,
  issuer: relyingParty(deps.config).name,
});

/** "ABCD EFGH …": the key in groups of four, easier to type. */
const grouped = (secret: string) => secret.replace(/(.{4})(?=.)/g, '$1 ');

async function showEnrolment(ctx: Context, deps: AccountAreaDeps, error?: string) {
  const { user } = signedInAccount(ctx);
  let enrolment: Awaited<ReturnType<typeof pendingTotpEnrolment>>;
  try {
    enrolment = await pendingTotpEnrolment(deps.db, { box: deps.box }, user.id, labelsFor(ctx, deps));
  } catch (caught) {
    if (caught instanceof NotFoundError) return backToSecurity(ctx);
    throw caught;
  }
  await renderAccountPage(ctx, 'authenticator-app', {
    title: 'Set up your authenticator app',
    status: error ? 400 : 200,
    qrDataUrl: enrolment.qrDataUrl,
    secret: grouped(enrolment.secret),
    action: CONFIRM_PATH,
    backPath: SECURITY_PATH,
    error,
  });
}

async function startEnrolment(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  requireRecentSignIn(ctx);
  try {
    await startTotpEnrolment(accountChangeContext(ctx, deps), { box: deps.box }, signedInAccount(ctx).user.id, labelsFor(ctx, deps));
  } catch (error) {
    if (error instanceof ConflictError) return backToSecurity(ctx, { problem: 'totp-exists' });
    throw error;
  }
  ctx.status = 303;
  ctx.redirect(APP_PATH);
}

async function confirmEnrolment(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  requireRecentSignIn(ctx, undefined, APP_PATH);
  const { user } = signedInAccount(ctx);
  let confirmed: boolean;
  try {
    confirmed = await confirmTotp(accountChangeContext(ctx, deps), { box: deps.box }, user.id, field(ctx, 'code'));
  } catch (error) {
    // Nothing pending (removed meanwhile), or confirmed already (the form sent twice).
    if (error instanceof NotFoundError) return backToSecurity(ctx);
    if (error instanceof ConflictError) return backToSecurity(ctx, { done: 'totp-added' });
    throw error;
  }
  if (!confirmed) return showEnrolment(ctx, deps, 'That code is not right. Enter the 6-digit code your app shows now.');
  if ((await recoveryCodesStatus(deps.db, user.id)).remaining === 0)
    return showNewRecoveryCodes(ctx, deps, { added: 'Your authenticator app is set up.' });
  backToSecurity(ctx, { done: 'totp-added' });
}

async function remove(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  requireRecentSignIn(ctx);
  try {
    await removeTotp(accountChangeContext(ctx, deps), signedInAccount(ctx).user.id);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  backToSecurity(ctx, { done: 'totp-removed' });
}

export const authenticatorAppPart: SecurityPart = {
  template: 'authenticator-app',
  async load(ctx, deps) {
    const status = await totpStatus(deps.db, signedInAccount(ctx).user.id);
    return { ...status, confirmedAt: shownDate(status.confirmedAt), startPath: APP_PATH, continuePath: APP_PATH, removePath: REMOVE_PATH };
  },
  notices: {
    'totp-added': 'Your authenticator app is set up. You will be asked for a code from it when you sign in.',
    'totp-removed': 'Your authenticator app was removed.',
  },
  problems: { 'totp-exists': 'You already have an authenticator app. Remove it before setting up another.' },
  routes(router, deps) {
    router.post(APP_PATH, formBody, (ctx) => startEnrolment(ctx, deps));
    router.get(APP_PATH, (ctx) => {
      requireRecentSignIn(ctx);
      return showEnrolment(ctx, deps);
    });
    router.post(CONFIRM_PATH, formBody, (ctx) => confirmEnrolment(ctx, deps));
    router.post(REMOVE_PATH, formBody, (ctx) => remove(ctx, deps));
  },
};
