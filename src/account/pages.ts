// Renders the account area's pages inside views/account/layout.ejs: a header with who is signed
// in and "Sign out", the navigation built from the sections (sections.ts), and the page. Forms
// carry a CSRF token bound to the signed-in user.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Context } from 'koa';
import ejs from 'ejs';
import { csrfToken, verifyCsrf } from '../http/csrf.ts';
import type { ServiceContext } from '../changes/index.ts';
import type { AccountAreaDeps } from './types.ts';
import { signedInAccount } from './recentSignIn.ts';
import { SIGN_OUT_PATH } from './paths.ts';

const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));
const OPTIONS = { cache: true, async: true, root: VIEWS_DIR };

/** A link of the navigation, as the router lists the sections for this request. */
export interface NavLink {
  label: string;
  path: string;
  current: boolean;
}

/** Sign-out is posted from every page, signed in or not: its token is bound to no user. */
export const SIGN_OUT_CSRF_PURPOSE = 'account:sign-out';

const csrfPurpose = (ctx: Context) => `account:${signedInAccount(ctx).user.id}`;

/** The token for a form of the account area. */
export const accountCsrf = (ctx: Context) => csrfToken(ctx, csrfPurpose(ctx));

/** Refuses a form (or JSON request) of the account area without the signed-in user's token. */
export const verifyAccountCsrf = (ctx: Context, presented: unknown) => verifyCsrf(ctx, csrfPurpose(ctx), presented);

export interface AccountPage {
  title: string;
  status?: number;
  /** Scripts the page needs (served from /static; no inline script passes the CSP). */
  scripts?: string[];
  [key: string]: unknown;
}

/** Renders views/account/<template>.ejs in the account layout. */
export async function renderAccountPage(ctx: Context, template: string, page: AccountPage): Promise<void> {
  const { user } = signedInAccount(ctx);
  const data = { scripts: [], ...page, csrf: accountCsrf(ctx) };
  const body = await ejs.renderFile(join(VIEWS_DIR, 'account', `${template}.ejs`), data, OPTIONS);
  ctx.status = page.status ?? 200;
  ctx.type = 'html';
  ctx.body = await ejs.renderFile(
    join(VIEWS_DIR, 'account', 'layout.ejs'),
    {
      ...data,
      body,
      email: user.email,
      nav: (ctx.state.accountNav ?? []) as NavLink[],
      signOut: { action: SIGN_OUT_PATH, csrf: csrfToken(ctx, SIGN_OUT_CSRF_PURPOSE) },
    },
    OPTIONS,
  );
}

/** The ServiceContext of a change the signed-in person makes to their own account. */
export function accountChangeContext(ctx: Context, deps: Pick<AccountAreaDeps, 'db' | 'config'>): ServiceContext {
  const { user } = signedInAccount(ctx);
  return { db: deps.db, actor: { type: 'user', id: user.id }, source: deps.config.issuer, requestId: ctx.state.requestId, ip: ctx.ip };
}
