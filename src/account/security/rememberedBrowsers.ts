// Remembered browsers: those that finished a multi-factor sign-in, where adaptive MFA does not
// ask for the second factor again (src/mfa/devices.ts). Forgetting one only makes its next
// sign-in stricter, so it needs no recent sign-in.
import type { Context } from 'koa';
import type { AccountAreaDeps } from '../types.ts';
import { DEVICE_COOKIE, forgetDevice, listDevices, recognisedDevice } from '../../mfa/devices.ts';
import { NotFoundError } from '../../errors/index.ts';
import { accountChangeContext, verifyAccountCsrf } from '../pages.ts';
import { signedInAccount } from '../recentSignIn.ts';
import { field, formBody } from '../../http/requestBodies.ts';
import { SECURITY_PATH, backToSecurity, shownDate, type SecurityPart } from './part.ts';

const BROWSERS_PATH = `${SECURITY_PATH}/browsers`;

async function forget(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  try {
    await forgetDevice(accountChangeContext(ctx, deps), signedInAccount(ctx).user.id, ctx.params.id);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  backToSecurity(ctx, { done: 'browser-forgotten' });
}

export const rememberedBrowsersPart: SecurityPart = {
  template: 'remembered-browsers',
  async load(ctx, deps) {
    const { user } = signedInAccount(ctx);
    const devices = await listDevices(deps.db, user.id);
    const current = await recognisedDevice(deps.db, user.id, ctx.cookies.get(DEVICE_COOKIE, { signed: true }));
    return {
      browsers: devices.map((d) => ({
        id: d.id,
        name: d.name,
        network: d.network,
        current: d.id === current?.id,
        lastSeenAt: shownDate(d.lastSeenAt),
      })),
      browsersPath: BROWSERS_PATH,
    };
  },
  notices: { 'browser-forgotten': 'The browser was forgotten. Its next sign-in asks for your second factor again.' },
  routes(router, deps) {
    router.post(`${BROWSERS_PATH}/:id/forget`, formBody, (ctx) => forget(ctx, deps));
  },
};
