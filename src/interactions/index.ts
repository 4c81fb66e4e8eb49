// Interaction routes: GET /interaction/:uid shows the screen of whichever step the interaction
// waits on; each step adds its own form handlers; abort ends the flow with access_denied.
import Router from '@koa/router';
import type Koa from 'koa';
import type { InteractionDeps } from './types.ts';
import { PIPELINE } from './pipeline.ts';
import { SIGN_IN_METHODS } from './methods/index.ts';
import { loadInteraction, formBody } from './interactionRequest.ts';
import { verifyCsrf } from '../http/csrf.ts';
import { accessDenied, finishInteraction } from './finish.ts';
import { UserFacingError } from '../http/errors.ts';
import type { Feature } from '../feature.ts';
import { sweepRateLimits } from '../abuse/index.ts';
import { accountDeps, sweepOneTimeTokens } from '../accounts/index.ts';
import { decoyCompare } from '../accounts/passwords/index.ts';
import { closeFlow, interactionFlow, sweepVerificationRecords } from '../verifications/index.ts';

export { interactionPrompts } from './pipeline.ts';
export type { InteractionDeps } from './types.ts';

export const interactionUrl = (uid: string) => `/interaction/${uid}`;

export const interactionsFeature: Feature = {
  name: 'interactions',
  paths: ['/interaction/*'],
  routes: ({ config, database, box, provider, abuse, mailer }) =>
    interactionRoutes({
      config,
      db: database.db,
      abuse,
      accounts: accountDeps(config, box, () => mailer.nudge()),
      provider,
    }).routes() as Koa.Middleware,
  // The decoy hash an unknown email is compared with is made now, not on the first such
  // sign-in (which would otherwise take twice as long as any other, and tell).
  start: async ({ config }) => {
    void decoyCompare('', config.bcryptCost).catch(() => {});
  },
  sweepers: [
    { name: 'rate limit counters', sweep: sweepRateLimits },
    { name: 'one-time tokens', sweep: (database) => sweepOneTimeTokens(database.db) },
    { name: 'verification records', sweep: (database) => sweepVerificationRecords(database.db) },
  ],
};

export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router();

  router.use('/interaction', async (ctx, next) => {
    // Interaction pages hold one-time state: never cache them.
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  router.get('/interaction/:uid', async (ctx) => {
    const interaction = await loadInteraction(ctx, deps);
    const step = PIPELINE.find((s) => s.name === interaction.prompt.name);
    if (!step) throw new UserFacingError(500, 'Something went wrong', 'This sign-in step is not available.');
    await step.render(ctx, interaction, deps);
  });

  router.post('/interaction/:uid/abort', formBody, async (ctx) => {
    const interaction = await loadInteraction(ctx, deps);
    verifyCsrf(ctx, `interaction:${interaction.uid}`, (ctx.request.body as Record<string, unknown>)._csrf);
    await closeFlow(deps.db, interactionFlow(interaction.uid));
    await finishInteraction(ctx, deps, accessDenied('End-User aborted interaction'));
  });

  for (const step of PIPELINE) step.routes(router, deps);
  for (const method of SIGN_IN_METHODS) method.routes(router, deps);
  return router;
}
