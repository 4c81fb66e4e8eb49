// A part of the Security page (passkeys, the authenticator app, recovery codes): what its box on
// the page shows, the messages its changes come back with, and its form handlers.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountAreaDeps } from '../types.ts';

export const SECURITY_PATH = '/account/security';

export interface SecurityPart {
  /** Its box on the page: views/account/security/<template>.ejs. */
  template: string;
  /** What its box shows for the signed-in user. */
  load(ctx: Context, deps: AccountAreaDeps): Promise<Record<string, unknown>>;
  /** What the page says after one of its changes, by the `done` value the change sends back. */
  notices: Record<string, string>;
  /** What the page says when one of its changes was refused, by the `problem` value. */
  problems?: Record<string, string>;
  /** Scripts its box needs. */
  scripts?: string[];
  routes(router: Router, deps: AccountAreaDeps): void;
}

/** Back to the Security page after a change, saying what happened. */
export function backToSecurity(ctx: Context, outcome: { done?: string; problem?: string } = {}): void {
  const query = new URLSearchParams(Object.entries(outcome).filter((entry): entry is [string, string] => Boolean(entry[1])));
  ctx.status = 303;
  ctx.redirect(query.size ? `${SECURITY_PATH}?${query}` : SECURITY_PATH);
}

const dateFormat = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeZone: 'UTC' });

/** A date as the page shows it (and as <time datetime> carries it). */
export const shownDate = (date: Date | null | undefined) =>
  date ? { iso: new Date(date).toISOString(), text: dateFormat.format(new Date(date)) } : undefined;
