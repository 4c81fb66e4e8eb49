// /healthz says the process is up; /readyz says it can serve, i.e. the database answers.
import Router from '@koa/router';
import type Koa from 'koa';
import type { Db } from '../db/index.ts';
import type { Feature } from '../feature.ts';
import { respondWithError } from './errors.ts';

export const healthFeature: Feature = {
  name: 'health checks',
  paths: ['/healthz', '/readyz'],
  routes: ({ database }) => healthRoutes(database.db).routes() as Koa.Middleware,
};

export function healthRoutes(db: Db): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await db.raw('select 1').timeout(2000, { cancel: false });
      ctx.body = { status: 'ready' };
    } catch {
      await respondWithError(ctx, { status: 503, title: 'Not ready', detail: 'The database is not answering.' });
    }
  });
  return router;
}
