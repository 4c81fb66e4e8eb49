// A sign-in ticket: after accepting an invitation the person is signed in without typing their
// new password again. The ticket is a one-time token (accounts/invitations.ts) kept in an
// httpOnly cookie of this browser for ten minutes; the next sign-in screen uses it up.
import type { Context } from 'koa';
import type { User } from '../../accounts/index.ts';

const COOKIE = 'gatehouse.sign_in_ticket';
const LIFETIME_MS = 10 * 60 * 1000;

export function giveSignInTicket(ctx: Context, ticket: string): void {
  ctx.cookies.set(COOKIE, ticket, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    maxAge: LIFETIME_MS,
    overwrite: true,
  });
}

/** The user the browser's ticket signs in, using it up; undefined without a good ticket. */
export async function takeSignInTicket(ctx: Context, use: (ticket: string) => Promise<User | undefined>): Promise<User | undefined> {
  const ticket = ctx.cookies.get(COOKIE, { signed: true });
  if (!ticket) return undefined;
  ctx.cookies.set(COOKIE, null, { signed: true, overwrite: true });
  return use(ticket);
}
