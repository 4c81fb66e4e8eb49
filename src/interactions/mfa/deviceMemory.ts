// Remembering the browser once a sign-in reached the multi-factor level (src/mfa/devices.ts):
// its signed device cookie (kept, or made now) and a row for the account.
import type { Context } from 'koa';
import type { InteractionDeps } from '../types.ts';
import { DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE_MS, newDeviceCookie, rememberDevice } from '../../mfa/devices.ts';

export async function rememberBrowser(ctx: Context, deps: InteractionDeps, userId: string): Promise<void> {
  const cookie = ctx.cookies.get(DEVICE_COOKIE, { signed: true }) ?? newDeviceCookie();
  ctx.cookies.set(DEVICE_COOKIE, cookie, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    maxAge: DEVICE_COOKIE_MAX_AGE_MS,
    overwrite: true,
  });
  await rememberDevice(deps.db, { userId, cookie, userAgent: ctx.get('User-Agent') || undefined, ip: ctx.ip });
}
