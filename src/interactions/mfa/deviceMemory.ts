// Remembering the browser once a sign-in reached the multi-factor level (src/mfa/devices.ts):
// its signed device cookie (kept, or made now) and a row for the account, with where the
// address is when a GeoIP database is configured (GEOIP_DATABASE, src/mfa/geo.ts).
import type { Context } from 'koa';
import type { InteractionDeps } from '../types.ts';
import { DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE_MS, newDeviceCookie, rememberDevice } from '../../mfa/devices.ts';
import { geoDatabase } from '../../mfa/geo.ts';

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
  const { geoipDatabase } = deps.config;
  await rememberDevice(deps.db, {
    userId,
    cookie,
    userAgent: ctx.get('User-Agent') || undefined,
    ip: ctx.ip,
    locate: geoipDatabase ? geoDatabase(geoipDatabase).locate : undefined,
  });
}
