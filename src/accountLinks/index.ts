// The account pages reached from emails (verify, reset, invitation, email change) and the
// stand-alone "forgot password" page. They live outside any sign-in: a link may be opened on
// another device, days later.
import Router from '@koa/router';
import type Koa from 'koa';
import type { Feature } from '../feature.ts';
import { FORGOT_PASSWORD_PATH, LINK_PATHS, accountDeps } from '../accounts/index.ts';
import { linkPages } from './linkPages.ts';
import { forgotPasswordPage } from './forgotPassword.ts';

export const accountLinksFeature: Feature = {
  name: 'account links',
  // Exact paths: the rest of /account is left for the self-service account area.
  paths: [...Object.values(LINK_PATHS), FORGOT_PASSWORD_PATH],
  routes({ config, database, box, provider, abuse, mailer }) {
    const deps = { config, db: database.db, abuse, accounts: accountDeps(config, box, () => mailer.nudge()), provider };
    const router = new Router();
    router.use('/account', async (ctx, next) => {
      // Pages behind one-time links: never cached, never sent on as a referrer.
      ctx.set('Cache-Control', 'no-store');
      await next();
    });
    linkPages(router, deps);
    forgotPasswordPage(router, deps);
    return router.routes() as Koa.Middleware;
  },
};
