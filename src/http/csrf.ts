// CSRF protection for our forms: a random per-browser secret in an httpOnly cookie, and per form
// a token = HMAC(secret, purpose). A cross-site page can neither read the cookie nor compute the
// token, and a token for one interaction is useless for another.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

const COOKIE = 'gatehouse.csrf';

export class CsrfError extends Error {
  constructor() {
    super('The form could not be verified');
    this.name = 'CsrfError';
  }
}

function browserSecret(ctx: Context, create: boolean): string | undefined {
  let secret = ctx.cookies.get(COOKIE, { signed: true });
  if (!secret && create) {
    secret = randomBytes(32).toString('base64url');
    ctx.cookies.set(COOKIE, secret, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, overwrite: true });
  }
  return secret;
}

const tokenFor = (secret: string, purpose: string) => createHmac('sha256', secret).update(purpose).digest('base64url');

/** The token to embed in a form that will be posted for `purpose`. */
export function csrfToken(ctx: Context, purpose: string): string {
  return tokenFor(browserSecret(ctx, true) as string, purpose);
}

export function verifyCsrf(ctx: Context, purpose: string, presented: unknown): void {
  const secret = browserSecret(ctx, false);
  if (!secret || typeof presented !== 'string') throw new CsrfError();
  const expected = Buffer.from(tokenFor(secret, purpose));
  const actual = Buffer.from(presented);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw new CsrfError();
}
