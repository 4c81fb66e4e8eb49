// Recovery codes: how many are left, and a new set that replaces the old. A set is seen once, in
// the answer to the request that made it (the account area is never cached), and never again:
// only digests are kept.
import type { Context } from 'koa';
import type { AccountAreaDeps } from '../types.ts';
import { generateRecoveryCodes, recoveryCodesStatus, RECOVERY_CODE_COUNT } from '../../mfa/recoveryCodes.ts';
import { accountChangeContext, renderAccountPage, verifyAccountCsrf } from '../pages.ts';
import { requireRecentSignIn, signedInAccount } from '../recentSignIn.ts';
import { field, formBody } from '../../http/requestBodies.ts';
import { SECURITY_PATH, shownDate, type SecurityPart } from './part.ts';

export const RECOVERY_CODES_PATH = `${SECURITY_PATH}/recovery-codes`;

/** Makes a new set and shows it, this once. */
export async function showNewRecoveryCodes(ctx: Context, deps: AccountAreaDeps, options: { added?: string } = {}): Promise<void> {
  const codes = await generateRecoveryCodes(accountChangeContext(ctx, deps), { box: deps.box }, signedInAccount(ctx).user.id);
  await renderAccountPage(ctx, 'recovery-codes', {
    title: 'Save your recovery codes',
    codes,
    added: options.added,
    backPath: SECURITY_PATH,
  });
}

// `after` says which new factor these codes come with (its page sent the person here).
const ADDED: Record<string, string> = { passkey: 'Your passkey was added.' };

async function regenerate(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  requireRecentSignIn(ctx);
  await showNewRecoveryCodes(ctx, deps, { added: ADDED[field(ctx, 'after')] });
}

export const recoveryCodesPart: SecurityPart = {
  template: 'recovery-codes',
  async load(ctx, deps) {
    const status = await recoveryCodesStatus(deps.db, signedInAccount(ctx).user.id);
    return {
      remaining: status.remaining,
      total: RECOVERY_CODE_COUNT,
      generatedAt: shownDate(status.generatedAt),
      action: RECOVERY_CODES_PATH,
    };
  },
  notices: {},
  routes(router, deps) {
    router.post(RECOVERY_CODES_PATH, formBody, (ctx) => regenerate(ctx, deps));
  },
};
