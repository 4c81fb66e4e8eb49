// "Sign in another way": the person asks for the sign-in screen itself, with every way it offers.
// A relying party that named a connection (connection=, idp_hint=) has the login prompt skip that
// screen and go straight to the provider (the upstream method's preempt); after a trip there that
// failed or was cancelled, the same address would only send the person back to the same
// provider. The links that lead back to the screen carry this flag, and the login prompt shows
// the screen for it instead of preempting.
//
// It takes nothing away: the relying party's pick is a shortcut, not a requirement (a person may
// drop it from the authorization request as easily), and the screen asks for every proof it
// always asks for. It is read from the interaction's own address, never from the authorization
// request, so a relying party cannot set it; anyone else who does only shows the person the screen.
import type { Context } from 'koa';

const ANOTHER_WAY = 'another_way';

/** The sign-in screen of this interaction, even when the relying party picked a way in. */
export const anotherWayPath = (uid: string) => `/interaction/${uid}?${ANOTHER_WAY}=1`;

/** Whether the person asked for the sign-in screen rather than the way the relying party picked. */
export const asksForAnotherWay = (ctx: Context) => ctx.query[ANOTHER_WAY] === '1';
